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
- An application that returns without calling ``start_response`` gets a
  500 and an error report (gevent closes the connection without a word).
- A request with both ``Content-Length`` and ``Transfer-Encoding: chunked``
  is read as chunked, and the connection closes after the response (RFC
  9112 6.1; gevent keeps it open).
- A client that disconnects in the middle of its body is not an
  application error: the connection is closed without a report.
- Error messages are ``str`` (gevent's 304 Content-Length one is bytes).
- ``SERVER_NAME`` is the bound host as given, not ``getfqdn()`` of it (no
  reverse DNS at start-up).
- The access log line is Apache's combined format plus the duration.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from ._http import MAX_REQUEST_LINE, Input
from ._wsgi_environ import Environ, SecureEnviron, WSGISecureEnviron
from ._wsgi_handler import WSGIHandler
from ._wsgi_log import LoggingLogAdapter, NoopLog, make_log
from .server import StreamServer
from .socket import AF_INET, AF_INET6, IPPROTO_TCP, TCP_NODELAY

__all__ = ["WSGIServer", "WSGIHandler", "Environ", "SecureEnviron", "WSGISecureEnviron",
           "LoggingLogAdapter", "Input", "MAX_REQUEST_LINE"]

_NoopLog = NoopLog     # gevent's name


class WSGIServer(StreamServer):
    """A ``StreamServer`` that runs a WSGI ``application`` (gevent's
    ``WSGIServer(listener, application, ...)``)."""

    handler_class: type = WSGIHandler
    #: The class of each request's environ (a dict subclass).
    environ_class: type = dict
    #: What the environ is shown as in error reports.
    secure_environ_class: type = WSGISecureEnviron
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
        self.log = make_log(log, 20)
        self.error_log = make_log(error_log, 40) or NoopLog()
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
