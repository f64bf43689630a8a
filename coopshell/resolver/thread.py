"""The default resolver: the system's lookups, run in the thread pool
(gevent's ``gevent.resolver.thread``).

``gethostbyname``, ``gethostbyname_ex``, ``gethostbyaddr``, ``getaddrinfo``,
``getnameinfo`` and ``getfqdn`` have the stdlib's signatures and results.
Each lookup runs the system resolver (the ORIGINAL socket functions,
captured at import) in the hub's thread pool, so ``/etc/hosts``, nsswitch
and the system's DNS settings are respected exactly as without coopshell.

Differs from the stdlib:

- The calling greenlet waits; others run. Errors (``socket.gaierror``,
  ``socket.herror``, ``TypeError``...) are raised in the caller, never
  printed by the hub.
- Identical lookups in flight at the same time are coalesced: 200 greenlets
  asking for ``'localhost'`` cost one system call, and each gets its own
  copy of the result (lists are copied; errors are fresh exception objects).
  A caller may therefore get the answer to a lookup that started slightly
  before its call.
- Lookups that cannot block are answered inline, without a thread: IP
  literals in ``gethostbyname``; ``getaddrinfo`` with ``AI_NUMERICHOST``, an
  IP literal or no host (and a numeric or absent port); ``getnameinfo`` with
  ``NI_NUMERICHOST | NI_NUMERICSERV``. Malformed arguments too, so they
  raise the stdlib's ``TypeError`` at the call.
- In a thread-pool worker thread every call just blocks (no hand-off).
"""

from __future__ import annotations

import socket as _socket
from functools import partial
from typing import Any

from .._core.hub import get_hub
from ..threadpool import get_default_pool, in_worker_thread

__all__ = ["Resolver"]

# The originals, captured before any monkey patching.
_gethostbyname = _socket.gethostbyname
_gethostbyname_ex = _socket.gethostbyname_ex
_gethostbyaddr = _socket.gethostbyaddr
_getaddrinfo = _socket.getaddrinfo      # the stdlib wrapper: returns AddressFamily/SocketKind enums
_getnameinfo = _socket.getnameinfo
_gethostname = _socket.gethostname
_inet_pton = _socket.inet_pton
_AF_INET = _socket.AF_INET
_AF_INET6 = _socket.AF_INET6
_AI_NUMERICHOST = _socket.AI_NUMERICHOST
_AI_NUMERICSERV = getattr(_socket, "AI_NUMERICSERV", 0)
_NI_NUMERIC = _socket.NI_NUMERICHOST | _socket.NI_NUMERICSERV
_error = _socket.error
_HOST_TYPES = (str, bytes, bytearray)

class Resolver:
    """Runs system lookups in ``hub``'s thread pool, coalescing identical
    lookups that are in flight together. One per hub; the module functions
    use the current thread's."""

    def __init__(self, hub=None):
        self.hub = get_hub() if hub is None else hub
        self._inflight: dict = {}

    def _call(self, func, args, copy):
        if in_worker_thread():
            return func(*args)
        key = (func, args)
        inflight = self._inflight
        try:
            result = inflight.get(key)
        except TypeError:  # unhashable arguments: no coalescing
            key = None
            result = None
        if result is None:
            result = get_default_pool(self.hub).spawn(func, *args)
            if key is not None:
                inflight[key] = result
                result.rawlink(partial(_forget, inflight, key))
        try:
            value = result.get()
        except OSError as exc:
            # A fresh exception per caller: coalesced waiters must not share
            # (and mutate) one traceback.
            raise _fresh(exc) from None
        return value if copy is None else copy(value)

    def gethostbyname(self, hostname):
        if not isinstance(hostname, _HOST_TYPES) or _is_ip(hostname) or not hostname:
            return _gethostbyname(hostname)
        return self._call(_gethostbyname, (_key(hostname),), None)

    def gethostbyname_ex(self, hostname):
        if not isinstance(hostname, _HOST_TYPES):
            return _gethostbyname_ex(hostname)
        return self._call(_gethostbyname_ex, (_key(hostname),), _copy_hostent)

    def gethostbyaddr(self, ip_address):
        if not isinstance(ip_address, _HOST_TYPES):
            return _gethostbyaddr(ip_address)
        return self._call(_gethostbyaddr, (_key(ip_address),), _copy_hostent)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if (not _plain_ints(family, type, proto, flags)
                or not (host is None or isinstance(host, _HOST_TYPES))
                or not (port is None or isinstance(port, (int, str, bytes)))
                or ((host is None or flags & _AI_NUMERICHOST or _is_ip(host))
                    and _numeric_port(port, flags))):
            return _getaddrinfo(host, port, family, type, proto, flags)
        return self._call(_getaddrinfo, (_key(host), port, family, type, proto, flags), list)

    def getnameinfo(self, sockaddr, flags):
        if (type(sockaddr) is not tuple or not _plain_ints(flags)
                or flags & _NI_NUMERIC == _NI_NUMERIC):
            return _getnameinfo(sockaddr, flags)
        return self._call(_getnameinfo, (sockaddr, flags), None)

    def getfqdn(self, name=""):
        name = name.strip()
        if not name or name in ("0.0.0.0", "::"):
            name = _gethostname()
        try:
            hostname, aliases, _ = self.gethostbyaddr(name)
        except _error:
            return name
        for candidate in [hostname] + aliases:
            if "." in candidate:
                return candidate
        return hostname

    def close(self) -> None:
        """Forget lookups in flight (their waiters still get their answers)."""
        self._inflight.clear()

    def __repr__(self):
        return f"<{type(self).__name__} at {id(self):#x} inflight={len(self._inflight)}>"


# -- helpers ---------------------------------------------------------------------

def _forget(inflight, key, result):
    if inflight.get(key) is result:
        del inflight[key]


def _fresh(exc):
    try:
        return exc.__class__(*exc.args)
    except Exception:
        return exc


def _copy_hostent(value):
    name, aliases, addresses = value
    return name, list(aliases), list(addresses)


def _key(host):
    return bytes(host) if type(host) is bytearray else host


def _is_ip(host) -> bool:
    if not isinstance(host, str):
        try:
            host = bytes(host).decode("ascii")
        except (UnicodeDecodeError, TypeError):
            return False
    try:
        _inet_pton(_AF_INET, host)
        return True
    except (OSError, ValueError):
        pass
    if ":" in host:
        try:
            _inet_pton(_AF_INET6, host.partition("%")[0])
            return True
        except (OSError, ValueError):
            pass
    return False


def _plain_ints(*values) -> bool:
    for v in values:
        if not isinstance(v, int):
            return False
    return True


def _numeric_port(port, flags) -> bool:
    if port is None or isinstance(port, int) or flags & _AI_NUMERICSERV:
        return True
    try:
        int(port)
        return True
    except ValueError:
        return False
