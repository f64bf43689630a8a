"""coopshell.resolver.ares (pycares) against the tiny DNS server of
test_resolver_dnspython on 127.0.0.1: no other network."""

from __future__ import annotations

import socket

import pytest

pytest.importorskip("pycares")
pytest.importorskip("dns")

import coopshell as co  # noqa: E402
from coopshell.resolver import ares  # noqa: E402
from test_resolver_dnspython import RECORDS, Responder  # noqa: E402


def _resolver(server, **kwargs):
    kwargs.setdefault("timeout", 5)
    return ares.Resolver(servers=["127.0.0.1"], udp_port=server.port, tcp_port=server.port,
                         lookups="b", domains=[], tries=1, **kwargs)


@pytest.fixture
def server():
    r = Responder(RECORDS)
    yield r
    r.close()


@pytest.mark.xfail(strict=False, reason="passes alone; inside the full suite (3.11, after the "
                   "merge of main) c-ares once reported ARES_ECONNREFUSED for the held "
                   "queries: not yet understood")
def test_a_hundred_lookups_wait_together_on_the_hub_not_in_threads():
    hold = Responder({(f"host{i}.example.test", "A"): [f"192.0.2.{i}"] for i in range(100)},
                     hold=100)
    hub = co.get_hub()

    class NoThreads:
        def __getattr__(self, name):
            raise AssertionError(f"the ares resolver used the thread pool ({name})")
    saved = hub.threadpool
    hub.threadpool = NoThreads()
    try:
        r = _resolver(hold, timeout=20)
        gs = [co.spawn(r.gethostbyname, f"host{i}.example.test") for i in range(100)]
        co.joinall(gs, timeout=30, raise_error=True)
        r.close()
    finally:
        hub.threadpool = saved
        hold.close()
    assert [g.value for g in gs] == [f"192.0.2.{i}" for i in range(100)]
    assert hold.max_waiting == 100             # all in flight at once


def test_answers_and_errors(server):
    r = _resolver(server)
    try:
        assert r.gethostbyname("www.example.test") in {"192.0.2.10", "192.0.2.11"}
        infos = r.getaddrinfo("www.example.test", 80, socket.AF_INET, socket.SOCK_STREAM)
        assert {i[4] for i in infos} == {("192.0.2.10", 80), ("192.0.2.11", 80)}
        assert r.gethostbyaddr("192.0.2.10")[0] == "www.example.test"
        with pytest.raises(socket.gaierror) as info:
            r.gethostbyname("nope.example.test")
        assert info.value.errno == socket.EAI_NONAME
        with pytest.raises(socket.herror):
            r.gethostbyaddr("192.0.2.200")
        with pytest.raises(TypeError):
            r.gethostbyname(123)
        assert r.gethostbyname("192.0.2.1") == "192.0.2.1"      # inline, no query
    finally:
        r.close()


def test_a_silent_server_times_out_with_eai_again():
    silent = Responder({}, silent=True)
    r = _resolver(silent, timeout=0.1)
    try:
        with pytest.raises(socket.gaierror) as info:
            r.gethostbyname("www.example.test")
        assert info.value.errno == socket.EAI_AGAIN
    finally:
        r.close()
        silent.close()
