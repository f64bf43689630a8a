"""A WSGI (PEP 3333) HTTP/1.1 server with ``gevent.pywsgi``'s API.

::

    from coopshell.pywsgi import WSGIServer

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    WSGIServer(("127.0.0.1", 8000), app).serve_forever()

Each connection runs in its own greenlet (``spawn=`` as for
``StreamServer``): keep-alive and pipelined requests, chunked bodies both
ways, ``Expect: 100-continue``, TLS through ``certfile``/``keyfile`` or
``ssl_context``. Accepted TCP sockets get ``TCP_NODELAY``, and a response
whose body is a list goes out in one ``send``.

Differs from gevent:

- ``HEAD`` responses carry no body (gevent sends one).
- Bad input is answered precisely: 400 (malformed), 414 (request line over
  ``MAX_REQUEST_LINE``), 431 (head over ``MAX_HEADER_BYTES`` or more than
  ``MAX_HEADERS`` lines), 408 when a head is not complete within
  ``HEADER_TIMEOUT`` seconds (slowloris), 417, 501 and 505. The limits are
  attributes of :class:`WSGIHandler`; override them in a subclass.
- Header names containing ``_`` are dropped, so they cannot pose as the
  ``-`` spelling in ``HTTP_*``; ``Cookie`` duplicates are joined with ``; ``.
- ``stop(timeout)`` also closes idle keep-alive connections at once and
  ends busy ones after their current response.
- ``SERVER_NAME`` is the bound host as given, not ``getfqdn()`` of it (no
  reverse DNS at start-up).
- The access log line is Apache's combined format plus the duration.
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import Any, Callable
from urllib.parse import unquote_to_bytes

from ._http import REASONS, ClientDisconnected, HTTPError, Input, parse_head
from .greenlet import getcurrent
from .server import StreamServer
from .socket import AF_INET, AF_INET6, IPPROTO_TCP, SHUT_RD, TCP_NODELAY

__all__ = ["WSGIServer", "WSGIHandler", "Environ", "SecureEnviron", "WSGISecureEnviron",
           "LoggingLogAdapter"]

_NO_BODY_STATUS = frozenset((204, 304))
_monotonic = time.monotonic


class WSGIHandler:
    """Serves the requests of one connection, one after the other."""

    #: Longest request line accepted; longer gets 414.
    MAX_REQUEST_LINE = 8192
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

    def __init__(self, sock: Any, address: Any, server: WSGIServer, rfile: Any = None):
        if rfile is not None:
            raise TypeError("WSGIHandler(rfile=...) is not supported: the handler reads the "
                            "socket itself")
        self.socket = sock
        self.client_address = address
        self.server = server
        self.rbuf = b""
        self.close_connection = False
        self.idle = True
        self._timeout: Any = -1      # the socket timeout last set (-1: unknown)
        self._greenlet = None
        self._key_cache = server._key_cache
        self.environ: Any = None
        self.requestline: str | None = None
        self.status: str | None = None
        self.code = 0
        self.headers_sent = False
        self.response_headers: list = []
        self.response_length = 0
        self.time_start = 0.0
        self.time_finish = 0.0

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

    def recv_some(self) -> bytes:
        """The next bytes from the socket (b'' at EOF); used by ``wsgi.input``."""
        return self.socket.recv(65536)

    def send_continue(self) -> None:
        if self.status is None:
            self.socket.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _settimeout(self, timeout):
        if timeout != self._timeout:
            self.socket.settimeout(timeout)
            self._timeout = timeout

    def _read_head(self, first: bool) -> bytes | None:
        """The next request head, without its blank line; None at a clean EOF."""
        buf = self.rbuf
        deadline = None
        if first and self.HEADER_TIMEOUT is not None:
            deadline = _monotonic() + self.HEADER_TIMEOUT
        while True:
            if buf:
                if buf[:1] in (b"\r", b"\n"):
                    buf = buf.lstrip(b"\r\n")      # empty lines before a request are allowed
                i = buf.find(b"\r\n\r\n")
                if i >= 0:
                    self.rbuf = buf[i + 4:]
                    return buf[:i]
                i = buf.find(b"\n\n")
                if i >= 0:
                    self.rbuf = buf[i + 2:]
                    return buf[:i]
                self._check_head_size(buf)
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
            self.rbuf = buf

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
        env.update(head_env)
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
            if "CONTENT_LENGTH" in head_env:
                raise HTTPError(400, "a request must not have both Content-Length and "
                                     "Transfer-Encoding")
            chunked = True
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
        env["wsgi.input"] = self._input = Input(self, length, chunked, send_continue)
        env["wsgi.input_terminated"] = True
        return env

    def run_request(self) -> None:
        """Run the application for ``self.environ`` and send its response."""
        self.headers_sent = False
        self.response_headers: list = []
        self.result = None
        self._chunked = False
        self._length = None
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
            if self._write_failed or isinstance(err, ClientDisconnected):
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

    def process_result(self) -> None:
        result = self.result
        if not self.headers_sent and (type(result) is list or type(result) is tuple):
            if len(result) == 1:
                body = result[0]
                if type(body) is not bytes:
                    body = _check_bytes(body)
            else:
                for item in result:
                    if type(item) is not bytes:
                        _check_bytes(item)
                body = b"".join(result)
            self._send_whole(body)
            return
        for data in result:
            if data:
                self.write(data)
        if not self.headers_sent:
            self._send_whole(b"")
        elif self._chunked:
            self._send(b"0\r\n\r\n")
        if self._length is not None and self.response_length < self._length:
            self._length_error(f"the application sent {self.response_length} body bytes "
                               f"after Content-Length: {self._length}")

    # -- the response --------------------------------------------------------------------

    def start_response(self, status: str, headers: list, exc_info: Any = None) -> Callable:
        """PEP 3333's ``start_response``; returns ``write``."""
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() was already called for this request; "
                                 "call it again only with exc_info after an error")
        if type(status) is not str:
            raise TypeError(f"status must be a str like '200 OK', got {status!r}")
        code = status[:3]
        if len(status) < 4 or not code.isdigit() or status[3] != " ":
            raise ValueError(f"status must be a str like '200 OK' (3 digits, a space, a reason), "
                             f"got {status!r}")
        if type(headers) is not list:
            raise TypeError(f"headers must be a list of (name, value) tuples, got {headers!r}")
        length = None
        for header in headers:
            if type(header) is not tuple or len(header) != 2:
                raise TypeError(f"each header must be a (name, value) tuple of str, got {header!r}")
            name, value = header
            if type(name) is not str or type(value) is not str:
                raise TypeError(f"header names and values must be str, got {header!r}")
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
                raise ValueError(f"invalid character in header {header!r} (CR, LF, or ':' in "
                                 f"the name)")
            lname = name.lower()
            if lname == "content-length":
                if not value.isdigit():
                    raise ValueError(f"Content-Length must be digits, got {value!r}")
                length = int(value)
            elif lname == "connection" and value.lower() == "close":
                self.close_connection = True
        self.status = status
        self.code = int(code)
        self.response_headers = headers
        self._length = length
        return self.write

    def _head(self, body_length: int | None) -> bytes:
        """The response head; ``body_length`` is known when the body is whole."""
        code = self.code
        if self._input.continue_pending or self.server._stopping:
            self.close_connection = True     # the client never sent the body it announced
        parts = ["HTTP/1.1 ", self.status, "\r\n"]
        for name, value in self.response_headers:
            parts += (name, ": ", value, "\r\n")
        parts += ("Date: ", _http_date(), "\r\n")
        if code >= 200 and code not in _NO_BODY_STATUS and self._length is None:
            if body_length is not None:
                parts += ("Content-Length: ", str(body_length), "\r\n")
                self._length = body_length
            elif self.request_version == "HTTP/1.1" and self.command != "HEAD":
                parts.append("Transfer-Encoding: chunked\r\n")
                self._chunked = True
            else:
                self.close_connection = True       # the body ends when the connection does
        if self.close_connection:
            parts.append("Connection: close\r\n\r\n")
        elif self._keep_alive_10:
            parts.append("Connection: keep-alive\r\n\r\n")
        else:
            parts.append("\r\n")
        try:
            return "".join(parts).encode("latin-1")
        except UnicodeEncodeError as err:
            raise ValueError(f"response status and headers must be latin-1 text: {err}") from None

    def _send(self, data) -> None:
        try:
            self.socket.sendall(data)
        except OSError:
            self._write_failed = True
            raise

    def _send_whole(self, body: bytes) -> None:
        if self.status is None:
            raise AssertionError("the application returned without calling start_response()")
        length = self._length
        n = len(body)
        if length is not None and n != length:
            self._length_error(f"the application returned {n} body bytes with "
                               f"Content-Length: {length}")
            body = body[:length]
        head = self._head(n)
        self.headers_sent = True
        if self.command == "HEAD" or self.code in _NO_BODY_STATUS or self.code < 200:
            self._send(head)
            return
        self.response_length = len(body)
        self._send(head + body)

    def write(self, data: bytes) -> None:
        """PEP 3333's ``write``: send ``data`` as (part of) the body."""
        if type(data) is not bytes:
            data = _check_bytes(data)
        if self.status is None:
            raise AssertionError("write() called before start_response()")
        if not self.headers_sent:
            head = self._head(None)
            self.headers_sent = True
        else:
            head = b""
        if self.command == "HEAD" or self.code in _NO_BODY_STATUS:
            if head:
                self._send(head)
            return
        if self._length is not None:
            room = self._length - self.response_length
            if len(data) > room:
                self._length_error(f"the application sent more than Content-Length: "
                                   f"{self._length} body bytes")
                data = data[:room]
        elif self._chunked and data:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.response_length += len(data)
        if head or data:
            self._send(head + data)

    def _length_error(self, message: str) -> None:
        self.close_connection = True
        self.server.error_log.write(f"{self._describe()}: {message}; closing the connection\n")

    # -- errors and logs -----------------------------------------------------------------

    def handle_error(self, t, v, tb) -> None:
        """An exception from the application: log it to ``error_log`` and
        answer 500 if no response has started."""
        self.close_connection = True
        text = "".join(traceback.format_exception(t, v, tb))
        try:
            self.server.error_log.write(f"Error in the application for {self._describe()}:\n"
                                        f"{text}")
        finally:
            t = v = tb = None
        if not self.headers_sent:
            self.status = None
            try:
                self._send_error(500, "Internal Server Error")
            except OSError:
                pass

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
        body = (message + "\n").encode("latin-1", "replace")
        self.status = f"{status} {REASONS.get(status, 'Error')}"
        self.code = status
        self.response_length = len(body)
        self.headers_sent = True
        self.socket.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=latin-1\r\n"
                            b"Content-Length: %d\r\nDate: %s\r\nConnection: close\r\n\r\n%s"
                            % (status, REASONS.get(status, "Error").encode(), len(body),
                               _http_date().encode(), body))

    def log_request(self) -> None:
        log = self.server.log
        if log is not None:
            log.write(self.format_request() + "\n")

    def format_request(self) -> str:
        """The access log line: Apache combined format, then the seconds taken."""
        env = self.environ or {}
        delta = self.time_finish - self.time_start if self.time_start else 0.0
        return (f'{_client(self.client_address)} - - [{_log_date()}] "{self.requestline or "-"}" '
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


class WSGIServer(StreamServer):
    """A ``StreamServer`` that runs a WSGI ``application`` (gevent's
    ``WSGIServer(listener, application, ...)``)."""

    handler_class: type = WSGIHandler
    #: The class of each request's environ (a dict subclass).
    environ_class: type = dict
    #: What the environ is shown as in error reports.
    secure_environ_class: type
    base_env = {"GATEWAY_INTERFACE": "CGI/1.1",
                "SERVER_SOFTWARE": "coopshell.pywsgi Python/%d.%d" % sys.version_info[:2],
                "SCRIPT_NAME": "",
                "wsgi.version": (1, 0),
                "wsgi.multithread": False,
                "wsgi.multiprocess": False,
                "wsgi.run_once": False}

    def __init__(self, listener: Any, application: Callable | None = None,
                 backlog: int | None = None, spawn: Any = "default", log: Any = "default",
                 error_log: Any = "default", handler_class: type | None = None,
                 environ: dict | None = None, max_accept: int | None = None, **ssl_args: Any):
        if "handle" in ssl_args:
            raise TypeError("WSGIServer takes application=, not handle=")
        super().__init__(listener, backlog=backlog, spawn=spawn, **ssl_args)
        if application is not None:
            if not callable(application):
                raise TypeError(f"application must be a WSGI callable, got {application!r}")
            self.application = application
        if handler_class is not None:
            self.handler_class = handler_class
        self.log = _make_log(log, 20)
        self.error_log = _make_log(error_log, 40) or _NoopLog()
        self._handlers: set = set()
        self._key_cache: dict = {}
        self._stopping = False
        self._tcp = None
        self.set_environ(environ)
        if max_accept is not None:
            self.max_accept = max_accept
        elif self.environ.get("wsgi.multiprocess"):
            self.max_accept = 1     # let the other processes take their share

    def application(self, environ, start_response):  # pragma: no cover - replaced
        raise TypeError("WSGIServer needs an application: WSGIServer(listener, application)")

    def set_environ(self, environ: dict | None = None) -> None:
        """The base environ: ``base_env``, the URL scheme, then ``environ``."""
        if environ is not None:
            self.environ = environ
        update = getattr(self, "environ", None)
        self.environ = self.environ_class(self.base_env)
        self.environ["wsgi.url_scheme"] = "https" if self.ssl_enabled else "http"
        if update is not None:
            self.environ.update(update)
        if self.environ.get("wsgi.errors") is None:
            self.environ["wsgi.errors"] = self.error_log

    def get_environ(self) -> dict:
        """A fresh copy of the base environ for one request."""
        if self.environ_class is dict:
            return self.environ.copy()
        return self.environ_class(self.environ)

    def init_socket(self) -> None:
        super().init_socket()
        self.update_environ()

    def update_environ(self) -> None:
        """Fill SERVER_NAME and SERVER_PORT from the bound address."""
        address = self.address
        if isinstance(address, tuple):
            if "SERVER_NAME" not in self.environ:
                host = address[0]
                if host in ("", "0.0.0.0", "::"):
                    from .socket import gethostname
                    host = gethostname()
                self.environ["SERVER_NAME"] = host
            self.environ.setdefault("SERVER_PORT", str(address[1]))
        else:
            self.environ.setdefault("SERVER_NAME", "")
            self.environ.setdefault("SERVER_PORT", "")

    def handle(self, sock: Any, address: Any) -> None:
        """Serve one connection with a ``handler_class`` instance."""
        if self._tcp is None:
            self._tcp = self.family in (AF_INET, AF_INET6)
        if self._tcp:
            try:
                sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
            except OSError:
                pass     # the peer may already be gone; the handler will see it
        self.handler_class(sock, address, self).handle()

    def close(self) -> None:
        """Stop accepting; close idle keep-alive connections, and let busy ones
        end after their current response."""
        self._stopping = True
        super().close()
        for handler in list(self._handlers):
            handler.close_if_idle()


class LoggingLogAdapter:
    """Lets a ``logging.Logger`` be a server's ``log`` or ``error_log``:
    each ``write`` becomes one record at ``level``. Other attributes are
    the logger's."""

    def __init__(self, logger: Any, level: int = 20):
        object.__setattr__(self, "_logger", logger)
        object.__setattr__(self, "_level", level)

    def write(self, msg: str) -> None:
        if msg.endswith("\n"):
            msg = msg[:-1]
        self._logger.log(self._level, msg)

    def flush(self) -> None:
        """Nothing to flush: the logger's handlers do their own."""

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._logger, name)

    def __setattr__(self, name, value):
        setattr(self._logger, name, value)

    def __delattr__(self, name):
        delattr(self._logger, name)


class Environ(dict):
    """A base class for WSGI environ objects (a plain dict with no extras)."""

    __slots__ = ()

    def copy(self):
        return self.__class__(self)

    def __reduce_ex__(self, proto):
        return (dict, (), None, None, iter(self.items()))


class SecureEnviron(Environ):
    """An environ whose repr hides values (cookies, authorization) unless
    their key is in ``whitelist_keys``; ``secure_repr = False`` shows all.
    Instances may override the class's ``default_*`` settings."""

    default_secure_repr = True
    default_whitelist_keys: Any = ()
    default_print_masked_keys = True

    __slots__ = ("secure_repr", "whitelist_keys", "print_masked_keys")

    def __getattr__(self, name):
        if name in SecureEnviron.__slots__:
            return getattr(type(self), "default_" + name)
        raise AttributeError(name)

    def __repr__(self):
        if not self.secure_repr:
            return dict.__repr__(self)
        whitelist = self.whitelist_keys
        if not whitelist:
            return f"<pywsgi.SecureEnviron dict (keys: {len(self)}) at {id(self):#x}>"
        masked = self.print_masked_keys
        shown = {k: (v if k in whitelist else "<MASKED>") for k, v in self.items()
                 if masked or k in whitelist}
        text = repr(shown)
        if not masked and len(shown) != len(self):
            text = text[:-1] + (", " if shown else "") + f"(hidden keys: {len(self) - len(shown)})}}"
        return text

    __str__ = __repr__


class WSGISecureEnviron(SecureEnviron):
    """A :class:`SecureEnviron` that shows the client address and Host only."""

    default_whitelist_keys = ("REMOTE_ADDR", "REMOTE_PORT", "HTTP_HOST")
    default_print_masked_keys = False


WSGIServer.secure_environ_class = WSGISecureEnviron


# -- helpers ---------------------------------------------------------------------------

class _NoopLog:
    def write(self, *args):
        pass

    def flush(self):
        pass

    def writelines(self, *args):
        pass


def _make_log(log, level):
    if log == "default":
        return sys.stderr
    if log is None:
        return None
    if not hasattr(log, "write") and hasattr(log, "log"):
        return LoggingLogAdapter(log, level)
    if not hasattr(log, "write"):
        raise TypeError(f"log must be 'default', None, a logging.Logger or have write(), "
                        f"got {log!r}")
    return log


def _check_bytes(data):
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, bytes):
        return data
    raise TypeError(f"the application must produce bytes, got {type(data).__name__} "
                    f"{data!r:.80}; encode text first")


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


_date_cache = [0, "", ""]


def _refresh_dates(now):
    t = time.gmtime(now)
    _date_cache[0] = now
    _date_cache[1] = time.strftime("%a, %d %b %Y %H:%M:%S GMT", t)
    _date_cache[2] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", t)


def _http_date() -> str:
    now = int(time.time())
    if now != _date_cache[0]:
        _refresh_dates(now)
    return _date_cache[1]


def _log_date() -> str:
    now = int(time.time())
    if now != _date_cache[0]:
        _refresh_dates(now)
    return _date_cache[2]
