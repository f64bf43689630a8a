"""``WSGIHandler``: serves the HTTP/1.x requests of one connection for
``coopshell.pywsgi.WSGIServer``, one after the other.

Private: ``pywsgi`` re-exports it. The wire format (request head, body) is in
``_http``; this module holds the WSGI side: the environ, ``start_response``,
the response framing, errors and the access log.

The handler reads the connection through ``self.rfile`` (a ``_http.Reader``);
gevent's documented overridable methods work as in gevent:
``read_requestline()`` (return the request line, or a false value to close
the connection), ``get_environ()``, ``run_application()``,
``process_result()``, ``format_request()``, ``log_request()``,
``log_error(msg, *args)``, ``handle_error(t, v, tb)``, and the attributes
``ApplicationError``, ``ignored_socket_errors`` and ``_print_unexpected_exc``.
"""

from __future__ import annotations

import errno
import sys
import time
import traceback
from typing import Any
from urllib.parse import unquote_to_bytes

from ._core.exceptions import GreenletExit
from ._core.hub import Hub, get_hub
from ._http import (MAX_REQUEST_LINE, REASONS, ClientDisconnected, HTTPError, Input, Reader,
                    parse_head, parse_request_line)
from ._wsgi_log import http_date, log_date
from ._wsgi_response import HeaderTypeError, ResponseWriter
from .greenlet import getcurrent
from .socket import SHUT_RD

__all__ = ["WSGIHandler", "HeaderTypeError"]

_monotonic = time.monotonic


class WSGIHandler(ResponseWriter):
    """Serves the requests of one connection, one after the other."""

    #: Longest request line accepted; longer gets 414.
    MAX_REQUEST_LINE = MAX_REQUEST_LINE
    #: Largest request head (request line and headers); larger gets 431.
    MAX_HEADER_BYTES = 65536
    #: Most header lines in one request; more gets 431.
    MAX_HEADERS = 100
    #: Seconds for a whole request head to arrive once the connection is
    #: open or the head has begun (slowloris); then 408 and close.
    HEADER_TIMEOUT: float | None = 10.0
    #: Seconds an idle keep-alive connection waits for its next request
    #: (None: no limit, as gevent).
    KEEPALIVE_TIMEOUT: float | None = None
    #: Unread request body the server reads and drops to keep a connection.
    MAX_DISCARD = 65536
    #: ``errno`` values of a send that mean the client went away: no error report.
    ignored_socket_errors: tuple = (errno.EPIPE, errno.ECONNRESET)
    #: Prints the exception being handled (where ``log_error`` itself fails).
    _print_unexpected_exc = staticmethod(traceback.print_exc)

    protocol_version = "HTTP/1.1"
    status: str | None = None
    code = 0
    command: str | None = None
    path: str | None = None
    request_version: str | None = None

    def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None):
        if rfile is None:
            rfile = Reader(sock)
        elif not isinstance(rfile, Reader):
            raise TypeError(f"WSGIHandler(rfile=...) takes a coopshell._http.Reader, got "
                            f"{rfile!r}; leave it out to read the socket")
        self.socket = sock
        self.client_address = address
        self.server = server
        self.rfile = rfile
        self.close_connection = False
        self.idle = True
        self._timeout: Any = -1      # the socket timeout last set (-1: unknown)
        self._greenlet = None
        self._key_cache = server._key_cache
        self.environ: Any = None
        self.requestline: str | None = None
        self.headers_sent = False
        self.response_headers: list = []
        self.response_length = 0
        self.time_start = 0.0
        self.time_finish = 0.0
        self._custom_line = type(self).read_requestline is not WSGIHandler.read_requestline

    # -- the connection ------------------------------------------------------------------

    def handle(self) -> None:
        """Serve requests until the connection closes or must close."""
        server = self.server
        server._handlers.add(self)
        self._greenlet = getcurrent()
        try:
            first = True
            while not self.close_connection and self.handle_one_request(first):
                first = False
        except (ClientDisconnected, ConnectionError, TimeoutError):
            pass    # the client went away: nothing to answer
        finally:
            server._handlers.discard(self)
            self._greenlet = None

    def read_requestline(self) -> str | bytes | None:
        """The next request line (``str``; ``bytes`` is decoded as latin-1), or a
        false value to close the connection. Override to intercept a
        connection before HTTP parsing; the default reads ``self.rfile``."""
        return self.rfile.readline(self.MAX_REQUEST_LINE + 2).decode("latin-1")

    def _settimeout(self, timeout):
        if timeout != self._timeout:
            self.socket.settimeout(timeout)
            self._timeout = timeout

    def _custom_requestline(self, first: bool) -> bool:
        self._settimeout(self.HEADER_TIMEOUT if first else self.KEEPALIVE_TIMEOUT)
        try:
            line = self.read_requestline()
        except OSError:
            return False
        if not line:
            return False
        if isinstance(line, str):
            line = line.encode("latin-1")
        if not line.endswith(b"\n"):
            line += b"\r\n"
        self.rfile.rbuf = line + self.rfile.rbuf
        return True

    def _read_head(self, first: bool) -> bytes | None:
        """The next request head, without its blank line; None at a clean EOF."""
        rfile = self.rfile
        buf = rfile.rbuf
        deadline = None
        line_checked = False
        if first and self.HEADER_TIMEOUT is not None:
            deadline = _monotonic() + self.HEADER_TIMEOUT
        while True:
            if buf:
                if buf[:1] in (b"\r", b"\n"):
                    buf = buf.lstrip(b"\r\n")      # empty lines before a request are allowed
                i = buf.find(b"\r\n\r\n")
                if i >= 0:
                    rfile.rbuf = buf[i + 4:]
                    return buf[:i]
                i = buf.find(b"\n\n")
                if i >= 0:
                    rfile.rbuf = buf[i + 2:]
                    return buf[:i]
                self._check_head_size(buf)
                if not line_checked:
                    i = buf.find(b"\n")
                    if i >= 0:     # refuse a bad request line before its headers arrive
                        self.requestline = buf[:i].rstrip(b"\r").decode("latin-1")
                        parse_request_line(self.requestline)
                        line_checked = True
                if deadline is None and self.HEADER_TIMEOUT is not None:
                    deadline = _monotonic() + self.HEADER_TIMEOUT
            if deadline is None:
                self.idle = not buf
                self._settimeout(self.KEEPALIVE_TIMEOUT)
            else:
                left = deadline - _monotonic()
                if left <= 0:
                    raise HTTPError(408, f"the request head was not complete within "
                                         f"{self.HEADER_TIMEOUT} s")
                self.idle = not buf
                self._settimeout(left)
            try:
                data = self.socket.recv(65536)
            except TimeoutError:
                if deadline is None:      # idle keep-alive connection: just close
                    return None
                raise HTTPError(408, f"the request head was not complete within "
                                     f"{self.HEADER_TIMEOUT} s") from None
            except ConnectionError:
                data = b""
            finally:
                self.idle = False
            if not data:
                if buf.strip():
                    raise ClientDisconnected("the client disconnected in the request head")
                return None
            buf += data
            rfile.rbuf = buf

    def _check_head_size(self, buf: bytes) -> None:
        line_end = buf.find(b"\n")
        if line_end < 0:
            if len(buf) > self.MAX_REQUEST_LINE:
                raise HTTPError(414, f"request line longer than {self.MAX_REQUEST_LINE} bytes")
        elif line_end > self.MAX_REQUEST_LINE + 1:
            raise HTTPError(414, f"request line longer than {self.MAX_REQUEST_LINE} bytes")
        if len(buf) > self.MAX_HEADER_BYTES:
            raise HTTPError(431, f"request head larger than {self.MAX_HEADER_BYTES} bytes")

    # -- one request ---------------------------------------------------------------------

    def handle_one_request(self, first: bool = False) -> bool:
        """Read, run and answer one request; False when the connection is done."""
        self.status = None
        self.requestline = None
        self.environ = None
        self.headers_sent = False
        self.response_length = 0
        self.code = 0
        try:
            if self._custom_line and not self._custom_requestline(first):
                return False
            head = self._read_head(first)
            if head is None:
                return False
            if len(head) > self.MAX_REQUEST_LINE:
                self._check_head_size(head)
            self.time_start = time.time()
            self.environ = self.get_environ(head)
        except HTTPError as err:
            self._refuse(err)
            return False
        self.run_request()
        return not self.close_connection

    def get_environ(self, head: bytes) -> dict:
        """The PEP 3333 environ for the request whose head is ``head``."""
        server = self.server
        env = server.get_environ()
        head_env: dict = {}
        method, target, version = parse_head(head, head_env, self._key_cache, self.MAX_HEADERS)
        self.requestline = f"{method} {target} {version}"
        self.command, self.path, self.request_version = method, target, version
        if target[:1] != "/":
            target = _origin_form(target, method)
        path, _, query = target.partition("?")
        if "%" in path:
            path = unquote_to_bytes(path).decode("latin-1")
        script = env.get("SCRIPT_NAME")
        if script and (path == script or path.startswith(script + "/")):
            path = path[len(script):]
        env["REQUEST_METHOD"] = method
        env["PATH_INFO"] = path
        env["QUERY_STRING"] = query
        env["SERVER_PROTOCOL"] = version
        address = self.client_address
        if isinstance(address, tuple):
            env["REMOTE_ADDR"] = address[0]
            env["REMOTE_PORT"] = str(address[1])
        else:
            env["REMOTE_ADDR"] = env["REMOTE_PORT"] = ""
        # framing of the body and of the connection
        connection = head_env.get("HTTP_CONNECTION")
        if connection is not None:
            tokens = [t.strip() for t in connection.lower().split(",")]
            if version == "HTTP/1.1":
                self.close_connection = "close" in tokens
            else:
                self.close_connection = "keep-alive" not in tokens
        else:
            self.close_connection = version != "HTTP/1.1"
        self._keep_alive_10 = version == "HTTP/1.0" and not self.close_connection
        chunked = False
        length = None
        te = head_env.get("HTTP_TRANSFER_ENCODING")
        if te is not None:
            if te.strip().lower() != "chunked":
                raise HTTPError(501, f"Transfer-Encoding {te!r} is not supported; only chunked")
            if head_env.pop("CONTENT_LENGTH", None) is not None:
                # RFC 9112 6.1: the chunked framing wins, and the connection
                # closes after the response (a request smuggling guard).
                self.close_connection = True
            chunked = True
        env.update(head_env)
        cl = head_env.get("CONTENT_LENGTH")
        if cl is not None:
            if not (cl.isdigit() and cl.isascii()):
                raise HTTPError(400, f"invalid Content-Length {cl[:50]!r}: expected digits")
            length = int(cl)
        expect = head_env.get("HTTP_EXPECT")
        send_continue = False
        if expect is not None:
            if expect.strip().lower() != "100-continue":
                raise HTTPError(417, f"Expect {expect!r} is not supported; only 100-continue")
            send_continue = version == "HTTP/1.1"
        self._input = Input(self.rfile, length, self.socket if send_continue else None, chunked)
        if length is None and not chunked and _upgrade_requested(head_env):
            # A protocol switch (WebSocket): the app reads the raw connection.
            env["wsgi.input"] = self.rfile
            env["wsgi.input_terminated"] = False
        else:
            env["wsgi.input"] = self._input
            env["wsgi.input_terminated"] = True
        return env

    def run_request(self) -> None:
        """Run the application for ``self.environ`` and send its response."""
        self.headers_sent = False
        self.response_headers: list = []
        self.result = None
        self._chunked = False
        self._length = None
        self._app_date = False
        self._app_connection = None
        self._write_failed = False
        try:
            try:
                self.run_application()
            finally:
                result, self.result = self.result, None
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except (ClientDisconnected, OSError) as err:
            if (self._write_failed or isinstance(err, ClientDisconnected)
                    or err.errno in self.ignored_socket_errors):
                self.close_connection = True       # the client is gone; nothing to answer
            else:
                self.handle_error(*sys.exc_info())
        except HTTPError as err:                   # a malformed chunked body
            self.close_connection = True
            if not self.headers_sent:
                self._refuse(err)
                return
        except Exception:
            self.handle_error(*sys.exc_info())
        if self.server._stopping:
            self.close_connection = True
        if not self.close_connection:
            inp = self._input
            if not inp.done and (inp.continue_pending or not _discard(inp, self.MAX_DISCARD)):
                self.close_connection = True
        self.time_finish = time.time()
        self.log_request()

    def run_application(self) -> None:
        self.result = self.server.application(self.environ, self.start_response)
        self.process_result()

    # -- errors and logs -----------------------------------------------------------------

    def handle_error(self, t, v, tb) -> None:
        """An exception from the application: log it and answer 500 if no
        response has started."""
        self.close_connection = True
        try:
            self._log_error(t, v, tb)
        finally:
            t = v = tb = None
        if not self.headers_sent:
            self.status = None
            try:
                self._send_error(500, "Internal Server Error")
            except OSError:
                pass

    def _log_error(self, t, v, tb) -> None:
        # To error_log always; to the hub too when someone listens there (a
        # handle_error of its own, as gevent's tests install) or when the
        # error is a SYSTEM_ERROR: the stock hub would only print it again.
        if issubclass(t, GreenletExit):
            return
        text = "".join(traceback.format_exception(t, v, tb))
        self.server.error_log.write(f"Error in the application for {self._describe()}:\n{text}")
        hub = get_hub()
        if ("handle_error" in vars(hub) or type(hub).handle_error is not Hub.handle_error
                or isinstance(v, hub.SYSTEM_ERROR)):
            context = self.environ
            secure = self.server.secure_environ_class
            if not isinstance(context, secure):
                context = secure(context or {})
            hub.handle_error(context, t, v, tb)

    def log_error(self, msg: str, *args: Any) -> None:
        """Write ``msg % args`` (``msg`` alone without args), after the socket,
        to the server's ``error_log``."""
        if args:
            try:
                msg = msg % args
            except Exception:
                self._print_unexpected_exc()
                msg = f"{msg!r} {args!r}"
        try:
            self.server.error_log.write(f"{self.socket}: {msg}\n")
        except Exception:
            self._print_unexpected_exc()

    def _describe(self) -> str:
        return f"{self.requestline or '<no request>'} from {_client(self.client_address)}"

    def _refuse(self, err: HTTPError) -> None:
        self.close_connection = True
        self.requestline = self.requestline or "-"
        try:
            self._send_error(err.status, err.message)
        except OSError:
            pass
        self.time_finish = time.time()
        self.log_request()

    def _send_error(self, status: int, message: str) -> None:
        body = message.encode("latin-1", "replace")
        reason = REASONS.get(status, "Error")
        self.status = f"{status} {reason}"
        self.code = status
        self.response_length = len(body)
        self.headers_sent = True
        self.socket.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=latin-1\r\n"
                            b"Content-Length: %d\r\nDate: %s\r\nConnection: close\r\n\r\n%s"
                            % (status, reason.encode(), len(body), http_date().encode(), body))

    def log_request(self) -> None:
        log = self.server.log
        if log is not None:
            log.write(self.format_request() + "\n")

    def format_request(self) -> str:
        """The access log line: Apache combined format, then the seconds taken."""
        env = self.environ or {}
        delta = self.time_finish - self.time_start if self.time_start else 0.0
        return (f'{_client(self.client_address)} - - [{log_date()}] "{self.requestline or "-"}" '
                f'{self.code or "-"} {self.response_length or "-"} '
                f'"{env.get("HTTP_REFERER", "-")}" "{env.get("HTTP_USER_AGENT", "-")}" '
                f'{delta:.6f}')

    def close_if_idle(self) -> None:
        """Called by ``stop()``: end the connection now if it waits between requests."""
        self.close_connection = True
        if self.idle and self._greenlet is not None:
            try:
                if hasattr(self.socket, "do_handshake"):
                    raise OSError     # a TLS socket: shutdown would break its state
                self.socket.shutdown(SHUT_RD)
            except OSError:
                self._greenlet.kill(block=False)


# -- helpers ---------------------------------------------------------------------------

def _upgrade_requested(head_env: dict) -> bool:
    return (head_env.get("HTTP_CONNECTION", "").lower() == "upgrade"
            or head_env.get("HTTP_UPGRADE", "").lower() == "websocket")


def _discard(inp, limit):
    try:
        return inp.discard(limit)
    except (HTTPError, OSError):
        return False


def _origin_form(target, method):
    if target == "*" and method == "OPTIONS":
        return target
    lower = target[:8].lower()
    if lower.startswith("http://") or lower.startswith("https://"):
        rest = target.split("//", 1)[1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"
    raise HTTPError(400, f"invalid request target {target[:200]!r}: expected a path "
                         f"starting with '/'")


def _client(address):
    if isinstance(address, tuple):
        return address[0]
    return address or "-"
