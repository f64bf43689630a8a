"""A resolver that calls the system's lookups directly: it blocks the thread
(gevent's ``gevent.resolver.blocking``). Useful to rule the resolver out
while debugging; never the default."""

from __future__ import annotations

from typing import Any

from .thread import (_gethostbyaddr, _gethostbyname, _gethostbyname_ex, _getaddrinfo,
                     _getnameinfo, Resolver as _ThreadResolver)

__all__ = ["Resolver"]


class Resolver:
    """The system resolver, called in the calling thread (blocking)."""

    def __init__(self, hub: Any = None):
        self.hub = hub

    def gethostbyname(self, hostname):
        return _gethostbyname(hostname)

    def gethostbyname_ex(self, hostname):
        return _gethostbyname_ex(hostname)

    def gethostbyaddr(self, ip_address):
        return _gethostbyaddr(ip_address)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        return _getaddrinfo(host, port, family, type, proto, flags)

    def getnameinfo(self, sockaddr, flags):
        return _getnameinfo(sockaddr, flags)

    getfqdn = _ThreadResolver.getfqdn      # the stdlib's algorithm on our gethostbyaddr

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self):
        return f"<{type(self).__name__} at {id(self):#x}>"
