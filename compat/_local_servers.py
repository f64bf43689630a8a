"""Loopback stand-ins for the Internet that gevent's examples expect.

Plain threads and stdlib sockets only (no gevent, no coopshell), each bound to
127.0.0.1 (or a unix socket), each serving until the driver process exits:
an HTTP server for ``concurrent_download`` and ``webproxy``, a DNS server for
``dns_mass_resolve``, a UDP and a TCP echo server, and a unix-socket greeter.
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import struct
import threading

__all__ = ["http_server", "dns_server", "udp_echo", "tcp_echo", "unix_greeter", "PAGE"]

PAGE = b"<html><head><title>compat local page</title></head><body>" + b"x" * 2000 + \
       b"</body></html>"


def _serve(server) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (stdlib name)
        body = PAGE.replace(b"compat local page", self.path.encode("latin-1", "replace"))
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def http_server() -> int:
    """Serve a small HTML page at every path; returns the port."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _serve(srv)
    return srv.server_address[1]


def _dns_answer(query: bytes) -> bytes:
    """Answer A queries for NN.com with 127.0.0.1 (odd NN: NXDOMAIN); nothing else."""
    ident, _flags, qd = struct.unpack("!HHH", query[:6])
    pos, labels = 12, []
    while query[pos]:
        n = query[pos]
        labels.append(query[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    qtype, _qclass = struct.unpack("!HH", query[pos + 1:pos + 5])
    question = query[12:pos + 5]
    first = labels[0] if labels else ""
    if not first.isdigit():
        rcode, answers = 3, b""
    elif int(first) % 2:
        rcode, answers = 3, b""
    elif qtype == 1:
        rcode = 0
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    else:
        rcode, answers = 0, b""
    flags = 0x8180 | rcode
    return struct.pack("!HHHHHH", ident, flags, qd, 1 if answers else 0, 0, 0) + question + answers


def dns_server(port: int = 53) -> None:
    """A UDP DNS responder on 127.0.0.1:port (inside the driver's network namespace)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))

    def loop():
        while True:
            data, addr = sock.recvfrom(512)
            try:
                sock.sendto(_dns_answer(data), addr)
            except (IndexError, struct.error):
                continue

    threading.Thread(target=loop, daemon=True).start()


def udp_echo(port: int, seen: list) -> None:
    """Answer each datagram with ``b'echo: ' + data``; records what arrived."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))

    def loop():
        while True:
            data, addr = sock.recvfrom(8192)
            seen.append(data)
            sock.sendto(b"echo: " + data, addr)

    threading.Thread(target=loop, daemon=True).start()


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(4096)
            if not data:
                return
            self.request.sendall(data)


def tcp_echo(port: int) -> None:
    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
    _serve(Server(("127.0.0.1", port), _Echo))


def unix_greeter(path: str, seen: list) -> None:
    """A unix-socket server that reads one message and answers with a greeting."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(5)

    def loop():
        while True:
            conn, _ = sock.accept()
            with conn:
                conn.settimeout(10)
                try:
                    seen.append(conn.recv(1024))
                    conn.sendall(b"hello from the compat unix server")
                except OSError:
                    pass

    threading.Thread(target=loop, daemon=True).start()
