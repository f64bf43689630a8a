"""A cooperative resolver on c-ares, through pycares (gevent's ``gevent.resolver.ares``).

c-ares runs the lookups (``/etc/hosts``, then DNS, as resolv.conf says);
its sockets are watched by the hub and its timeouts are hub timers, so no
thread is used and any number of lookups run at once.

Differs from the system resolver: nsswitch is not consulted; c-ares's own
answer order and error texts; ``gethostbyname_ex`` reports the CNAME chain
c-ares returns.

Needs pycares (``pip install pycares``); only this module imports it.
"""

from __future__ import annotations

import socket as _socket
from typing import Any

try:
    import pycares
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError("coopshell.resolver.ares needs pycares (pip install pycares); or choose "
                      f"another resolver, e.g. COOPSHELL_RESOLVER=dnspython ({_exc})") from None

from .._core.hub import get_hub
from .._core.loop import READ, WRITE
from ..event import AsyncResult
from .thread import (_HOST_TYPES, _gethostbyaddr, _gethostbyname, _gethostbyname_ex,
                     _getaddrinfo, _getnameinfo, _is_ip, _numeric_port, _plain_ints,
                     Resolver as _ThreadResolver)

__all__ = ["Resolver"]

_gaierror, _herror = _socket.gaierror, _socket.herror
_AF_INET, _AF_INET6, _AF_UNSPEC = _socket.AF_INET, _socket.AF_INET6, _socket.AF_UNSPEC
_AI_NUMERICHOST, _AI_CANONNAME = _socket.AI_NUMERICHOST, _socket.AI_CANONNAME
_NI_NUMERICHOST = _socket.NI_NUMERICHOST
_EAI_NONAME, _EAI_AGAIN = _socket.EAI_NONAME, _socket.EAI_AGAIN
_EAI_NODATA = getattr(_socket, "EAI_NODATA", _EAI_NONAME)
_BAD = pycares.ARES_SOCKET_BAD
_E = pycares.errno
_NOT_FOUND = {_E.ARES_ENOTFOUND: (_EAI_NONAME, "Name or service not known"),
              _E.ARES_ENODATA: (_EAI_NODATA, "No address associated with hostname")}


class Resolver:
    """c-ares look-ups awaited on ``hub``. ``servers`` (IP strings),
    ``timeout``, ``tries``, ``udp_port``/``tcp_port`` and the other keywords
    are pycares ``Channel``'s; unset ones come from resolv.conf."""

    def __init__(self, hub: Any = None, **channel_options: Any):
        self.hub = get_hub() if hub is None else hub
        self._watchers: dict[int, Any] = {}
        self._timer = None
        self._pending = 0
        self.channel = pycares.Channel(sock_state_cb=self._sock_state, **channel_options)

    # -- the stdlib's functions --------------------------------------------------------
    def gethostbyname(self, hostname):
        if not isinstance(hostname, _HOST_TYPES) or not hostname or _is_ip(hostname):
            return _gethostbyname(hostname)
        return self.gethostbyname_ex(hostname)[2][0]

    def gethostbyname_ex(self, hostname):
        if not isinstance(hostname, _HOST_TYPES) or _is_ip(hostname):
            return _gethostbyname_ex(hostname)
        name = _text(hostname)
        result = self._addrinfo(name, _AF_INET)
        addrs = [_text(n.addr[0]) for n in result.nodes if n.family == _AF_INET]
        if not addrs:
            raise _gaierror(_EAI_NODATA, "No address associated with hostname")
        cnames = [_text(c) for c in (result.cnames or [])]
        canonical = cnames[-1] if cnames else name
        return canonical, [name] + cnames[:-1] if cnames else [], list(dict.fromkeys(addrs))

    def gethostbyaddr(self, ip_address):
        if not isinstance(ip_address, _HOST_TYPES):
            return _gethostbyaddr(ip_address)
        ip = _text(ip_address)
        if not _is_ip(ip):
            ip = self.gethostbyname(ip)
        try:
            result = self._call(self.channel.gethostbyaddr, (ip.partition("%")[0],), {})
        except _AresError:
            raise _herror(1, "Unknown host") from None
        return result.name, list(result.aliases), list(result.addresses)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if (not _plain_ints(family, type, proto, flags)
                or not (host is None or isinstance(host, _HOST_TYPES))
                or not (port is None or isinstance(port, (int, str, bytes)))
                or host is None or flags & _AI_NUMERICHOST or _is_ip(host)):
            return _getaddrinfo(host, port, family, type, proto, flags)    # inline
        if not _numeric_port(port, flags):
            _getaddrinfo("127.0.0.1", port, 0, type, proto, 0)   # the service must exist
        result = self._addrinfo(_text(host), family)
        addrs = list(dict.fromkeys(_text(n.addr[0]) for n in result.nodes
                                   if n.family in (_AF_INET, _AF_INET6)
                                   and (family == _AF_UNSPEC or n.family == family)))
        if not addrs:
            raise _gaierror(_EAI_NODATA, "No address associated with hostname")
        entries = [e for a in addrs for e in _getaddrinfo(
            a, port, family, type, proto, (flags & ~_AI_CANONNAME) | _AI_NUMERICHOST)]
        if flags & _AI_CANONNAME and entries:
            f, t, p, _, sa = entries[0]
            cnames = result.cnames or []
            entries[0] = (f, t, p, _text(cnames[-1]) if cnames else _text(host), sa)
        return entries

    def getnameinfo(self, sockaddr, flags):
        if type(sockaddr) is not tuple or not _plain_ints(flags) or len(sockaddr) < 2:
            return _getnameinfo(sockaddr, flags)
        numeric = _getnameinfo(sockaddr, flags | _NI_NUMERICHOST)      # checks the arguments
        if flags & _NI_NUMERICHOST or not isinstance(sockaddr[0], str):
            return numeric
        host = sockaddr[0]
        if not _is_ip(host):
            host = self.gethostbyname(host)
        try:
            name = self.gethostbyaddr(host)[0]
        except _herror:
            if flags & _socket.NI_NAMEREQD:
                raise _gaierror(_EAI_NONAME, "Name or service not known") from None
            return numeric
        return name, numeric[1]

    getfqdn = _ThreadResolver.getfqdn

    def close(self) -> None:
        """Cancel the lookups in flight and release the channel."""
        self.channel.cancel()
        for w in self._watchers.values():
            w.stop()
        self._watchers.clear()
        if self._timer is not None:
            self._timer.cancel()
        self.channel.close()

    def __repr__(self):
        return f"<{type(self).__name__} at {id(self):#x} pending={self._pending}>"

    # -- driving c-ares from the hub ---------------------------------------------------
    def _addrinfo(self, name, family):
        try:
            return self._call(self.channel.getaddrinfo, (name, None),
                              {"family": family, "type": _socket.SOCK_STREAM})
        except _AresError as exc:
            errno, text = _NOT_FOUND.get(exc.code, (_EAI_AGAIN, exc.text))
            raise _gaierror(errno, text) from None

    def _call(self, method, args, kwargs):
        result = AsyncResult()

        def done(value, error):
            if error:
                result.set_exception(_AresError(error))
            else:
                result.set(value)
        method(*args, callback=done, **kwargs)
        self._pending += 1
        try:
            self._arm_timer()
            return result.get()
        finally:
            self._pending -= 1

    def _sock_state(self, fd, readable, writable):
        w = self._watchers.pop(fd, None)
        if w is not None:
            w.stop()
        events = (READ if readable else 0) | (WRITE if writable else 0)
        if events:
            w = self._watchers[fd] = self.hub.loop.io(fd, events)
            w.start(self._on_fd_ready, fd, pass_events=True)

    def _on_fd_ready(self, events, fd):
        self.channel.process_fd(fd if events & READ else _BAD, fd if events & WRITE else _BAD)
        self._arm_timer()

    def _arm_timer(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            delay = self.channel.timeout()
            self._timer = self.hub.loop.add_timer(1.0 if delay is None else delay,
                                                  self._on_timer, ref=False)

    def _on_timer(self):
        self._timer = None
        self.channel.process_fd(_BAD, _BAD)
        self._arm_timer()


class _AresError(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code
        self.text = _E.strerror(code)


def _text(value) -> str:
    return value if isinstance(value, str) else bytes(value).decode("idna")
