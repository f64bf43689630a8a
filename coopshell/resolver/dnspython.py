"""A cooperative DNS resolver on dnspython (gevent's ``gevent.resolver.dnspython``).

Queries are built and parsed with dnspython and sent from non-blocking
sockets that wait in the hub: no thread per lookup, so a hundred lookups
that each take 0.1 s finish together in about 0.1 s. ``/etc/hosts`` is
consulted first (re-read when it changes); then the name servers, search
list, ``ndots``, timeout and lifetime of ``/etc/resolv.conf`` (as dnspython
reads them), unless given to the constructor. Identical queries in flight
together are sent once. A truncated UDP answer is retried over TCP.

Differs from the system resolver: nsswitch (mDNS, LDAP...) is not
consulted; for ``getaddrinfo`` with no family, IPv4 addresses come before
IPv6 ones (the A and AAAA queries run concurrently).

Needs dnspython (``pip install dnspython``); only this module imports it.
"""

from __future__ import annotations

import os as _os
import socket as _socket
from errno import EINPROGRESS as _EINPROGRESS
from typing import Any

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdatatype
    import dns.resolver
    import dns.reversename
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError("coopshell.resolver.dnspython needs dnspython (pip install dnspython); "
                      f"or choose another resolver, e.g. COOPSHELL_RESOLVER=thread ({_exc})"
                      ) from None

from . import _dnswire
from .._core.hub import get_hub
from .._core.io_wait import wait_io
from .._core.loop import READ, WRITE
from ..event import AsyncResult
from ..greenlet import spawn as _spawn
from .thread import (_HOST_TYPES, _gethostbyaddr, _gethostbyname, _gethostbyname_ex,
                     _getaddrinfo, _getnameinfo, _is_ip, _key, _numeric_port, _plain_ints,
                     Resolver as _ThreadResolver)

__all__ = ["Resolver"]

_StdSocket = _socket.socket            # the original class, whatever monkey does later
_gaierror, _herror = _socket.gaierror, _socket.herror
_AF_INET, _AF_INET6, _AF_UNSPEC = _socket.AF_INET, _socket.AF_INET6, _socket.AF_UNSPEC
_AI_NUMERICHOST, _AI_CANONNAME = _socket.AI_NUMERICHOST, _socket.AI_CANONNAME
_NI_NUMERICHOST, _NI_NAMEREQD = _socket.NI_NUMERICHOST, _socket.NI_NAMEREQD
_NI_NUMERICSERV = _socket.NI_NUMERICSERV
_EAI_NONAME = _socket.EAI_NONAME
_EAI_AGAIN = _socket.EAI_AGAIN
_EAI_NODATA = getattr(_socket, "EAI_NODATA", _EAI_NONAME)
_EAI_FAMILY = _socket.EAI_FAMILY
_A, _AAAA, _CNAME, _PTR = (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.CNAME,
                           dns.rdatatype.PTR)
_HOSTS = "/etc/hosts"


class _NotFound(Exception):
    """The name does not exist (NXDOMAIN) or has no record of the type."""

    def __init__(self, nxdomain: bool):
        super().__init__()
        self.nxdomain = nxdomain


class _Unreachable(Exception):
    """No name server answered in time, or all of them failed."""


class Resolver:
    """DNS look-ups awaited on ``hub``. ``nameservers`` (IP strings or
    ``(ip, port)`` pairs), ``port``, ``search``, ``ndots``, ``timeout`` (per
    server try) and ``lifetime`` (per query) default to resolv.conf's;
    ``hosts`` is the hosts file to consult first (None: none)."""

    def __init__(self, hub: Any = None, *, nameservers: Any = None, port: int | None = None,
                 search: Any = None, ndots: int | None = None, timeout: float | None = None,
                 lifetime: float | None = None, hosts: str | None = _HOSTS):
        self.hub = get_hub() if hub is None else hub
        try:
            conf = dns.resolver.Resolver(configure=nameservers is None)
        except dns.exception.DNSException:      # no resolv.conf: no servers, say so on use
            conf = dns.resolver.Resolver(configure=False)
        self.port = conf.port if port is None else int(port)
        servers = conf.nameservers if nameservers is None else nameservers
        if isinstance(servers, (str, tuple)):
            servers = [servers]
        self.nameservers = [_server(s, self.port) for s in servers]
        names = conf.search if search is None else search
        self.search = [n if isinstance(n, dns.name.Name) else dns.name.from_text(n)
                       for n in names]
        self.ndots = (conf.ndots if conf.ndots is not None else 1) if ndots is None else ndots
        self.timeout = conf.timeout if timeout is None else float(timeout)
        self.lifetime = conf.lifetime if lifetime is None else float(lifetime)
        self.hosts_file = hosts
        self._hosts: tuple = (None, {}, {})     # (mtime, name -> addrs, addr -> names)
        self._inflight: dict = {}

    # -- the stdlib's functions --------------------------------------------------------
    def gethostbyname(self, hostname):
        if not isinstance(hostname, _HOST_TYPES) or not hostname or _is_ip(hostname):
            return _gethostbyname(hostname)          # inline: numeric, empty or a bad type
        return self._addresses(hostname, _AF_INET, _gaierror)[2][0]

    def gethostbyname_ex(self, hostname):
        if not isinstance(hostname, _HOST_TYPES) or _is_ip(hostname):
            return _gethostbyname_ex(hostname)
        return self._addresses(hostname, _AF_INET, _gaierror)

    def gethostbyaddr(self, ip_address):
        if not isinstance(ip_address, _HOST_TYPES):
            return _gethostbyaddr(ip_address)        # the stdlib's TypeError
        ip = _text(ip_address)
        if not _is_ip(ip):
            ip = self._addresses(ip, _AF_UNSPEC, _gaierror)[2][0]
        ip = ip.partition("%")[0]
        names = self._hosts_table()[2].get(ip)
        if names:
            return names[0], list(names[1:]), [ip]
        try:
            answer = self._lookup(dns.reversename.from_address(ip), _PTR)
        except _NotFound:
            raise _herror(1, "Unknown host") from None
        except _Unreachable:
            raise _herror(2, "Host name lookup failure") from None
        ptrs = [r.target.to_text(omit_final_dot=True) for rr in answer.answer
                if rr.rdtype == _PTR for r in rr]
        if not ptrs:
            raise _herror(1, "Unknown host")
        return ptrs[0], ptrs[1:], [ip]

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if (not _plain_ints(family, type, proto, flags)
                or not (host is None or isinstance(host, _HOST_TYPES))
                or not (port is None or isinstance(port, (int, str, bytes)))
                or host is None or flags & _AI_NUMERICHOST or _is_ip(host)):
            return _getaddrinfo(host, port, family, type, proto, flags)   # inline, no DNS
        if family not in (_AF_UNSPEC, _AF_INET, _AF_INET6):
            raise _gaierror(_EAI_FAMILY, "ai_family not supported")
        if not _numeric_port(port, flags):
            # a service name: checked (and looked up in /etc/services) locally first
            _getaddrinfo("127.0.0.1", port, 0, type, proto, 0)
        canonical, _aliases, addresses = self._addresses(host, family, _gaierror)
        result = []
        for address in addresses:
            for entry in _getaddrinfo(address, port, family, type, proto,
                                      (flags & ~_AI_CANONNAME) | _AI_NUMERICHOST):
                result.append(entry)
        if flags & _AI_CANONNAME and result:
            f, t, p, _, sa = result[0]
            result[0] = (f, t, p, canonical, sa)
        return result

    def getnameinfo(self, sockaddr, flags):
        if type(sockaddr) is not tuple or not _plain_ints(flags) or len(sockaddr) < 2:
            return _getnameinfo(sockaddr, flags)
        host, port = sockaddr[0], sockaddr[1]
        numeric = _getnameinfo(sockaddr, flags | _NI_NUMERICHOST)   # checks the arguments
        if flags & _NI_NUMERICHOST or not isinstance(host, str):
            return numeric
        if not _is_ip(host):
            host = self._addresses(host, _AF_UNSPEC, _gaierror)[2][0]
        try:
            name = self.gethostbyaddr(host)[0]
        except _herror:
            if flags & _NI_NAMEREQD:
                raise _gaierror(_EAI_NONAME, "Name or service not known") from None
            return numeric
        return name, numeric[1]

    getfqdn = _ThreadResolver.getfqdn

    def close(self) -> None:
        """Forget queries in flight (their waiters still get their answers)."""
        self._inflight.clear()

    def __repr__(self):
        return (f"<{type(self).__name__} at {id(self):#x} nameservers={self.nameservers} "
                f"inflight={len(self._inflight)}>")

    # -- names to addresses ------------------------------------------------------------
    def _addresses(self, host, family, error):
        """``(canonical name, aliases, addresses)`` for ``host``: the hosts
        file, else A and/or AAAA queries (concurrently) along the search list."""
        name = _text(host)
        known = self._hosts_table()[1].get(name.lower().rstrip("."))
        if known:
            canonical, v4, v6 = known
            addrs = (v4 if family != _AF_INET6 else []) + (v6 if family != _AF_INET else [])
            if addrs:
                return canonical, [], list(addrs)
        types = {_AF_INET: [_A], _AF_INET6: [_AAAA]}.get(family, [_A, _AAAA])
        nxdomain = True
        unreachable = False
        for qname in self._candidates(name):
            results = self._lookup_all(qname, types)
            addresses: list[str] = []
            canonical, aliases = qname.to_text(omit_final_dot=True), []
            for rdtype, outcome in zip(types, results):
                if isinstance(outcome, _NotFound):
                    nxdomain = nxdomain and outcome.nxdomain
                    continue
                if isinstance(outcome, _Unreachable):
                    unreachable = True
                    continue
                nxdomain = False
                canonical, aliases, found = _follow(outcome, qname, rdtype)
                addresses.extend(found)
            if addresses:
                return canonical, aliases, addresses
        if unreachable:
            raise error(_EAI_AGAIN, "Temporary failure in name resolution")
        if nxdomain:
            raise error(_EAI_NONAME, "Name or service not known")
        raise error(_EAI_NODATA, "No address associated with hostname")

    def _candidates(self, name):
        """The absolute names to try, in resolv.conf's order."""
        try:
            qname = dns.name.from_text(name, None)
        except dns.exception.DNSException as exc:
            raise _gaierror(_EAI_NONAME, f"Name or service not known ({exc})") from None
        if qname.is_absolute():
            return [qname]
        absolute = qname.concatenate(dns.name.root)
        searched = [qname.concatenate(d if d.is_absolute() else d.concatenate(dns.name.root))
                    for d in self.search]
        if len(qname) - 1 >= self.ndots or not searched:
            return [absolute] + searched
        return searched + [absolute]

    def _lookup_all(self, qname, types):
        """Run the queries for ``types`` concurrently; each outcome is a
        message or a _NotFound/_Unreachable instance."""
        if len(types) == 1:
            return [self._outcome(qname, types[0])]
        others = [_spawn(self._outcome, qname, t) for t in types[1:]]
        first = self._outcome(qname, types[0])
        return [first] + [g.get() for g in others]

    def _outcome(self, qname, rdtype):
        try:
            return self._lookup(qname, rdtype)
        except (_NotFound, _Unreachable) as exc:
            return exc

    # -- queries ---------------------------------------------------------------------
    def _lookup(self, qname, rdtype):
        """The answer message for ``qname``/``rdtype``; identical lookups in
        flight share one query."""
        key = (qname, rdtype)
        pending = self._inflight.get(key)
        if pending is None:
            pending = self._inflight[key] = AsyncResult()
            try:
                pending.set(self._query(qname, rdtype))
            except (_NotFound, _Unreachable) as exc:
                pending.set_exception(exc)
            finally:
                if self._inflight.get(key) is pending:
                    del self._inflight[key]
        try:
            return pending.get()
        except _NotFound as exc:
            raise _NotFound(exc.nxdomain) from None
        except _Unreachable:
            raise _Unreachable() from None

    def _query(self, qname, rdtype):
        if not self.nameservers:
            raise _Unreachable()
        loop = self.hub.loop
        deadline = loop.now() + self.lifetime
        if rdtype == _A or rdtype == _AAAA:
            # the hot path: our own bytes, and answers parsed by _dnswire
            # (dnspython's Message objects only if it cannot read one)
            query = _Query(qname, rdtype, int.from_bytes(_os.urandom(2), "big"))
        else:
            query = _Query(qname, rdtype, None)
        while True:
            for server in self.nameservers:
                left = deadline - loop.now()
                if left <= 0:
                    raise _Unreachable()
                try:
                    response = _exchange(self.hub, query, server, min(self.timeout, left))
                except (OSError, dns.exception.DNSException):
                    continue
                rcode = response.rcode()
                if rcode == dns.rcode.NXDOMAIN:
                    raise _NotFound(True)
                if rcode != dns.rcode.NOERROR:
                    continue                        # SERVFAIL, REFUSED...: the next server
                if not _has_records(response, rdtype):
                    raise _NotFound(False)
                return response

    # -- /etc/hosts ------------------------------------------------------------------
    def _hosts_table(self):
        path = self.hosts_file
        if path is None:
            return self._hosts
        try:
            mtime = _os.stat(path).st_mtime_ns
        except OSError:
            mtime = None
        if mtime != self._hosts[0]:
            self._hosts = (mtime,) + _parse_hosts(path)
        return self._hosts


# -- helpers ---------------------------------------------------------------------------

def _server(spec, port):
    if isinstance(spec, tuple):
        host, port = spec
    else:
        host = spec
    if not _is_ip(host):
        raise ValueError(f"a name server must be an IP address (or an (ip, port) pair), "
                         f"got {spec!r}")
    return host, int(port)


def _text(host) -> str:
    if isinstance(host, str):
        return host
    return bytes(_key(host)).decode("idna")


class _Query:
    """One question: its wire bytes, and dnspython's request made only when
    an answer needs dnspython to read it (or for a type _dnswire does not do)."""

    __slots__ = ("qname", "rdtype", "qid", "wire", "question", "_request")

    def __init__(self, qname, rdtype, qid):
        self.qname, self.rdtype, self.qid = qname, rdtype, qid
        self._request = None
        if qid is None:
            self.question = None
            self.wire = self.request.to_wire()
        else:
            self.wire, self.question = _dnswire.query(qname.to_wire(), rdtype, qid)

    @property
    def request(self):
        if self._request is None:
            self._request = dns.message.make_query(self.qname, self.rdtype, id=self.qid)
        return self._request

    def match(self, data):
        """The response in ``data`` if it answers this query, else None."""
        if self.question is not None:
            fast = _dnswire.parse(data, self.qid, self.question)
            if fast is not None:
                return fast
        try:
            response = dns.message.from_wire(data, ignore_trailing=True)
        except dns.exception.DNSException:
            return None                            # garbage: keep listening
        return response if self.request.is_response(response) else None


def _has_records(response, rdtype):
    if isinstance(response, _dnswire.Answer):
        return any(r[1] == rdtype or r[1] == _CNAME for r in response.records)
    return any(rr.rdtype in (rdtype, _CNAME) for rr in response.answer)


def _follow(message, qname, rdtype):
    """Follow the CNAME chain from ``qname``: (canonical, aliases, addresses)."""
    if isinstance(message, _dnswire.Answer):
        return _follow_records(message.records, qname, rdtype)
    cnames = {}
    records: dict = {}
    for rr in message.answer:
        if rr.rdtype == _CNAME:
            cnames[rr.name] = rr[0].target
        elif rr.rdtype == rdtype:
            records.setdefault(rr.name, []).extend(r.address for r in rr)
    name, aliases, seen = qname, [], set()
    while name in cnames and name not in seen:
        seen.add(name)
        aliases.append(name.to_text(omit_final_dot=True))
        name = cnames[name]
    return name.to_text(omit_final_dot=True), aliases, records.get(name, [])


def _follow_records(records, qname, rdtype):
    """``_follow`` for a ``_dnswire.Answer`` (names compared without case, as dnspython does)."""
    cnames: dict = {}
    found: dict = {}
    for owner, t, value in records:
        if t == _CNAME:
            cnames[owner.lower()] = value
        elif t == rdtype:
            found.setdefault(owner.lower(), []).append(value)
    name, aliases, seen = qname.to_text(omit_final_dot=True), [], set()
    while name.lower() in cnames and name.lower() not in seen:
        seen.add(name.lower())
        aliases.append(name)
        name = cnames[name.lower()]
    return name, aliases, found.get(name.lower(), [])


def _exchange(hub, query, server, timeout):
    """Send ``wire`` to ``server`` over UDP (TCP if the answer is truncated)
    and return the matching response, waiting in the hub."""
    host, port = server
    family = _AF_INET6 if ":" in host else _AF_INET
    sock = _StdSocket(family, _socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect((host, port))
        sock.send(query.wire)
        deadline = hub.loop.now() + timeout
        watcher = hub.loop.io(sock.fileno(), READ)
        while True:
            try:
                data = sock.recv(65535)
            except BlockingIOError:
                left = deadline - hub.loop.now()
                if left <= 0:
                    raise dns.exception.Timeout() from None
                wait_io(hub, watcher, left, dns.exception.Timeout)
                continue
            response = query.match(data)           # None: garbage, keep listening
            if response is not None:
                break
    finally:
        _close(hub, sock)
    if not isinstance(response, _dnswire.Answer) and response.flags & dns.flags.TC:
        return _exchange_tcp(hub, query.request, query.wire, server, deadline)
    return response


def _exchange_tcp(hub, request, wire, server, deadline):
    host, port = server
    family = _AF_INET6 if ":" in host else _AF_INET
    sock = _StdSocket(family, _socket.SOCK_STREAM)
    loop = hub.loop

    def wait(events):
        left = deadline - loop.now()
        if left <= 0:
            raise dns.exception.Timeout()
        wait_io(hub, loop.io(sock.fileno(), events), left, dns.exception.Timeout)

    try:
        sock.setblocking(False)
        err = sock.connect_ex((host, port))
        if err == _EINPROGRESS:
            wait(WRITE)
            err = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        if err:
            raise OSError(err, _os.strerror(err))
        out = memoryview(len(wire).to_bytes(2, "big") + wire)
        while out:
            try:
                out = out[sock.send(out):]
            except BlockingIOError:
                wait(WRITE)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + int.from_bytes(buf[:2], "big"):
            try:
                chunk = sock.recv(65537)
            except BlockingIOError:
                wait(READ)
                continue
            if not chunk:
                raise dns.exception.FormError("connection closed mid-answer")
            buf += chunk
    finally:
        _close(hub, sock)
    response = dns.message.from_wire(buf[2:2 + int.from_bytes(buf[:2], "big")])
    if not request.is_response(response):
        raise dns.exception.FormError("the TCP answer does not match the query")
    return response


def _close(hub, sock):
    fd = sock.fileno()
    if fd >= 0:
        hub.loop.closing_fd(fd)
    sock.close()


def _parse_hosts(path):
    """``(name -> (canonical, ipv4s, ipv6s), address -> [canonical, aliases...])``."""
    by_name: dict = {}
    by_addr: dict = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return by_name, by_addr
    for line in lines:
        fields = line.partition("#")[0].split()
        if len(fields) < 2 or not _is_ip(fields[0]):
            continue
        addr, names = fields[0].partition("%")[0], fields[1:]
        v6 = ":" in addr
        for n in names:
            entry = by_name.setdefault(n.lower().rstrip("."), (names[0], [], []))
            (entry[2] if v6 else entry[1]).append(addr)
        by_addr.setdefault(addr, list(names))
    return by_name, by_addr
