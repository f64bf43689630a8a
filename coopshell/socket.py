"""Cooperative replacement for the stdlib ``socket`` module.

Same names, signatures and exceptions as ``socket``; a call that would block
switches to the hub instead of blocking the thread.

Differs from the stdlib:

- ``socket`` is a subclass of the stdlib ``socket.socket`` whose fd is
  always non-blocking at the OS level. The timeout you set
  (``settimeout``/``setblocking``/the default timeout) is kept in Python and
  applied while waiting in the hub; timeouts raise ``TimeoutError('timed
  out')`` as the stdlib does.
- Two greenlets waiting to read (or to write) the same socket at once is an
  error: the second gets ``ConcurrentObjectUseError`` (as in gevent).
- Closing a socket while another greenlet waits on it wakes that greenlet
  with ``OSError(EBADF, ...)`` instead of leaving it hung.
- ``connect`` resolves host names with the cooperative resolver.
- DNS functions come from ``coopshell.resolver`` (the selected resolver;
  by default the system resolver in the thread pool).

- ``send`` and ``sendall`` take an optional ``timeout`` (gevent's): it
  bounds this one call instead of the socket's timeout (``sendall``'s is
  ours; gevent's ``sendall`` has none). ``closed`` tells whether ``close()``
  was called (gevent's property).
- ``create_connection(all_errors=True)`` on a Python without
  ``ExceptionGroup`` (3.10) raises the first error, as gevent does there.

Extensions: ``wait_read``, ``wait_write``, ``wait_readwrite``, ``cancel_wait``.
"""

from __future__ import annotations

import _socket
import builtins as _builtins
import os as _os
import socket as _std
from errno import EAGAIN, EALREADY, EBADF, EINPROGRESS, EISCONN, EWOULDBLOCK
from typing import Any

from ._core.exceptions import ConcurrentObjectUseError
from ._core.hub import get_hub
from ._core.io_wait import cancel_wait as _cancel_wait, cancel_wait_error, wait_io
from ._core.loop import READ, WRITE, _get_ident
from .resolver import (getaddrinfo, getfqdn, gethostbyaddr, gethostbyname, gethostbyname_ex,
                       getnameinfo)

#: DNS look-ups (provided by coopshell.resolver), patched with the ``dns`` option.
__dns__ = ["getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo",
           "getfqdn"]
#: Stdlib names this module rewrites to cooperate (the DNS look-ups included, as in gevent).
__implements__ = ["socket", "SocketType", "socketpair", "fromfd", "create_connection",
                  "create_server"] + __dns__
#: Names only coopshell has.
__extensions__ = ["wait", "wait_read", "wait_write", "wait_readwrite", "cancel_wait",
                  "cancel_wait_ex", "ConcurrentObjectUseError"]

#: Stdlib callables passed through after review: none of them blocks (pure
#: conversions, local syscalls, or helpers that call methods of the socket
#: they are given, which are ours).
_REVIEWED = {
    "AddressFamily", "SocketKind", "AddressInfo", "MsgFlag", "IntEnum", "IntFlag",
    "CMSG_LEN", "CMSG_SPACE", "close", "dup", "getdefaulttimeout", "setdefaulttimeout",
    "gethostname", "sethostname", "getservbyname", "getservbyport", "getprotobyname",
    "htonl", "htons", "ntohl", "ntohs", "inet_aton", "inet_ntoa", "inet_pton", "inet_ntop",
    "if_nameindex", "if_nametoindex", "if_indextoname", "has_dualstack_ipv6",
    "send_fds", "recv_fds", "fromshare",
}


def _is_constant_or_exception(obj) -> bool:
    return not callable(obj) or (isinstance(obj, type) and issubclass(obj, BaseException))


__imports__ = [n for n in _std.__all__ if n not in __implements__
               and (n in _REVIEWED or _is_constant_or_exception(getattr(_std, n)))]
globals().update({n: getattr(_std, n) for n in __imports__})
_GLOBAL_DEFAULT_TIMEOUT = _std._GLOBAL_DEFAULT_TIMEOUT

__all__ = __implements__ + __imports__ + __extensions__

# The originals, captured once so that monkey patching never turns us on ourselves.
_StdSocket = _std.socket
_std_init = _std.socket.__init__
_CSocket = _socket.socket
_c_recv = _CSocket.recv
_c_recv_into = _CSocket.recv_into
_c_recvfrom = _CSocket.recvfrom
_c_recvfrom_into = _CSocket.recvfrom_into
_c_send = _CSocket.send
_c_sendto = _CSocket.sendto
_c_accept = _CSocket._accept
_c_connect = _CSocket.connect
_c_connect_ex = _CSocket.connect_ex
_c_settimeout = _CSocket.settimeout
_c_gettimeout = _CSocket.gettimeout
_c_setblocking = _CSocket.setblocking
_c_getsockopt = _CSocket.getsockopt
_c_fileno = _CSocket.fileno
_c_family = _CSocket.family.__get__
_c_type = _CSocket.type.__get__
_c_proto = _CSocket.proto.__get__
_c_socketpair = _socket.socketpair
_c_dup = _socket.dup
_getdefaulttimeout = _std.getdefaulttimeout
_inet_pton = _std.inet_pton
_strerror = _os.strerror
_os_sendfile = getattr(_os, "sendfile", None)
_std_create_server = _std.create_server
_AF_INET, _AF_INET6 = _std.AF_INET, _std.AF_INET6
_SOL_SOCKET, _SO_ERROR = _std.SOL_SOCKET, _std.SO_ERROR
# a plain int: socket.MSG_DONTWAIT is an IntFlag, and ``flags & IntFlag`` runs
# enum code in Python (~0.7 us) on every recv that has to wait
_MSG_DONTWAIT = int(getattr(_std, "MSG_DONTWAIT", 0))
_CONNECT_PENDING = frozenset({EINPROGRESS, EWOULDBLOCK, EAGAIN, EALREADY})
_timeout_error = _std.timeout
_ExceptionGroup = getattr(_builtins, "ExceptionGroup", None)     # 3.11+
#: ``send(timeout=...)`` not given: the socket's own timeout applies (gevent's name).
timeout_default = object()
_MISSING = object()


def _timed_out():
    return _timeout_error("timed out")


class socket(_StdSocket):
    """A cooperative ``socket.socket``: blocking calls wait in the hub."""

    # _unref (set only by ``ref = False``; unset means referenced)
    __slots__ = ("_timeout", "_hub", "_rw", "_ww", "_unref")

    def __init__(self, family: int = -1, type: int = -1, proto: int = -1,
                 fileno: int | None = None):
        _std_init(self, family, type, proto, fileno)
        self._timeout = _getdefaulttimeout()
        self._hub = None
        self._rw = None
        self._ww = None
        _c_setblocking(self, False)

    # -- timeouts ----------------------------------------------------------------

    @property
    def timeout(self) -> float | None:
        """The timeout in seconds (None: blocking), as set by ``settimeout``."""
        return self._timeout

    def settimeout(self, value: float | None) -> None:
        """Set the timeout of blocking operations (None: no limit, 0: non-blocking)."""
        if value is None:
            self._timeout = None
            return
        t = type(value)
        if (t is float or t is int) and 0 <= value < 1e9:
            self._timeout = float(value)
            return
        # Anything unusual: let the C implementation validate and convert it,
        # so errors are exactly the stdlib's; then put the fd back to non-blocking.
        try:
            _c_settimeout(self, value)
            self._timeout = _c_gettimeout(self)
        finally:
            if _c_fileno(self) >= 0:
                _c_setblocking(self, False)

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        """``setblocking(True)`` is ``settimeout(None)``; ``False`` is ``settimeout(0)``."""
        if flag is True or flag is False:
            self._timeout = None if flag else 0.0
            return
        # Anything else: the running stdlib decides what it accepts (an index
        # up to 3.11, any truth value from 3.12) and raises its own errors.
        try:
            _c_setblocking(self, flag)
            self._timeout = _c_gettimeout(self)
        finally:
            if _c_fileno(self) >= 0:
                _c_setblocking(self, False)

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    @property
    def ref(self) -> bool:
        """Whether a wait on this socket keeps the loop alive (default True)."""
        return not getattr(self, "_unref", False)

    @ref.setter
    def ref(self, value: bool) -> None:
        self._unref = not value
        for name in ("_rw", "_ww"):
            w = getattr(self, name)
            if w is not None and w._active:  # a wait in progress ends as it began:
                setattr(self, name, None)    # the next wait gets a new watcher
            elif w is not None:
                w.ref = bool(value)

    def _event(self, events: int) -> Any:  # gevent's _read_event/_write_event, made on first use
        w = self._rw if events == READ else self._ww
        return w if w is not None and self._hub is get_hub() else self._watcher(events)

    _read_event = property(lambda self: self._event(READ))
    _write_event = property(lambda self: self._event(WRITE))

    _sock = property(lambda self: self, doc="gevent's stdlib socket underneath: this socket is one itself.")

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called (gevent's property)."""
        return self._closed

    # -- waiting -----------------------------------------------------------------

    def _watcher(self, events):
        """This socket's reusable watcher for READ or WRITE, on the calling
        thread's hub (re-created if the socket moved to another thread)."""
        hub = get_hub()
        if hub is not self._hub:
            if self._hub is not None:
                self._drop_watchers()
            self._hub = hub
        fd = _c_fileno(self)
        if fd < 0:
            raise OSError(EBADF, "Bad file descriptor")
        w = hub.loop.io(fd, events)
        if getattr(self, "_unref", False):
            w.ref = False
        if events == READ:
            self._rw = w
        else:
            self._ww = w
        return w

    def _wait_read(self):
        w = self._rw
        hub = self._hub
        if w is None or hub is not get_hub():
            w = self._watcher(READ)
            hub = self._hub
        wait_io(hub, w, self._timeout, _timed_out)

    def _wait_write(self):
        w = self._ww
        hub = self._hub
        if w is None or hub is not get_hub():
            w = self._watcher(WRITE)
            hub = self._hub
        wait_io(hub, w, self._timeout, _timed_out)

    def _wait_write_for(self, timeout):
        """``_wait_write`` bounded by ``timeout`` instead of the socket's."""
        w = self._ww
        hub = self._hub
        if w is None or hub is not get_hub():
            w = self._watcher(WRITE)
            hub = self._hub
        wait_io(hub, w, timeout, _timed_out)

    def _drop_watchers(self):
        """Forget this socket's watchers; a greenlet waiting on one of them
        gets ``OSError(EBADF)``."""
        for w in (self._rw, self._ww):
            if w is not None and w.callback is not None:
                _cancel_wait(w, cancel_wait_error())
        self._rw = self._ww = None

    # -- reading -------------------------------------------------------------------

    def recv(self, *args) -> bytes:
        while True:
            try:
                return _c_recv(self, *args)
            except BlockingIOError:
                if self._timeout == 0.0 or _dontwait(args, 1):
                    raise
            self._wait_read()

    def recv_into(self, *args, **kwargs) -> int:
        while True:
            try:
                return _c_recv_into(self, *args, **kwargs)
            except BlockingIOError:
                if self._timeout == 0.0 or _dontwait(args, 2, kwargs):
                    raise
            self._wait_read()

    def recvfrom(self, *args) -> tuple[bytes, Any]:
        while True:
            try:
                return _c_recvfrom(self, *args)
            except BlockingIOError:
                if self._timeout == 0.0 or _dontwait(args, 1):
                    raise
            self._wait_read()

    def recvfrom_into(self, *args, **kwargs) -> tuple[int, Any]:
        while True:
            try:
                return _c_recvfrom_into(self, *args, **kwargs)
            except BlockingIOError:
                if self._timeout == 0.0 or _dontwait(args, 2, kwargs):
                    raise
            self._wait_read()

    if hasattr(_CSocket, "recvmsg"):
        def recvmsg(self, *args):
            while True:
                try:
                    return _CSocket.recvmsg(self, *args)
                except BlockingIOError:
                    if self._timeout == 0.0:
                        raise
                self._wait_read()

        def recvmsg_into(self, *args):
            while True:
                try:
                    return _CSocket.recvmsg_into(self, *args)
                except BlockingIOError:
                    if self._timeout == 0.0:
                        raise
                self._wait_read()

    # -- writing -------------------------------------------------------------------

    def send(self, data: Any = _MISSING, flags: int = 0, timeout: Any = timeout_default) -> int:
        """The stdlib's ``send``; ``timeout`` (gevent's) bounds this call's
        wait instead of the socket's timeout (0: never wait)."""
        if data is _MISSING:
            return _c_send(self)     # the stdlib's own error for the missing argument
        if timeout is timeout_default:
            while True:
                try:
                    return _c_send(self, data, flags)
                except BlockingIOError:
                    if self._timeout == 0.0 or flags & _MSG_DONTWAIT:
                        raise
                self._wait_write()
        timeout = _check_timeout(timeout)
        if timeout:
            loop = (self._hub or get_hub()).loop
            deadline = loop.now() + timeout
        while True:
            try:
                return _c_send(self, data, flags)
            except BlockingIOError:
                if timeout == 0.0 or flags & _MSG_DONTWAIT:
                    raise
            if timeout is None:
                self._wait_write_for(None)
            else:
                left = deadline - loop.now()
                if left <= 0:
                    raise _timed_out()
                self._wait_write_for(left)

    def sendto(self, *args) -> int:
        while True:
            try:
                return _c_sendto(self, *args)
            except BlockingIOError:
                if self._timeout == 0.0 or (len(args) == 3 and _dontwait(args, 1)):
                    raise
            self._wait_write()

    if hasattr(_CSocket, "sendmsg"):
        def sendmsg(self, *args):
            while True:
                try:
                    return _CSocket.sendmsg(self, *args)
                except BlockingIOError:
                    if self._timeout == 0.0:
                        raise
                self._wait_write()

    if hasattr(_CSocket, "sendmsg_afalg"):
        def sendmsg_afalg(self, *args, **kwargs):
            while True:
                try:
                    return _CSocket.sendmsg_afalg(self, *args, **kwargs)
                except BlockingIOError:
                    if self._timeout == 0.0:
                        raise
                self._wait_write()

    def sendall(self, data: Any = _MISSING, flags: int = 0, timeout: Any = timeout_default
                ) -> None:
        """Send all of ``data``; the timeout (the socket's, or ``timeout``
        if given) bounds the whole call, as in the stdlib."""
        if data is _MISSING:
            return _StdSocket.sendall(self)    # the stdlib's own error
        timeout = self._timeout if timeout is timeout_default else _check_timeout(timeout)
        try:
            sent = _c_send(self, data, flags)
        except BlockingIOError:
            if timeout == 0.0 or flags & _MSG_DONTWAIT:
                raise
            sent = 0
        if type(data) is bytes:
            if sent == len(data):
                return None
        with memoryview(data) as view:
            if sent == view.nbytes:
                return None
            with view.cast("B") as bview:
                self._sendall_rest(bview, sent, flags, timeout)
        return None

    def _sendall_rest(self, view, sent, flags, timeout):
        total = len(view)
        if timeout:
            hub = self._hub or get_hub()
            deadline = hub.loop.now() + timeout
        while sent < total:
            if timeout:
                left = deadline - hub.loop.now()
                if left <= 0:
                    raise _timed_out()
                self._wait_write_for(left)
            elif timeout is None:
                self._wait_write_for(None)
            try:
                sent += _c_send(self, view[sent:], flags)
            except BlockingIOError:
                if timeout == 0.0:
                    raise

    if _os_sendfile is not None:
        def _sendfile_use_sendfile(self, file, offset=0, count=None):
            # The stdlib version blocks in a private poll(); this one waits in the hub.
            self._check_sendfile_params(file, offset, count)
            sockno = self.fileno()
            try:
                fileno = file.fileno()
                fsize = _os.fstat(fileno).st_size
            except (AttributeError, OSError, ValueError) as err:
                raise _std._GiveupOnSendfile(err)
            except Exception as err:  # io.UnsupportedOperation and friends
                raise _std._GiveupOnSendfile(err)
            if not fsize:
                return 0
            if self._timeout == 0:
                raise ValueError("non-blocking sockets are not supported")
            blocksize = min(count or fsize, 2 ** 30)
            total_sent = 0
            try:
                while True:
                    if count:
                        blocksize = count - total_sent
                        if blocksize <= 0:
                            break
                    try:
                        sent = _os_sendfile(sockno, fileno, offset, blocksize)
                    except BlockingIOError:
                        self._wait_write()
                        continue
                    except OSError as err:
                        if total_sent == 0:
                            raise _std._GiveupOnSendfile(err)
                        raise err from None
                    if sent == 0:
                        break
                    offset += sent
                    total_sent += sent
                return total_sent
            finally:
                if total_sent > 0 and hasattr(file, "seek"):
                    file.seek(offset)

    # -- connections -----------------------------------------------------------------

    def accept(self) -> tuple[socket, Any]:
        """Wait for a connection; returns ``(coopshell socket, address)``."""
        while True:
            try:
                fd, addr = _c_accept(self)
                break
            except BlockingIOError:
                if self._timeout == 0.0:
                    raise
            self._wait_read()
        return socket(_c_family(self), _c_type(self), _c_proto(self), fd), addr

    def connect(self, address) -> None:
        if self._timeout == 0.0:
            return _c_connect(self, address)
        address = _resolve(self, address)
        try:
            return _c_connect(self, address)
        except (BlockingIOError, InterruptedError):
            pass  # in progress: wait for the outcome
        self._wait_write()
        err = _c_getsockopt(self, _SOL_SOCKET, _SO_ERROR)
        if err:
            raise OSError(err, _strerror(err))
        return None

    def connect_ex(self, address) -> int:
        if self._timeout == 0.0:
            return _c_connect_ex(self, address)
        address = _resolve(self, address)
        err = _c_connect_ex(self, address)
        if err in _CONNECT_PENDING:
            try:
                self._wait_write()
            except _timeout_error:
                return EWOULDBLOCK
            err = _c_getsockopt(self, _SOL_SOCKET, _SO_ERROR)
        return err if err != EISCONN else 0

    # -- lifetime ---------------------------------------------------------------------

    def _real_close(self, _ss=_CSocket):
        hub = self._hub
        if hub is not None:
            self._drop_watchers()
            fd = _c_fileno(self)
            loop = hub.loop
            if fd >= 0 and loop.thread_ident == _get_ident() and not loop.closed:
                loop.closing_fd(fd)   # from another thread, epoll drops the fd by itself
        _ss.close(self)

    def detach(self) -> int:
        self._drop_watchers()
        return _StdSocket.detach(self)


SocketType = socket


def socketpair(family: int | None = None, type: int = _std.SOCK_STREAM, proto: int = 0
               ) -> tuple[socket, socket]:
    """A pair of connected coopshell sockets (AF_UNIX by default)."""
    if family is None:
        family = getattr(_std, "AF_UNIX", _AF_INET)
    a, b = _c_socketpair(family, type, proto)
    return (socket(family, type, proto, a.detach()), socket(family, type, proto, b.detach()))


def fromfd(fd: int, family: int, type: int, proto: int = 0) -> socket:
    """A coopshell socket on a duplicate of ``fd``."""
    return socket(family, type, proto, _c_dup(fd))


def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None, *,
                      all_errors: bool = False) -> socket:
    """Connect to ``(host, port)``, trying each address the cooperative
    ``getaddrinfo`` returns; the stdlib's signature and errors."""
    host, port = address
    exceptions = []
    for res in getaddrinfo(host, port, 0, _std.SOCK_STREAM):
        af, socktype, proto, _canon, sa = res
        sock = None
        try:
            sock = socket(af, socktype, proto)
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sa)
            exceptions.clear()
            return sock
        except _std.error as exc:
            if not all_errors:
                exceptions.clear()
            exceptions.append(exc)
            if sock is not None:
                sock.close()
    if exceptions:
        try:
            if not all_errors or _ExceptionGroup is None:
                raise exceptions[0]
            raise _ExceptionGroup("create_connection failed", exceptions)
        finally:
            exceptions.clear()
    raise _std.error("getaddrinfo returns an empty list")


def create_server(address, *, family=_AF_INET, backlog=None, reuse_port=False,
                  dualstack_ipv6=False) -> socket:
    """The stdlib's ``create_server`` (binding never blocks), returning a coopshell socket."""
    sock = _std_create_server(address, family=family, backlog=backlog, reuse_port=reuse_port,
                              dualstack_ipv6=dualstack_ipv6)
    family, type_, proto = _c_family(sock), _c_type(sock), _c_proto(sock)
    return socket(family, type_, proto, sock.detach())


# -- waiting on raw file descriptors ---------------------------------------------------

#: Raised in a greenlet waiting on an fd that ``cancel_wait`` cancelled (gevent's name).
cancel_wait_ex = cancel_wait_error()


def _wait_fd(fd, events, timeout, timeout_exc, caller):
    if not isinstance(fd, int):
        fileno = getattr(fd, "fileno", None)
        if fileno is None or not callable(fileno):
            raise TypeError(f"{caller}() expected a file descriptor (int) or an object with a "
                            f"fileno() method, got {fd!r}")
        fd = fileno()
        if not isinstance(fd, int):
            raise TypeError(f"{caller}(): fileno() of the object given must return an int, "
                            f"got {fd!r}")
    if fd < 0:
        raise ValueError(f"{caller}() expected a non-negative file descriptor, got {fd}")
    hub = get_hub()
    watcher = hub.loop.io(fd, events)
    wait_io(hub, watcher, timeout, _timed_out if timeout_exc is None else timeout_exc)


def wait(io, timeout: float | None = None, timeout_exc=None) -> Any:
    """gevent's low-level wait on the watcher ``io`` until it fires; after
    ``timeout`` raise ``timeout_exc`` (default ``socket.timeout``)."""
    if io.callback is not None:
        raise ConcurrentObjectUseError(f"This watcher is already used by another greenlet: {io.callback!r}")
    from .timeout import Timeout
    with Timeout._start_new_or_dummy(timeout, _timed_out() if timeout_exc is None else timeout_exc):
        return get_hub().wait(io)


def wait_read(fileno: int, timeout: float | None = None, timeout_exc=None) -> None:
    """Wait until ``fileno`` is readable; ``timeout`` raises ``timeout_exc``
    (default ``TimeoutError('timed out')``)."""
    _wait_fd(fileno, READ, timeout, timeout_exc, "wait_read")


def wait_write(fileno: int, timeout: float | None = None, timeout_exc=None) -> None:
    """Wait until ``fileno`` is writable."""
    _wait_fd(fileno, WRITE, timeout, timeout_exc, "wait_write")


def wait_readwrite(fileno: int, timeout: float | None = None, timeout_exc=None) -> None:
    """Wait until ``fileno`` is readable or writable."""
    _wait_fd(fileno, READ | WRITE, timeout, timeout_exc, "wait_readwrite")


def cancel_wait(watcher, error=None) -> None:
    """Wake the greenlet waiting on ``watcher`` with ``error`` (default:
    ``OSError(EBADF)``) raised from its wait; a no-op if nobody waits."""
    _cancel_wait(watcher, cancel_wait_error() if error is None else error)


# -- helpers ------------------------------------------------------------------------

def _dontwait(args, index, kwargs=None) -> bool:
    """True if the call's flags include MSG_DONTWAIT: the stdlib then
    raises BlockingIOError even on a blocking socket, and so do we."""
    if len(args) > index:
        flags = args[index]
    elif kwargs:
        flags = kwargs.get("flags", 0)
    else:
        return False                  # recv(bufsize): the common case
    return isinstance(flags, int) and bool(flags & _MSG_DONTWAIT)


def _check_timeout(timeout):
    """A ``send(timeout=...)`` value as a float or None. A negative one means
    the time is already up (ported code passes ``deadline - now``); NaN and
    non-numbers are errors."""
    if timeout is None:
        return None
    if type(timeout) is not float and type(timeout) is not int:
        t = type(timeout)
        if not (hasattr(t, "__float__") or hasattr(t, "__index__")):
            raise TypeError(f"timeout must be None or a number of seconds, got {timeout!r}")
        timeout = float(timeout)
    if timeout != timeout:
        raise ValueError("timeout must be None or a number of seconds, got nan")
    return float(timeout) if timeout >= 0 else -1.0


def _resolve(sock, address):
    """Resolve a host name in ``address`` cooperatively (the C connect would
    call the blocking resolver)."""
    if type(address) is not tuple or len(address) < 2:
        return address
    host = address[0]
    if type(host) is not str or not host or host == "<broadcast>":
        return address
    family = _c_family(sock)
    if family != _AF_INET and family != _AF_INET6:
        return address
    try:
        _inet_pton(family, host)
        return address
    except (OSError, ValueError):
        pass
    port = address[1]
    infos = getaddrinfo(host, port, family, _c_type(sock), _c_proto(sock))
    if not infos:
        raise _std.gaierror(-2, "Name or service not known")
    sa = infos[0][4]
    if family == _AF_INET6 and len(address) > 2:
        sa = (sa[0], sa[1]) + tuple(address[2:])
    return sa
