"""Slow local servers for the monkey-patching tests, on real threads.

Each server answers after ``DELAY`` seconds, so N clients that cooperate
finish in about ``DELAY`` seconds and N clients that block take N times as
long. All bind 127.0.0.1 only.
"""

from __future__ import annotations

import http.server
import socketserver
import ssl
import sys
import threading
import time
import xmlrpc.server

__all__ = ["DELAY", "start_http", "start_https", "start_smtp", "start_xmlrpc", "Servers"]

DELAY = 0.5


class _HTTPHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(DELAY if self.path.startswith("/delay") else 0)
        body = b"ok " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _ThreadingHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def handle(self):
        time.sleep(DELAY)
        self._send("220 localhost test SMTP ready")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if cmd == "EHLO":
                self._send("250-localhost\r\n250 8BITMIME")
            elif cmd in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                self._send("250 OK")
            elif cmd == "DATA":
                self._send("354 end with .")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                self._send("250 OK queued")
            elif cmd == "QUIT":
                self._send("221 bye")
                return
            else:
                self._send("502 not implemented")

    def _send(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()


class _ThreadingTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _XMLRPCServer(socketserver.ThreadingMixIn, xmlrpc.server.SimpleXMLRPCServer):
    daemon_threads = True
    request_queue_size = 128


def _quiet_handle_error(self, request, client_address):
    # Clients of killed scenarios hang up mid-answer: not worth a traceback.
    if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
        socketserver.BaseServer.handle_error(self, request, client_address)


for _cls in (_ThreadingHTTPServer, _ThreadingTCPServer, _XMLRPCServer):
    _cls.handle_error = _quiet_handle_error


def _serve(server):
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    return server


def start_http():
    return _serve(_ThreadingHTTPServer(("127.0.0.1", 0), _HTTPHandler))


def start_smtp():
    return _serve(_ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler))


def _slow_double(x):
    time.sleep(DELAY)
    return 2 * x


def start_xmlrpc():
    server = _XMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
    server.register_function(_slow_double, "slow_double")
    return _serve(server)


class Servers:
    """All three servers; ``env()`` gives their addresses for a subprocess."""

    def __init__(self):
        self.http = start_http()
        self.smtp = start_smtp()
        self.xmlrpc = start_xmlrpc()

    def env(self):
        return {
            "HTTP_URL": "http://127.0.0.1:%d" % self.http.server_address[1],
            "SMTP_PORT": str(self.smtp.server_address[1]),
            "XMLRPC_URL": "http://127.0.0.1:%d" % self.xmlrpc.server_address[1],
        }

    def close(self):
        for s in (self.http, self.smtp, self.xmlrpc):
            s.shutdown()
            s.server_close()


def start_https(cert_dir):
    """An HTTPS version of the slow HTTP server, with a trustme CA; returns
    (server, ca_pem_path)."""
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = f"{cert_dir}/ca.pem"
    ca.cert_pem.write_to_path(ca_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)

    class _TLSServer(_ThreadingHTTPServer):
        def get_request(self):
            sock, addr = super().get_request()
            return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    class _TLSHandler(_HTTPHandler):
        def setup(self):
            self.request.settimeout(10)
            self.request.do_handshake()
            super().setup()

    return _serve(_TLSServer(("127.0.0.1", 0), _TLSHandler)), ca_path
