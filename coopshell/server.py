"""TCP and UDP servers: ``StreamServer`` and ``DatagramServer`` (gevent's API).

::

    from coopshell.server import StreamServer

    def echo(sock, address):
        for line in sock.makefile("rb"):
            sock.sendall(line)

    StreamServer(("127.0.0.1", 8000), echo).serve_forever()

Each accepted connection is handled by ``handle(socket, address)`` in a new
greenlet (or in a ``Pool`` when ``spawn`` is one, or an int for a pool of
that size, or in the accept loop itself when ``spawn`` is None).

Differs from gevent:

- The connection socket is closed when ``handle`` returns (gevent leaves it
  to the garbage collector), so a server never leaks file descriptors.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from ._core.hub import get_hub, sleep
from .event import Event
from .greenlet import Greenlet
from .socket import (AF_INET, AF_INET6, SO_REUSEADDR, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET,
                     socket as _socket)

__all__ = ["BaseServer", "StreamServer", "DatagramServer"]

_ACCEPT_ERROR_PAUSE = 0.05   # seconds to back off after a failed accept (EMFILE...)


class BaseServer:
    """What the stream and datagram servers share: the listener, the accept
    loop greenlet, spawning handlers, start/stop/serve_forever."""

    #: Seconds ``stop()`` waits for running handlers before killing them.
    stop_timeout: float = 1.0
    #: ``listen()`` backlog when none is given.
    backlog: int = 256
    family = AF_INET
    socket_type = SOCK_STREAM
    reuse_addr = 1

    def __init__(self, listener: Any, handle: Callable[..., Any] | None = None,
                 spawn: Any = "default"):
        self._stop_event = Event()
        self._stop_event.set()
        self._loop_greenlet: Greenlet | None = None
        self.socket: _socket | None = None
        self.address: Any = None
        self._closed = False
        self.pool = None
        if handle is not None:
            if not callable(handle):
                raise TypeError(f"handle must be callable, got {handle!r}")
            self.handle = handle  # type: ignore[method-assign]
        self._set_spawn(spawn)
        self._set_listener(listener)

    # -- configuration -------------------------------------------------------------

    def _set_spawn(self, spawn):
        if spawn == "default":
            self._spawn = self._spawn_default
        elif spawn is None:
            self._spawn = None
        elif isinstance(spawn, bool):
            raise TypeError(f"spawn must be 'default', None, a pool, an int or a callable, got {spawn!r}")
        elif isinstance(spawn, int):
            from .pool import Pool
            if spawn < 1:
                raise ValueError(f"spawn as a pool size must be >= 1, got {spawn}")
            self.pool = Pool(spawn)
            self._spawn = self.pool.spawn
        elif hasattr(spawn, "spawn") and hasattr(spawn, "kill"):
            self.pool = spawn
            self._spawn = spawn.spawn
        elif callable(spawn):
            self._spawn = spawn
        else:
            raise TypeError(f"spawn must be 'default', None, a pool, an int or a callable, got {spawn!r}")

    def _spawn_default(self, func, *args):
        if self.pool is None:
            from .pool import Group
            self.pool = Group()
        return self.pool.spawn(func, *args)

    def _set_listener(self, listener):
        if hasattr(listener, "accept") or hasattr(listener, "recvfrom"):
            if not isinstance(listener, _socket):
                listener = _socket(listener.family, listener.type, listener.proto,
                                   listener.detach())
            self.socket = listener
            self.address = listener.getsockname()
            self.family = listener.family
            return
        self.address = _parse_address(listener)
        if len(self.address) > 2 or ":" in str(self.address[0]):
            self.family = AF_INET6

    # -- properties --------------------------------------------------------------------

    @property
    def server_host(self) -> Any:
        return self.address[0] if isinstance(self.address, tuple) else None

    @property
    def server_port(self) -> Any:
        return self.address[1] if isinstance(self.address, tuple) else None

    @property
    def started(self) -> bool:
        """True between ``start()`` and ``stop()``/``close()``."""
        return not self._stop_event.is_set()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- lifecycle ---------------------------------------------------------------------

    def init_socket(self) -> None:
        """Create, bind and listen if given an address (called by ``start``)."""
        if self.socket is None:
            self.socket = self.get_listener(self.address, self.family)
            self.address = self.socket.getsockname()

    def get_listener(self, address, family):  # pragma: no cover - overridden
        raise NotImplementedError

    def start(self) -> None:
        """Bind (if needed) and start accepting in a background greenlet."""
        if self.started:
            raise RuntimeError(f"{self!r} is already started")
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; create a new server")
        self.init_socket()
        self._stop_event.clear()
        self._loop_greenlet = Greenlet(self._serve)
        self._loop_greenlet.start()

    def serve_forever(self, stop_timeout: float | None = None) -> None:
        """Start (if needed) and wait until ``stop()`` is called."""
        if not self.started:
            self.start()
        try:
            self._stop_event.wait()
        finally:
            if not self._closed:
                self.stop(timeout=stop_timeout)

    def close(self) -> None:
        """Stop accepting and close the listening socket; handlers keep running."""
        if self._closed:
            return
        self._closed = True
        self._stop_event.set()
        sock = self.socket
        if sock is not None:
            sock.close()
        g = self._loop_greenlet
        self._loop_greenlet = None
        if g is not None and not g.dead:
            g.kill(block=False)

    def stop(self, timeout: float | None = None) -> None:
        """Close the listener, wait up to ``timeout`` (default ``stop_timeout``)
        for running handlers, then kill those still running."""
        self.close()
        pool = self.pool
        if pool is None:
            return
        if timeout is None:
            timeout = self.stop_timeout
        if timeout:
            pool.join(timeout=timeout)
        pool.kill(block=True, timeout=1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- the accept loop -------------------------------------------------------------

    def _serve(self):
        pool = self.pool
        while not self._closed:
            if pool is not None and pool.full():
                pool.wait_available()
            try:
                args = self.do_read()
            except OSError:
                if self._closed:
                    return
                get_hub().handle_error(self, *sys.exc_info())
                sleep(_ACCEPT_ERROR_PAUSE)
                continue
            if args is not None:
                self.do_handle(*args)
            pool = self.pool

    def do_read(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def do_handle(self, *args) -> None:
        spawn = self._spawn
        if spawn is None:
            try:
                self._handle(*args)
            except Exception:
                get_hub().handle_error(self, *sys.exc_info())
        else:
            spawn(self._handle, *args)

    def _handle(self, *args):
        self.handle(*args)

    def handle(self, *args) -> None:
        raise NotImplementedError(f"{type(self).__name__} needs a handle function: pass "
                                  f"handle=... or override handle()")

    def __repr__(self):
        state = "closed" if self._closed else ("started" if self.started else "stopped")
        return f"<{type(self).__name__} at {id(self):#x} {state} address={self.address!r}>"


class StreamServer(BaseServer):
    """A TCP (or Unix stream) server calling ``handle(socket, address)`` per
    connection. ``**ssl_args`` (``ssl_context=`` or ``certfile=``/``keyfile=``)
    make it a TLS server; the handshake happens in the handler greenlet."""

    def __init__(self, listener: Any, handle: Callable[..., Any] | None = None,
                 backlog: int | None = None, spawn: Any = "default", **ssl_args: Any):
        if backlog is not None:
            if not isinstance(listener, tuple) and hasattr(listener, "accept"):
                raise TypeError("backlog must be None when a listening socket is given")
            self.backlog = backlog
        self.ssl_context = None
        if ssl_args:
            self.ssl_context = _make_ssl_context(ssl_args)
        super().__init__(listener, handle, spawn)

    def get_listener(self, address, family):
        sock = _socket(family, SOCK_STREAM)
        try:
            if self.reuse_addr:
                sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(self.backlog)
        except BaseException:
            sock.close()
            raise
        return sock

    def do_read(self):
        return self.socket.accept()

    def _handle(self, sock, address):
        try:
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
            self.handle(sock, address)
        finally:
            sock.close()

    @property
    def ssl_enabled(self) -> bool:
        return self.ssl_context is not None


class DatagramServer(BaseServer):
    """A UDP server calling ``handle(data, address)`` per datagram; reply
    with ``self.sendto(data, address)``."""

    socket_type = SOCK_DGRAM
    #: Largest datagram read.
    max_size = 65536

    def get_listener(self, address, family):
        sock = _socket(family, SOCK_DGRAM)
        try:
            if self.reuse_addr:
                sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
            sock.bind(address)
        except BaseException:
            sock.close()
            raise
        return sock

    def do_read(self):
        return self.socket.recvfrom(self.max_size)

    def sendto(self, data: bytes, address: Any) -> int:
        return self.socket.sendto(data, address)


# -- helpers -------------------------------------------------------------------------

def _parse_address(address):
    if isinstance(address, tuple):
        if len(address) < 2:
            raise ValueError(f"address must be (host, port), got {address!r}")
        return address
    if isinstance(address, int) and not isinstance(address, bool):
        return ("", address)
    if isinstance(address, str):
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"address must be (host, port), 'host:port' or a port, got {address!r}")
        host = host.strip("[]")
        return (host, int(port))
    raise TypeError(f"listener must be an address or a socket, got {address!r}")


def _make_ssl_context(ssl_args):
    from . import ssl as _ssl
    args = dict(ssl_args)
    context = args.pop("ssl_context", None)
    if context is None:
        certfile = args.pop("certfile", None)
        keyfile = args.pop("keyfile", None)
        if certfile is None:
            raise TypeError("a TLS server needs ssl_context= or certfile=")
        context = _ssl.SSLContext(_ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        ca_certs = args.pop("ca_certs", None)
        if ca_certs:
            context.load_verify_locations(ca_certs)
        cert_reqs = args.pop("cert_reqs", None)
        if cert_reqs is not None:
            context.verify_mode = cert_reqs
    if args:
        raise TypeError(f"unsupported TLS arguments: {sorted(args)}")
    if not isinstance(context, _ssl.SSLContext):
        raise TypeError(f"ssl_context must be a coopshell.ssl.SSLContext, got {context!r}")
    return context
