"""coopshell.resolver: the stdlib's answers, cooperatively, via /etc/hosts
('localhost') only; errors in the caller; coalescing; inline fast paths."""

import socket
import time

import pytest

import coopshell as co
from coopshell import resolver
from coopshell._core.exceptions import BlockingSwitchOutError
from coopshell.threadpool import get_default_pool


def test_results_match_the_stdlib():
    assert resolver.gethostbyname("localhost") == socket.gethostbyname("localhost")
    assert resolver.gethostbyname_ex("localhost") == socket.gethostbyname_ex("localhost")
    assert resolver.gethostbyaddr("127.0.0.1") == socket.gethostbyaddr("127.0.0.1")
    args = ("localhost", 80, 0, socket.SOCK_STREAM)
    assert resolver.getaddrinfo(*args) == socket.getaddrinfo(*args)
    assert resolver.getaddrinfo("localhost", "http")[0][4] == ("127.0.0.1", 80)
    assert resolver.getnameinfo(("127.0.0.1", 80), 0) == socket.getnameinfo(("127.0.0.1", 80), 0)
    assert resolver.getfqdn("localhost") == socket.getfqdn("localhost")
    assert resolver.getfqdn() == socket.getfqdn()
    assert resolver.gethostbyname(b"localhost") == "127.0.0.1"


def test_unknown_name_fails_fast_in_the_caller_and_nothing_is_printed(quiet_hub):
    caught = []

    def lookup():
        try:
            resolver.gethostbyname("no-such-host.invalid")
        except socket.gaierror as exc:
            caught.append(exc)

    t0 = time.monotonic()
    co.joinall([co.spawn(lookup) for _ in range(5)], raise_error=True)
    assert time.monotonic() - t0 < 5
    assert len(caught) == 5 and all(e.errno == caught[0].errno for e in caught)
    # Coalesced callers get their own exception objects.
    assert len({id(e) for e in caught}) == 5
    with pytest.raises(socket.gaierror):
        resolver.getaddrinfo("no-such-host.invalid", 80)
    with pytest.raises(socket.herror):
        resolver.gethostbyaddr("192.0.2.254")   # TEST-NET-1: no PTR in /etc/hosts
    assert quiet_hub.getvalue() == ""


def test_bad_arguments_raise_the_stdlib_type_error_at_the_call():
    with pytest.raises(TypeError, match="gethostbyname"):
        resolver.gethostbyname(123)
    with pytest.raises(TypeError):
        resolver.getnameinfo("127.0.0.1", 0)
    with pytest.raises(OSError, match="Int or String"):
        resolver.getaddrinfo("localhost", 1.5)


def test_identical_lookups_in_flight_are_coalesced_and_results_copied():
    pool = get_default_pool()
    pool.join()
    results = []
    gs = [co.spawn(lambda: results.append(resolver.gethostbyname_ex("localhost"))) for _ in range(200)]
    co.sleep(0)   # every greenlet has asked now
    assert len(pool) == 1
    co.joinall(gs, raise_error=True)
    assert len(results) == 200 and all(r == results[0] for r in results)
    assert results[0][2] is not results[1][2]   # each caller owns its lists


def test_many_concurrent_lookups_finish_quickly():
    t0 = time.monotonic()
    gs = [co.spawn(resolver.gethostbyname, "localhost") for _ in range(200)]
    co.joinall(gs, raise_error=True)
    assert {g.value for g in gs} == {"127.0.0.1"}
    assert time.monotonic() - t0 < 2


def test_numeric_lookups_are_answered_inline():
    # Inside a hub callback any hand-off would raise BlockingSwitchOutError.
    got = co.event.AsyncResult()

    def in_hub():
        try:
            got.set([resolver.gethostbyname("127.0.0.1"),
                     resolver.getaddrinfo("::1", 80, type=socket.SOCK_STREAM)[0][4][0],
                     resolver.getaddrinfo(None, 80)[0][4][1],
                     resolver.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)])
        except BaseException as exc:
            got.set_exception(exc)

    co.get_hub().loop.run_callback(in_hub)
    assert got.get(timeout=5) == ["127.0.0.1", "::1", 80, ("127.0.0.1", "80")]
    # A name needs the thread pool, so from the hub it is refused.
    refused = co.event.AsyncResult()

    def name_in_hub():
        try:
            resolver.gethostbyname("localhost")
        except BlockingSwitchOutError as exc:
            refused.set(exc)

    co.get_hub().loop.run_callback(name_in_hub)
    assert isinstance(refused.get(timeout=5), BlockingSwitchOutError)
    with pytest.raises(socket.gaierror):
        resolver.getaddrinfo("localhost", 80, flags=socket.AI_NUMERICHOST)


def test_lookups_inside_a_pool_thread_just_block():
    pool = get_default_pool()
    assert pool.apply(resolver.gethostbyname, ("localhost",)) == "127.0.0.1"


# -- choosing the resolver -------------------------------------------------------------

def _class_in_subprocess(env_value):
    import os
    import subprocess
    import sys
    code = ("import coopshell.resolver as r; c = r.resolver_class(); "
            "print(c.__module__ + '.' + c.__name__)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COOPSHELL_RESOLVER": env_value})


@pytest.mark.parametrize("value, expected", [
    ("thread", "coopshell.resolver.thread.Resolver"),
    ("blocking", "coopshell.resolver.blocking.Resolver"),
    ("dnspython", "coopshell.resolver.dnspython.Resolver"),
    ("nosuchthing.Resolver,thread", "coopshell.resolver.thread.Resolver"),
    ("coopshell.resolver.blocking.Resolver", "coopshell.resolver.blocking.Resolver"),
])
def test_environment_variable_selects_the_resolver(value, expected):
    out = _class_in_subprocess(value)
    assert out.stdout.strip() == expected, out.stderr


def test_bad_environment_value_is_a_clear_error():
    out = _class_in_subprocess("nope")
    assert out.returncode != 0
    assert "COOPSHELL_RESOLVER='nope': unknown resolver 'nope'; expected one of thread" in out.stderr


def test_default_is_the_thread_resolver():
    assert resolver.resolver_class() is resolver.Resolver
    from coopshell.resolver import thread
    assert resolver.Resolver is thread.Resolver
    assert type(resolver.get_resolver()) is thread.Resolver
    assert resolver.get_resolver() is resolver.get_resolver()       # one per hub


def test_set_resolver_switches_every_later_lookup():
    from coopshell.resolver import blocking
    try:
        assert resolver.set_resolver("blocking") is blocking.Resolver
        r = resolver.get_resolver()
        assert type(r) is blocking.Resolver and r.hub is co.get_hub()
        assert resolver.gethostbyname("localhost") == socket.gethostbyname("localhost")
        from coopshell import socket as cs
        assert cs.getaddrinfo("localhost", 80) == socket.getaddrinfo("localhost", 80)
    finally:
        resolver.set_resolver(None)
    assert type(resolver.get_resolver()) is resolver.Resolver
    with pytest.raises(TypeError, match="expected a resolver name such as 'dnspython'"):
        resolver.set_resolver(42)
    with pytest.raises(ValueError, match="unknown resolver 'nope'"):
        resolver.set_resolver("nope")
    assert resolver.resolver_class() is resolver.Resolver   # a failed call changes nothing


def test_ares_works_or_says_what_is_missing():
    try:
        import pycares  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs pycares"):
            resolver.set_resolver("ares")
    else:
        from coopshell.resolver import ares
        try:
            assert resolver.set_resolver("ares") is ares.Resolver
            assert resolver.gethostbyname("localhost") == "127.0.0.1"
        finally:
            resolver.set_resolver(None)
