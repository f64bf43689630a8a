"""Cooperative replacement for the stdlib ``ssl`` module.

``SSLContext.wrap_socket`` returns an ``SSLSocket`` whose handshake, reads,
writes and ``unwrap`` wait in the hub on ``SSLWantReadError`` /
``SSLWantWriteError`` instead of blocking the thread. Everything else
(certificates, ``SSLObject``/``MemoryBIO``, constants, errors) is the stdlib's.

Differs from the stdlib:

- ``SSLSocket`` subclasses both the stdlib ``ssl.SSLSocket`` and
  ``coopshell.socket.socket``: ``isinstance`` checks against either pass.
- Timeouts raise ``TimeoutError`` with the stdlib's messages ("The read
  operation timed out", ...).
"""

from __future__ import annotations

import _socket as _csocket
import os as _os
import ssl as _std
import sys as _sys
import warnings as _warnings
from errno import EAGAIN as _EAGAIN, EINVAL as _EINVAL, ENOTCONN as _ENOTCONN
from functools import partial as _partial
from typing import Any

from ._core.hub import get_hub
from ._core.io_wait import wait_io
from ._core.loop import READ, WRITE
from .socket import _GLOBAL_DEFAULT_TIMEOUT, _check_timeout, create_connection as _create_connection
from .socket import socket as _socket, timeout_default as _timeout_default

#: Stdlib names this module rewrites to cooperate (``wrap_socket`` only where
#: the running stdlib still has it: 3.12 removed it).
__implements__ = ["SSLContext", "SSLSocket", "create_default_context",
                  "get_server_certificate", "_create_default_https_context",
                  "_create_unverified_context", "_create_stdlib_context"] + (
                      ["wrap_socket"] if hasattr(_std, "wrap_socket") else [])
#: Names only coopshell has.
__extensions__: list[str] = []
#: Stdlib callables passed through after review: enums, pure conversions,
#: in-memory TLS objects (``SSLObject``/``MemoryBIO`` never touch a socket).
_REVIEWED = {"AlertDescription", "Options", "Purpose", "SSLErrorNumber", "TLSVersion",
             "VerifyFlags", "VerifyMode", "DefaultVerifyPaths", "MemoryBIO", "SSLObject",
             "SSLSession", "DER_cert_to_PEM_cert", "PEM_cert_to_DER_cert", "RAND_add",
             "RAND_bytes", "RAND_pseudo_bytes", "RAND_status", "cert_time_to_seconds",
             "get_default_verify_paths", "get_protocol_name", "match_hostname"}


def _std_public() -> list[str]:
    return [n for n in dir(_std) if not n.startswith("_") and not isinstance(
        getattr(_std, n), type(_os))]


def _is_constant_or_exception(obj) -> bool:
    return not callable(obj) or (isinstance(obj, type) and issubclass(obj, BaseException))


__imports__ = [n for n in _std_public() if n not in __implements__
               and (n in _REVIEWED or _is_constant_or_exception(getattr(_std, n)))]
globals().update({n: getattr(_std, n) for n in __imports__})

__all__ = [n for n in __implements__ if not n.startswith("_")] + __imports__ + __extensions__

_StdSSLSocket = _std.SSLSocket
_c_recv = _csocket.socket.recv
_SOL_SOCKET, _SO_TYPE, _SOCK_STREAM = _std.SOL_SOCKET, _std.SO_TYPE, _std.SOCK_STREAM
_StdSSLContext = _std.SSLContext
_CContext = _std._SSLContext
_SSLError = _std.SSLError
_SSLWantReadError = _std.SSLWantReadError
_SSLWantWriteError = _std.SSLWantWriteError
_SSL_ERROR_EOF = _std.SSL_ERROR_EOF
_Purpose = _std.Purpose
_READ_TIMEOUT = _partial(TimeoutError, "The read operation timed out")
_WRITE_TIMEOUT = _partial(TimeoutError, "The write operation timed out")
_HANDSHAKE_TIMEOUT = _partial(TimeoutError, "The handshake operation timed out")
_SHUTDOWN_TIMEOUT = _partial(TimeoutError, "The shutdown operation timed out")


class SSLSocket(_StdSSLSocket, _socket):
    """A TLS socket whose blocking operations wait in the hub. Created by
    ``SSLContext.wrap_socket``, as in the stdlib."""

    @classmethod
    def _create(cls, sock, server_side=False, do_handshake_on_connect=True,
                suppress_ragged_eofs=True, server_hostname=None, context=None, session=None):
        # Our own constructor path: the stdlib's resolves ``SSLSocket`` from
        # the ssl module's globals, which monkey patching points at this class.
        if sock.getsockopt(_SOL_SOCKET, _SO_TYPE) != _SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        if server_side:
            if server_hostname:
                raise ValueError("server_hostname can only be specified in client mode")
            if session is not None:
                raise ValueError("session can only be specified in client mode")
        if context.check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")
        family, type_, proto, fd = sock.family, sock.type, sock.proto, sock.fileno()
        timeout = sock.gettimeout()
        self = cls.__new__(cls, family, type_, proto, fd)
        _socket.__init__(self, family, type_, proto, fd)
        sock.detach()
        self._context = context
        self._session = session
        self._closed = False
        self._sslobj = None
        self.server_side = server_side
        self.server_hostname = context._encode_hostname(server_hostname)
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs
        connected = self._check_peer()
        self.settimeout(timeout)
        self._connected = connected
        if connected:
            try:
                self._sslobj = context._wrap_socket(self, server_side, self.server_hostname,
                                                    owner=self, session=session)
                if do_handshake_on_connect:
                    if timeout == 0.0:
                        raise ValueError("do_handshake_on_connect should not be specified for "
                                         "non-blocking sockets")
                    self.do_handshake()
            except (OSError, ValueError):
                self.close()
                raise
        return self

    def _check_peer(self) -> bool:
        """True if connected. If not, refuse plaintext that arrived before
        the handshake (the stdlib's guard against it posing as TLS data)."""
        try:
            self.getpeername()
            return True
        except OSError as exc:
            if exc.errno != _ENOTCONN:
                raise
        try:
            early = _c_recv(self, 1)      # the fd is non-blocking: never waits
        except OSError as exc:
            if exc.errno not in (_ENOTCONN, _EINVAL, _EAGAIN):
                raise
            early = b""
        if early:
            reason = "Closed before TLS handshake with data in recv buffer."
            err = _SSLError(_ENOTCONN, reason)
            err.reason = reason
            err.library = None
            try:
                self.close()
            except OSError:
                pass
            raise err
        return False

    def _ssl_wait(self, events, timeout, timeout_exc):
        w = self._rw if events == READ else self._ww
        if w is None or self._hub is not get_hub():
            w = self._watcher(events)
        wait_io(self._hub, w, timeout, timeout_exc)

    def _retry(self, func, args, timeout_exc, block=False, timeout=_timeout_default):
        """Call ``func(*args)``, waiting in the hub while OpenSSL wants I/O;
        each wait is bounded by ``timeout`` (default: the socket's)."""
        if timeout is _timeout_default:
            timeout = self._timeout
        if block and timeout == 0.0:
            timeout = None          # do_handshake(block=True) on a non-blocking socket
        while True:
            try:
                return func(*args)
            except _SSLWantReadError:
                if timeout == 0.0:
                    raise
                events = READ
            except _SSLWantWriteError:
                if timeout == 0.0:
                    raise
                events = WRITE
            self._ssl_wait(events, timeout, timeout_exc)
            if self._sslobj is None:
                raise ValueError("SSL socket was closed or unwrapped while waiting")

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """Read up to ``len`` bytes (into ``buffer`` if given); b'' or 0 at EOF."""
        self._checkClosed()
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        args = (len,) if buffer is None else (len, buffer)
        try:
            return self._retry(sslobj.read, args, _READ_TIMEOUT)
        except _SSLError as x:
            if x.args[0] == _SSL_ERROR_EOF and self.suppress_ragged_eofs:
                return b"" if buffer is None else 0
            raise

    def write(self, data: Any) -> int:
        """Write ``data``; returns the number of bytes written."""
        self._checkClosed()
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError("Write on closed or unwrapped SSL socket.")
        return self._retry(sslobj.write, (data,), _WRITE_TIMEOUT)

    def send(self, data: Any, flags: int = 0, timeout: Any = _timeout_default) -> int:
        """The stdlib's ``send``; ``timeout`` (gevent's) bounds this call's
        waits instead of the socket's timeout."""
        self._checkClosed()
        sslobj = self._sslobj
        if sslobj is None:
            return _socket.send(self, data, flags, timeout)
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to send() on {self.__class__}")
        if timeout is _timeout_default:
            return self._retry(sslobj.write, (data,), _WRITE_TIMEOUT)
        return self._retry(sslobj.write, (data,), _WRITE_TIMEOUT, timeout=_check_timeout(timeout))

    def do_handshake(self, block: bool = False) -> None:
        """Perform the TLS handshake, waiting in the hub as needed."""
        self._check_connected()
        self._retry(self._sslobj.do_handshake, (), _HANDSHAKE_TIMEOUT, block)

    def unwrap(self) -> _socket:
        """Shut TLS down and return the underlying socket (this object)."""
        sslobj = self._sslobj
        if not sslobj:
            raise ValueError("No SSL wrapper around " + str(self))
        s = self._retry(sslobj.shutdown, (), _SHUTDOWN_TIMEOUT)
        self._sslobj = None
        return s


class SSLContext(_StdSSLContext):
    """The stdlib's ``SSLContext``; ``wrap_socket`` returns a cooperative ``SSLSocket``.

    The property setters are redefined to call the C base class directly:
    the stdlib's use ``super(SSLContext, SSLContext)`` with the module
    global, which recurses forever once monkey patching makes that global
    this class.
    """

    sslsocket_class = SSLSocket

    if hasattr(_CContext, "minimum_version"):
        def _set_minimum_version(self, value):
            if value == _std.TLSVersion.SSLv3:
                self.options &= ~_std.Options.OP_NO_SSLv3
            _CContext.minimum_version.__set__(self, value)

        minimum_version = property(_StdSSLContext.minimum_version.fget, _set_minimum_version)
        maximum_version = property(_StdSSLContext.maximum_version.fget,
                                   _CContext.maximum_version.__set__)
        del _set_minimum_version

    options = property(_StdSSLContext.options.fget, _CContext.options.__set__)
    verify_flags = property(_StdSSLContext.verify_flags.fget, _CContext.verify_flags.__set__)
    verify_mode = property(_StdSSLContext.verify_mode.fget, _CContext.verify_mode.__set__)

    def _set_msg_callback(self, callback):
        if callback is None:
            _CContext._msg_callback.__set__(self, None)
            return
        if not callable(callback):
            raise TypeError(f"{callback} is not callable.")
        _CContext._msg_callback.__set__(self, _msg_callback_wrapper(callback))

    _msg_callback = property(_StdSSLContext._msg_callback.fget, _set_msg_callback)
    del _set_msg_callback


def _msg_callback_wrapper(callback):
    """Convert the C layer's ints to the stdlib's enums, then call ``callback``."""
    content_types = _std._TLSContentType

    def inner(conn, direction, version, content_type, msg_type, data):
        version = _enum_or_int(_std.TLSVersion, version)
        content_type = _enum_or_int(content_types, content_type)
        if content_type == content_types.HEADER:
            msg_type = _enum_or_int(content_types, msg_type)
        elif content_type == content_types.ALERT:
            msg_type = _enum_or_int(_std._TLSAlertType, msg_type)
        else:
            msg_type = _enum_or_int(_std._TLSMessageType, msg_type)
        return callback(conn, direction, version, content_type, msg_type, data)

    inner.user_function = callback
    return inner


def _enum_or_int(enum, value):
    try:
        return enum(value)
    except ValueError:
        return value


def create_default_context(purpose: Any = _Purpose.SERVER_AUTH, *, cafile: Any = None,
                           capath: Any = None, cadata: Any = None) -> SSLContext:
    """The stdlib's ``create_default_context``, returning our ``SSLContext``."""
    if not isinstance(purpose, _std._ASN1Object):
        raise TypeError(purpose)
    if purpose == _Purpose.SERVER_AUTH:
        context = SSLContext(_std.PROTOCOL_TLS_CLIENT)       # verifies, checks hostnames
    elif purpose == _Purpose.CLIENT_AUTH:
        context = SSLContext(_std.PROTOCOL_TLS_SERVER)
    else:
        raise ValueError(purpose)
    return _load_trust(context, purpose, cafile, capath, cadata)


def _create_unverified_context(protocol: int | None = None, *, cert_reqs: int = _std.CERT_NONE,
                               check_hostname: bool = False, purpose: Any = _Purpose.SERVER_AUTH,
                               certfile: Any = None, keyfile: Any = None, cafile: Any = None,
                               capath: Any = None, cadata: Any = None) -> SSLContext:
    """The stdlib's private unverified-context factory, returning our ``SSLContext``."""
    if not isinstance(purpose, _std._ASN1Object):
        raise TypeError(purpose)
    if protocol is None:
        if purpose == _Purpose.SERVER_AUTH:
            protocol = _std.PROTOCOL_TLS_CLIENT
        elif purpose == _Purpose.CLIENT_AUTH:
            protocol = _std.PROTOCOL_TLS_SERVER
        else:
            raise ValueError(purpose)
    context = SSLContext(protocol)
    context.check_hostname = check_hostname
    if cert_reqs is not None:
        context.verify_mode = cert_reqs
    if check_hostname and not cert_reqs:
        raise ValueError("check_hostname needs a SSL context with either CERT_OPTIONAL or "
                         "CERT_REQUIRED")
    if keyfile and not certfile:
        raise ValueError("certfile must be specified")
    if certfile or keyfile:
        context.load_cert_chain(certfile, keyfile)
    return _load_trust(context, purpose, cafile, capath, cadata)


def _load_trust(context: SSLContext, purpose: Any, cafile: Any, capath: Any, cadata: Any) -> SSLContext:
    """The CA certificates given, or the defaults for a verifying context; keylog."""
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != _std.CERT_NONE:
        context.load_default_certs(purpose)
    _set_keylog(context)
    return context


_create_default_https_context = create_default_context
_create_stdlib_context = _create_unverified_context


def _wrap_socket(sock: Any, keyfile: Any = None, certfile: Any = None, server_side: bool = False,
                cert_reqs: int = _std.CERT_NONE, ssl_version: int = _std.PROTOCOL_TLS,
                ca_certs: Any = None, do_handshake_on_connect: bool = True,
                suppress_ragged_eofs: bool = True, ciphers: Any = None) -> SSLSocket:
    """Deprecated (as in the stdlib): use ``SSLContext.wrap_socket``."""
    _warnings.warn("ssl.wrap_socket() is deprecated, use SSLContext.wrap_socket()",
                   category=DeprecationWarning, stacklevel=2)
    if server_side and not certfile:
        raise ValueError("certfile must be specified for server-side operations")
    if keyfile and not certfile:
        raise ValueError("certfile must be specified")
    context = SSLContext(ssl_version)
    context.verify_mode = cert_reqs
    if ca_certs:
        context.load_verify_locations(ca_certs)
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    if ciphers:
        context.set_ciphers(ciphers)
    return context.wrap_socket(sock=sock, server_side=server_side,
                               do_handshake_on_connect=do_handshake_on_connect,
                               suppress_ragged_eofs=suppress_ragged_eofs)


if "wrap_socket" in __implements__:
    wrap_socket = _wrap_socket
    wrap_socket.__name__ = wrap_socket.__qualname__ = "wrap_socket"
del _wrap_socket


def get_server_certificate(addr: tuple[str, int], ssl_version: int = _std.PROTOCOL_TLS_CLIENT,
                           ca_certs: Any = None, timeout: Any = _GLOBAL_DEFAULT_TIMEOUT) -> str:
    """The server's certificate as PEM, fetched cooperatively."""
    host, port = addr
    cert_reqs = _std.CERT_REQUIRED if ca_certs is not None else _std.CERT_NONE
    context = _create_unverified_context(ssl_version, cert_reqs=cert_reqs, cafile=ca_certs)
    with _create_connection(addr, timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as sslsock:
            der = sslsock.getpeercert(True)
    return _std.DER_cert_to_PEM_cert(der)


def _set_keylog(context):
    if hasattr(context, "keylog_filename"):
        keylogfile = _os.environ.get("SSLKEYLOGFILE")
        if keylogfile and not _sys.flags.ignore_environment:
            context.keylog_filename = keylogfile

