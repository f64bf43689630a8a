"""coopshell.resolver.dnspython against a tiny DNS server on 127.0.0.1 (in a
thread of this process, written here with dnspython): no other network."""

from __future__ import annotations

import functools
import re
import socket
import threading

import pytest

dns = pytest.importorskip("dns")
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.rrset  # noqa: E402

import coopshell as co  # noqa: E402
from coopshell import resolver  # noqa: E402
from coopshell import socket as cs  # noqa: E402
from coopshell.resolver import dnspython as dr  # noqa: E402


class Responder:
    """A DNS server on 127.0.0.1 (UDP and TCP on one port). ``records`` maps
    ``(name, type)`` to a list of rdata texts; ``hold`` makes it keep every
    answer until that many queries are waiting, to prove they are concurrent."""

    def __init__(self, records, *, hold=0, rcode=None, truncate=(), silent=False):
        self.records = {(n.lower().rstrip(".") + ".", t): v for (n, t), v in records.items()}
        self.hold, self.rcode, self.truncate, self.silent = hold, rcode, set(truncate), silent
        self.queries: list[tuple[str, str, str]] = []
        self.max_waiting = 0
        self.udp, self.tcp = self._bind_pair()
        self.port = self.udp.getsockname()[1]
        self.udp.settimeout(0.05)
        self.tcp.settimeout(0.05)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._serve_udp, daemon=True),
                         threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _bind_pair():
        """A UDP and a TCP socket on one free port (retried: the UDP port's
        TCP twin may be taken by another test's socket)."""
        for _ in range(100):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket()
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(8)
            return udp, tcp
        raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")

    @property
    def server(self):
        return ("127.0.0.1", self.port)

    def answer(self, wire, proto):
        query = dns.message.from_wire(wire)
        q = query.question[0]
        name, rdtype = q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype)
        self.queries.append((proto, name, rdtype))
        response = dns.message.make_response(query)
        if self.rcode is not None:
            response.set_rcode(self.rcode)
            return response
        if proto == "udp" and name.rstrip(".") in self.truncate:
            response.flags |= dns.flags.TC
            return response
        known = {n for n, _ in self.records}
        target = name
        cname = self.records.get((target, "CNAME"))
        while cname:
            response.answer.append(dns.rrset.from_text(target, 60, "IN", "CNAME", cname[0]))
            target = cname[0].lower()
            cname = self.records.get((target, "CNAME"))
        values = self.records.get((target, rdtype))
        if values:
            response.answer.append(dns.rrset.from_text(target, 60, "IN", rdtype, *values))
        elif target not in known:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response

    def _serve_udp(self):
        waiting = []
        while not self._stop.is_set():
            try:
                wire, peer = self.udp.recvfrom(4096)
            except socket.timeout:
                continue
            if self.silent:
                self.queries.append(("udp", "?", "?"))
                continue
            waiting.append((self.answer(wire, "udp"), peer))
            self.max_waiting = max(self.max_waiting, len(waiting))
            if len(waiting) >= self.hold:
                for response, to in waiting:
                    self.udp.sendto(response.to_wire(), to)
                waiting = []

    def _serve_tcp(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while len(data) < 2 or len(data) < 2 + int.from_bytes(data[:2], "big"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                out = self.answer(data[2:], "tcp").to_wire()
                conn.sendall(len(out).to_bytes(2, "big") + out)

    def close(self):
        self._stop.set()
        for t in self._threads:
            t.join(5)
        self.udp.close()
        self.tcp.close()


RECORDS = {
    ("www.example.test", "A"): ["192.0.2.10", "192.0.2.11"],
    ("www.example.test", "AAAA"): ["2001:db8::10"],
    ("v6only.example.test", "AAAA"): ["2001:db8::6"],
    ("alias.example.test", "CNAME"): ["www.example.test."],
    ("10.2.0.192.in-addr.arpa", "PTR"): ["www.example.test."],
    ("big.example.test", "A"): ["192.0.2.99"],
    ("short.corp.test", "A"): ["192.0.2.44"],
}


@pytest.fixture
def server():
    r = Responder(RECORDS)
    yield r
    r.close()


def _resolver(*servers, **kwargs):
    kwargs.setdefault("hosts", None)
    kwargs.setdefault("search", [])
    return dr.Resolver(nameservers=[s.server for s in servers], **kwargs)


def test_a_hundred_lookups_wait_together_on_the_hub_not_in_threads():
    hold = Responder({(f"host{i}.example.test", "A"): [f"192.0.2.{i}"] for i in range(100)},
                     hold=100)
    hub = co.get_hub()

    class NoThreads:
        def __getattr__(self, name):
            raise AssertionError(f"the dnspython resolver used the thread pool ({name})")
    saved = hub.threadpool
    hub.threadpool = NoThreads()
    try:
        r = _resolver(hold, timeout=10, lifetime=20)
        gs = [co.spawn(r.gethostbyname, f"host{i}.example.test") for i in range(100)]
        co.joinall(gs, timeout=30, raise_error=True)
    finally:
        hub.threadpool = saved
        hold.close()
    assert [g.value for g in gs] == [f"192.0.2.{i}" for i in range(100)]
    # The server held every answer until all 100 queries had arrived: they were in flight at once.
    assert hold.max_waiting == 100


def test_answers_follow_the_records(server):
    r = _resolver(server)
    # (a record set has no order: compare sets; IPv4 comes before IPv6)
    assert r.gethostbyname("www.example.test") in {"192.0.2.10", "192.0.2.11"}
    canonical, aliases, addrs = r.gethostbyname_ex("alias.example.test")
    assert (canonical, aliases, sorted(addrs)) == (
        "www.example.test", ["alias.example.test"], ["192.0.2.10", "192.0.2.11"])
    infos = r.getaddrinfo("www.example.test", 80, type=socket.SOCK_STREAM)
    assert {i[4] for i in infos[:2]} == {("192.0.2.10", 80), ("192.0.2.11", 80)}
    assert infos[2][4] == ("2001:db8::10", 80, 0, 0) and len(infos) == 3
    assert infos == [socket.getaddrinfo(i[4][0], 80, type=socket.SOCK_STREAM)[0] for i in infos]
    six = r.getaddrinfo("www.example.test", "http", socket.AF_INET6, socket.SOCK_STREAM)
    assert [i[4][:2] for i in six] == [("2001:db8::10", 80)]
    canon = r.getaddrinfo("alias.example.test", 443, socket.AF_INET, socket.SOCK_STREAM,
                          0, socket.AI_CANONNAME)
    assert canon[0][3] == "www.example.test" and canon[1][3] == ""
    assert r.gethostbyaddr("192.0.2.10") == ("www.example.test", [], ["192.0.2.10"])
    assert r.getnameinfo(("192.0.2.10", 80), 0) == ("www.example.test", "http")
    assert r.getnameinfo(("192.0.2.10", 80), socket.NI_NUMERICHOST) == ("192.0.2.10", "http")
    assert r.getfqdn("192.0.2.10") == "www.example.test"


def test_errors_are_the_stdlibs(server):
    r = _resolver(server)
    with pytest.raises(socket.gaierror) as info:
        r.gethostbyname("nope.example.test")
    assert info.value.errno == socket.EAI_NONAME
    with pytest.raises(socket.gaierror) as info:
        r.getaddrinfo("v6only.example.test", 80, socket.AF_INET)
    assert info.value.errno == getattr(socket, "EAI_NODATA", socket.EAI_NONAME)
    with pytest.raises(socket.herror):
        r.gethostbyaddr("192.0.2.200")
    with pytest.raises(socket.gaierror) as info:
        r.getnameinfo(("192.0.2.200", 80), socket.NI_NAMEREQD)
    assert r.getnameinfo(("192.0.2.200", 80), 0) == ("192.0.2.200", "http")
    # bad arguments: the stdlib's errors, raised at the call
    for call, std, args in [(r.gethostbyname, socket.gethostbyname, (123,)),
                            (r.getaddrinfo, socket.getaddrinfo, ("192.0.2.1", 1.5)),
                            (r.getaddrinfo, socket.getaddrinfo, ("www.example.test", 1.5)),
                            (r.getnameinfo, socket.getnameinfo, ("192.0.2.1", 0)),
                            (r.gethostbyaddr, socket.gethostbyaddr, (None,))]:
        with pytest.raises(Exception) as ref:
            std(*(("192.0.2.1",) + args[1:] if args[0] == "www.example.test" else args))
        with pytest.raises(type(ref.value), match=re.escape(str(ref.value))):
            call(*args)
    with pytest.raises(OSError):
        r.getaddrinfo("www.example.test", "no-such-service")
    with pytest.raises(ValueError, match="must be an IP address"):
        dr.Resolver(nameservers=["dns.example.test"])


def test_a_silent_server_gives_eai_again_within_the_lifetime():
    silent = Responder({}, silent=True)
    try:
        r = _resolver(silent, timeout=0.05, lifetime=0.3)
        with pytest.raises(socket.gaierror) as info:
            r.gethostbyname("www.example.test")
        assert info.value.errno == socket.EAI_AGAIN
        assert len(silent.queries) >= 2          # retried until the lifetime ran out
    finally:
        silent.close()
    no_servers = dr.Resolver(nameservers=[], hosts=None)
    with pytest.raises(socket.gaierror) as info:
        no_servers.gethostbyname("www.example.test")
    assert info.value.errno == socket.EAI_AGAIN


def test_a_failing_server_is_skipped_for_the_next(server):
    failing = Responder(RECORDS, rcode=dns.rcode.SERVFAIL)
    try:
        r = _resolver(failing, server)
        assert r.gethostbyname("www.example.test") in {"192.0.2.10", "192.0.2.11"}
        assert failing.queries and server.queries
    finally:
        failing.close()


def test_a_truncated_answer_is_retried_over_tcp():
    r_ = Responder(RECORDS, truncate={"big.example.test"})
    try:
        assert _resolver(r_).gethostbyname("big.example.test") == "192.0.2.99"
        assert [q[0] for q in r_.queries] == ["udp", "tcp"]
    finally:
        r_.close()


def test_identical_lookups_in_flight_share_one_query(server):
    r = _resolver(server)
    gs = [co.spawn(r.gethostbyname, "www.example.test") for _ in range(50)]
    co.joinall(gs, timeout=10, raise_error=True)
    assert len({g.value for g in gs}) == 1 and gs[0].value in {"192.0.2.10", "192.0.2.11"}
    # (only this name's queries: a datagram for an earlier test's port may arrive here)
    # One query shared by all 50; a loaded machine may make dnspython retransmit it.
    mine = [q for q in server.queries if q[1] == "www.example.test."]
    assert 1 <= len(mine) <= 3 and set(mine) == {("udp", "www.example.test.", "A")}, mine


def test_search_list_and_ndots(server):
    r = _resolver(server, search=["corp.test"], ndots=1)
    assert r.gethostbyname("short") == "192.0.2.44"
    assert server.queries[0][1] == "short.corp.test."


def test_hosts_file_comes_first_and_is_reread(server, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("192.0.2.50 myhost.test myalias  # comment\n::1 six.test\n")
    r = _resolver(server, hosts=str(hosts))
    assert r.gethostbyname("MyAlias") == "192.0.2.50"
    assert r.gethostbyname_ex("myhost.test") == ("myhost.test", [], ["192.0.2.50"])
    assert r.gethostbyaddr("192.0.2.50") == ("myhost.test", ["myalias"], ["192.0.2.50"])
    assert r.getaddrinfo("six.test", 1, socket.AF_INET6)[0][4][0] == "::1"
    assert server.queries == []                  # never asked the server
    hosts.write_text("192.0.2.51 myhost.test\n")
    import os
    os.utime(hosts, ns=(1, 1))                   # a different mtime, whatever the clock says
    assert r.gethostbyname("myhost.test") == "192.0.2.51"


def test_selected_resolver_serves_coopshell_socket(server):
    listener = cs.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    local = Responder({("db.example.test", "A"): ["127.0.0.1"]})
    try:
        resolver.set_resolver(functools.partial(dr.Resolver, nameservers=[local.server],
                                                hosts=None, search=[]))
        assert isinstance(resolver.get_resolver(), dr.Resolver)
        assert cs.gethostbyname("db.example.test") == "127.0.0.1"
        c = cs.create_connection(("db.example.test", listener.getsockname()[1]), timeout=5)
        s, _ = listener.accept()
        c.close()
        s.close()
        assert ("udp", "db.example.test.", "A") in local.queries
    finally:
        resolver.set_resolver(None)
        local.close()
        listener.close()
    assert type(resolver.get_resolver()) is resolver.Resolver
