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

The connection socket is closed when ``handle`` returns (``do_close``), as
in gevent, so a server never leaks file descriptors.

Differs from gevent: the accept loop is a greenlet, not an I/O watcher
callback in the hub, so ``start_accepting``/``stop_accepting`` start and
kill that greenlet.
"""

from __future__ import annotations

import errno
import sys
from typing import Any, Callable

from ._core.hub import get_hub, sleep
from .event import Event
from .greenlet import Greenlet, getcurrent
from .socket import (AF_INET, AF_INET6, SO_REUSEADDR, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET,
                     socket as _socket)

__all__ = ["BaseServer", "StreamServer", "DatagramServer"]

_ACCEPT_ERROR_PAUSE = 0.05   # seconds to back off after a failed accept (EMFILE...)


class BaseServer:
    """What the stream and datagram servers share: the listener, the accept
    loop greenlet, spawning handlers, start/stop/serve_forever.

    The accept loop runs in its own greenlet between ``start_accepting()``
    and ``stop_accepting()``; ``max_accept`` bounds how many connections it
    takes in a row before letting the handlers run.
    """

    #: Seconds ``stop()`` waits for running handlers before killing them.
    stop_timeout: float = 1.0
    #: ``listen()`` backlog when none is given.
    backlog: int = 256
    #: Connections (datagrams) taken in a row before the loop yields.
    max_accept: int = 100
    #: Back-off after a failed accept: starts at ``min_delay``, doubles up to ``max_delay``.
    min_delay: float = 0.01
    max_delay: float = 1.0
    #: ``errno`` values that mean the listener is gone: the server closes itself.
    fatal_errors: tuple[int, ...] = (errno.EBADF, errno.EINVAL, errno.ENOTSOCK)
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
        self.delay = self.min_delay
        self.set_listener(listener)
        self.set_spawn(spawn)
        self.set_handle(handle)

    # -- configuration -------------------------------------------------------------

    def set_listener(self, listener: Any) -> None:
        """Use ``listener``: a bound socket, or an address to bind on ``start()``
        (``(host, port)``, ``'host:port'`` or a port number)."""
        if hasattr(listener, "accept") or hasattr(listener, "recvfrom"):
            if hasattr(listener, "do_handshake"):
                raise TypeError(f"expected a plain listening socket, got the TLS socket "
                                f"{listener!r}; pass the plain socket and ssl_context=")
            if not isinstance(listener, _socket):
                listener = _socket(listener.family, listener.type, listener.proto,
                                   listener.detach())
            self.socket = listener
            self.address = listener.getsockname()
            self.family = listener.family
            return
        self.address = _parse_address(listener)
        self.family = _family_of(self.address)

    def set_spawn(self, spawn: Any) -> None:
        """How handlers run: ``'default'`` (a new greenlet each), ``None`` (in the
        accept loop itself), a ``Pool``/``Group``, an int (a ``Pool`` of that
        size) or a callable ``spawn(func, *args)``."""
        self.pool = None
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

    def set_handle(self, handle: Callable[..., Any] | None) -> None:
        """Call ``handle`` for each connection (datagram); None keeps the
        ``handle`` method (override it in a subclass)."""
        if handle is not None:
            if not callable(handle):
                raise TypeError(f"handle must be callable, got {handle!r}")
            self.handle = handle  # type: ignore[method-assign]
        self._handle = self.handle

    def _spawn_default(self, func, *args):
        if self.pool is None:
            from .pool import Group
            self.pool = Group()
        return self.pool.spawn(func, *args)

    def full(self) -> bool:
        """True while the handler pool has no room: the accept loop waits."""
        pool = self.pool
        return pool is not None and pool.full()

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
            self.socket = self._make_listener()
            self.address = self.socket.getsockname()

    def _make_listener(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def start_accepting(self) -> None:
        """Start (or resume) the accept loop; a no-op while it runs."""
        g = self._loop_greenlet
        if g is None or g.dead:
            if self.socket is None:
                raise RuntimeError(f"{self!r} has no listener yet; call start()")
            self._loop_greenlet = Greenlet(self._serve)
            self._loop_greenlet.start()

    def stop_accepting(self) -> None:
        """Pause the accept loop; connections queue in the listen backlog until
        ``start_accepting()``."""
        g = self._loop_greenlet
        self._loop_greenlet = None
        if g is not None and not g.dead and g is not getcurrent():
            g.kill(block=False)

    def start(self) -> None:
        """Bind (if needed) and start accepting in a background greenlet."""
        if self.started:
            raise RuntimeError(f"{self!r} is already started")
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; create a new server")
        self.init_socket()
        self._stop_event.clear()
        self.start_accepting()

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
        self.stop_accepting()
        sock = self.socket
        if sock is not None:
            sock.close()

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
        me = getcurrent()
        accepted = 0
        while not self._closed and self._loop_greenlet is me:
            if self.full():
                accepted = 0
                pool = self.pool
                if pool is not None and pool.full():
                    pool.wait_available()
                else:
                    sleep(self.min_delay)   # a full() override with no pool to wait on
                continue
            if accepted >= self.max_accept:
                accepted = 0
                sleep(0)                    # let the handlers just spawned run
                continue
            try:
                args = self.do_read()
            except OSError as ex:
                if self._closed:
                    return
                if self.is_fatal_error(ex):
                    sys.stderr.write(f"ERROR: {self!r} failed with {ex!r}; closing it\n")
                    self.close()
                    return
                get_hub().handle_error(self, *sys.exc_info())
                sleep(self.delay)
                self.delay = min(self.max_delay, self.delay * 2)
                continue
            self.delay = self.min_delay
            if args is None:
                continue
            accepted += 1
            try:
                self.do_handle(*args)
            except Exception:
                get_hub().handle_error((args[1:], self), *sys.exc_info())

    def is_fatal_error(self, ex: BaseException) -> bool:
        """True if ``ex`` from accept means the listener is unusable."""
        return isinstance(ex, OSError) and ex.errno in self.fatal_errors

    def do_read(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def do_close(self, *args) -> None:
        """Release what ``do_read`` returned, once its handler is done."""

    def do_handle(self, *args) -> None:
        """Run the handler for one connection (datagram), then ``do_close``."""
        spawn = self._spawn
        handle = self._handle
        close = self.do_close
        try:
            if spawn is None:
                _handle_and_close(handle, close, args)
            else:
                spawn(_handle_and_close, handle, close, args)
        except BaseException:
            close(*args)
            raise

    def handle(self, *args) -> None:
        raise NotImplementedError(f"{type(self).__name__} needs a handle function: pass "
                                  f"handle=... or override handle()")

    def __repr__(self):
        state = "closed" if self._closed else ("started" if self.started else "stopped")
        return (f"<{type(self).__name__} at {id(self):#x} {state} address={self.address!r} "
                f"handle={self._describe_handle()}>")

    def _describe_handle(self) -> str:
        handle = self.__dict__.get("handle", None)
        if handle is None:
            handle = getattr(type(self), "handle", None)
            return f"<method {type(self).__name__}.{getattr(handle, '__name__', 'handle')}>"
        if getattr(handle, "__self__", None) is self:    # no recursion into our own repr
            return f"<bound method {type(self).__name__}.{handle.__name__} of self>"
        try:
            return repr(handle)
        except Exception as exc:
            return f"<{type(handle).__name__} (repr failed: {exc!r})>"


class StreamServer(BaseServer):
    """A TCP (or Unix stream) server calling ``handle(socket, address)`` per
    connection. ``**ssl_args`` (``ssl_context=`` or ``certfile=``/``keyfile=``)
    make it a TLS server; the handshake happens in the handler greenlet
    (``wrap_socket_and_handle``)."""

    def __init__(self, listener: Any, handle: Callable[..., Any] | None = None,
                 backlog: int | None = None, spawn: Any = "default", **ssl_args: Any):
        if backlog is not None:
            if not isinstance(listener, tuple) and hasattr(listener, "accept"):
                raise TypeError("backlog must be None when a listening socket is given")
            self.backlog = backlog
        self.ssl_args = ssl_args
        self.ssl_context = _make_ssl_context(ssl_args) if ssl_args else None
        super().__init__(listener, handle, spawn)

    def set_handle(self, handle: Callable[..., Any] | None) -> None:
        super().set_handle(handle)
        if self.ssl_context is not None:
            self._handle = self.wrap_socket_and_handle

    @classmethod
    def get_listener(cls, address: Any, backlog: int | None = None,
                     family: int | None = None) -> _socket:
        """A new TCP socket bound to ``address`` and listening."""
        address = _parse_address(address)
        sock = _socket(_family_of(address) if family is None else family, SOCK_STREAM)
        try:
            if cls.reuse_addr:
                sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(cls.backlog if backlog is None else backlog)
        except BaseException:
            sock.close()
            raise
        return sock

    def _make_listener(self):
        return self.get_listener(self.address, self.backlog, self.family)

    def do_read(self):
        return self.socket.accept()

    def do_close(self, sock, *args) -> None:
        sock.close()

    def wrap_socket(self, client_socket: Any, **kwargs: Any) -> Any:
        """The TLS socket over an accepted ``client_socket`` (the handshake
        happens on first I/O). Replaceable, as in gevent."""
        if kwargs:
            raise TypeError(f"wrap_socket() takes no TLS arguments here (they were given to "
                            f"the server), got {sorted(kwargs)}")
        return self.ssl_context.wrap_socket(client_socket, server_side=True)

    def wrap_socket_and_handle(self, client_socket: Any, address: Any) -> Any:
        """Do the TLS handshake on ``client_socket``, then ``handle`` it."""
        ssl_socket = self.wrap_socket(client_socket)
        try:
            return self.handle(ssl_socket, address)
        finally:
            ssl_socket.close()

    @property
    def ssl_enabled(self) -> bool:
        return self.ssl_context is not None


class DatagramServer(BaseServer):
    """A UDP server calling ``handle(data, address)`` per datagram; reply
    with ``self.sendto(data, address)``."""

    socket_type = SOCK_DGRAM
    #: Largest datagram read.
    max_size = 65536

    @classmethod
    def get_listener(cls, address: Any, family: int | None = None) -> _socket:
        """A new UDP socket bound to ``address``."""
        address = _parse_address(address)
        sock = _socket(_family_of(address) if family is None else family, SOCK_DGRAM)
        try:
            if cls.reuse_addr:
                sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
            sock.bind(address)
        except BaseException:
            sock.close()
            raise
        return sock

    def _make_listener(self):
        return self.get_listener(self.address, self.family)

    def do_read(self):
        return self.socket.recvfrom(self.max_size)

    def sendto(self, data: bytes, address: Any) -> int:
        return self.socket.sendto(data, address)


def _handle_and_close(handle, close, args):
    try:
        return handle(*args)
    finally:
        close(*args)


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


def _family_of(address):
    return AF_INET6 if len(address) > 2 or ":" in str(address[0]) else AF_INET


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
