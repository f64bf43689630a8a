"""Helpers for the pywsgi tests: a server fixture body, a raw HTTP/1.1
connection that reads responses one at a time from a shared buffer, and
running a blocking client (http.client, requests, urllib3) in the hub's
thread pool so the server keeps serving meanwhile."""

from __future__ import annotations

import io

import pytest

import coopshell as co
from coopshell import socket as cs
from coopshell.pywsgi import WSGIServer


def start(app, **kwargs):
    """A started WSGIServer on 127.0.0.1 with its logs in StringIOs."""
    kwargs.setdefault("log", io.StringIO())
    kwargs.setdefault("error_log", io.StringIO())
    srv = WSGIServer(("127.0.0.1", 0), app, **kwargs)
    srv.start()
    return srv


def in_thread(func, *args, **kwargs):
    """Run a blocking client call in a real thread; the hub serves meanwhile."""
    return co.get_hub().threadpool.spawn(func, *args, **kwargs).get(timeout=30)


class Response:
    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.headers = headers            # list of (lower-case name, value)
        self.body = body
        self.version = version

    def header(self, name, default=None):
        for n, v in self.headers:
            if n == name.lower():
                return v
        return default


class Raw:
    """A client connection speaking raw bytes."""

    def __init__(self, address, timeout=10):
        self.sock = cs.create_connection(address, timeout=timeout)
        self.buf = b""

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self) -> bytes:
        try:
            while True:
                self._fill()
        except EOFError:
            pass
        out, self.buf = self.buf, b""
        return out

    def closed_by_peer(self) -> bool:
        """True if the server closed the connection (after any buffered bytes)."""
        if self.buf:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def response(self, method="GET") -> Response:
        head = self.read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = []
        for line in lines[1:]:
            if line:
                n, _, v = line.partition(":")
                headers.append((n.strip().lower(), v.strip()))
        resp = Response(int(status), reason, headers, b"", version)
        if method == "HEAD" or resp.status in (204, 304) or resp.status < 200:
            return resp
        if resp.header("transfer-encoding") == "chunked":
            parts = []
            while True:
                size = int(self.read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self.read_until(b"\r\n")
                    break
                parts.append(self.read_exact(size))
                assert self.read_exact(2) == b"\r\n"
            resp.body = b"".join(parts)
        elif resp.header("content-length") is not None:
            resp.body = self.read_exact(int(resp.header("content-length")))
        else:
            resp.body = self.read_to_eof()
        return resp

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def request(address, data: bytes, method="GET") -> Response:
    with Raw(address) as c:
        c.send(data)
        return c.response(method)


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


@pytest.fixture
def serve():
    """Start WSGI servers for one test (``serve(app, **kwargs)``) and stop them after it."""
    servers = []

    def _serve(app, **kwargs):
        srv = start(app, **kwargs)
        servers.append(srv)
        return srv
    yield _serve
    for srv in servers:
        srv.stop(timeout=1)


def trickle_head(c, start_line: bytes = b"GET / HTTP/1.1\r\nX-Slow: ") -> None:
    """Send a request head a byte every 50 ms until the server answers or hangs up."""
    c.send(start_line)
    for _ in range(400):
        try:
            c.send(b"x")
            cs.wait_read(c.sock.fileno(), timeout=0.05)
            return
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return


__all__ = ["serve", "trickle_head", "start", "in_thread", "Raw", "Response", "request", "hello", "WSGIServer"]
