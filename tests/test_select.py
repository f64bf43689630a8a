"""coopshell.select and coopshell.selectors: cooperative waits with the stdlib's
results and errors on the same inputs."""

import os
import select as std_select
import selectors as std_selectors
import time

import pytest

import coopshell as co
from coopshell import select as cselect
from coopshell import selectors as cselectors
from coopshell import socket as cs


def _outcome(func, *args):
    try:
        return ("ok", func(*args))
    except BaseException as exc:  # noqa: BLE001 - compared below
        return ("raise", type(exc), str(exc))


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


class HasFileno:
    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd


# -- select.select ------------------------------------------------------------------------

def test_select_waits_cooperatively_and_returns_the_objects(pipe):
    r, w = pipe
    obj = HasFileno(r)
    co.spawn_later(0.05, os.write, w, b"x")
    ticks = []
    ticker = co.spawn(lambda: [ticks.append(co.sleep(0.005)) for _ in range(5)])
    t0 = time.monotonic()
    rl, wl, xl = cselect.select([obj], [], [], 2)
    assert rl == [obj] and rl[0] is obj and wl == [] and xl == []
    assert 0.03 < time.monotonic() - t0 < 1.0
    ticker.join()
    assert len(ticks) == 5            # other greenlets ran during the wait


def test_select_ready_and_timeout_results_match_the_stdlib(pipe):
    r, w = pipe
    for args in [([r], [w], [], 0), ([r], [], [], 0.02), ([], [w], [r], None),
                 ((x for x in [w]), (), [], 0), ([], [], [], 0)]:
        ref_args = tuple(list(a) if not isinstance(a, (int, float, type(None))) else a
                         for a in args)
        assert cselect.select(*args) == std_select.select(*ref_args)
    t0 = time.monotonic()
    assert cselect.select([r], [], [], 0.05) == ([], [], [])
    assert 0.04 < time.monotonic() - t0 < 1.0
    t0 = time.monotonic()
    assert cselect.select([], [], [], 0.05) == ([], [], [])
    assert 0.04 < time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("args", [([-1], [], []), (["x"], [], []), ([object()], [], []),
                                  ([HasFileno("x")], [], []), (5, [], []), ([], [], [], -1),
                                  ([], [], [], "x"), ([], [], [], float("nan")),
                                  ([HasFileno(-3)], [], [], 0), ([99999], [], [], 0)])
def test_select_errors_match_the_stdlib(args):
    assert _outcome(cselect.select, *args) == _outcome(std_select.select, *args)


def test_select_on_sockets_many_greenlets():
    pairs = [cs.socketpair() for _ in range(50)]
    try:
        def waiter(sock):
            return cselect.select([sock], [], [], 5)[0] == [sock]
        gs = [co.spawn(waiter, b) for _, b in pairs]
        co.sleep(0.01)
        for a, _ in pairs:
            a.send(b"x")
        co.joinall(gs, timeout=5)
        assert all(g.value for g in gs)
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_select_timeout_leaves_no_stray_wakeup(pipe):
    r, w = pipe
    # the fd becomes ready in the same loop pass as the timeout
    co.spawn_later(0.03, os.write, w, b"x")
    cselect.select([r], [], [], 0.03)
    co.sleep(0.02)        # a stray switch would land here and break the sleep
    assert cselect.select([r], [], [], 1)[0] == [r]


# -- select.poll ---------------------------------------------------------------------------

def test_poll_matches_the_stdlib(pipe):
    r, w = pipe
    ours, ref = cselect.poll(), std_select.poll()
    for p in (ours, ref):
        p.register(r, std_select.POLLIN)
        p.register(HasFileno(w))
    assert sorted(ours.poll(0)) == sorted(ref.poll(0))
    os.write(w, b"x")
    assert sorted(ours.poll(100)) == sorted(ref.poll(100))
    for p in (ours, ref):
        p.modify(w, std_select.POLLIN)
    assert sorted(ours.poll()) == sorted(ref.poll())
    for p in (ours, ref):
        p.unregister(r)
    assert ours.poll(10) == ref.poll(10) == []
    for method, args in [("unregister", (r,)), ("modify", (r, 1)), ("register", (-1,)),
                         ("register", ("x",)), ("poll", ("x",)), ("poll", (float("nan"),))]:
        assert _outcome(getattr(ours, method), *args) == _outcome(getattr(ref, method), *args), method


def test_poll_waits_cooperatively_with_ms_timeout(pipe):
    r, w = pipe
    p = cselect.poll()
    p.register(r, std_select.POLLIN)
    t0 = time.monotonic()
    assert p.poll(50) == []
    assert 0.04 < time.monotonic() - t0 < 1.0
    co.spawn_later(0.03, os.write, w, b"x")
    assert p.poll(-1) == [(r, std_select.POLLIN)]
    os.read(r, 1)
    co.spawn_later(0.03, os.write, w, b"y")
    assert p.poll(None) == [(r, std_select.POLLIN)]


def test_module_exports_the_stdlib_names():
    public = {n for n in dir(std_select) if not n.startswith("_")}
    assert public <= set(cselect.__all__)
    for name in cselect.__imports__:
        assert getattr(cselect, name) is getattr(std_select, name)
    for name in cselect.__implements__:
        assert getattr(cselect, name) is not getattr(std_select, name)


# -- selectors ------------------------------------------------------------------------------

def test_default_selector_is_cooperative_and_compatible(pipe):
    r, w = pipe
    sel = cselectors.DefaultSelector()
    assert isinstance(sel, std_selectors.BaseSelector)
    with sel:
        key = sel.register(r, cselectors.EVENT_READ, "data")
        assert isinstance(key, std_selectors.SelectorKey) and key.data == "data"
        assert sel.get_key(r) == key and r in sel.get_map()
        with pytest.raises(KeyError):
            sel.register(r, cselectors.EVENT_READ)
        with pytest.raises(ValueError):
            sel.register(w, 0)
        assert sel.select(0) == []
        co.spawn_later(0.03, os.write, w, b"x")
        others = co.spawn(co.sleep, 0.01)
        t0 = time.monotonic()
        ready = sel.select(2)
        assert ready == [(key, cselectors.EVENT_READ)]
        assert others.dead and time.monotonic() - t0 < 1.0
        key2 = sel.modify(r, cselectors.EVENT_READ | cselectors.EVENT_WRITE, "new")
        assert key2.data == "new"
        sel.register(w, cselectors.EVENT_WRITE)
        got = {k.fd: ev for k, ev in sel.select(None)}
        assert got == {r: cselectors.EVENT_READ, w: cselectors.EVENT_WRITE}
        sel.unregister(w)
        with pytest.raises(KeyError):
            sel.unregister(w)
        os.read(r, 1)
        sel.modify(r, cselectors.EVENT_READ)
        t0 = time.monotonic()
        assert sel.select(0.05) == []
        assert 0.04 < time.monotonic() - t0 < 1.0


def test_selector_with_sockets_matches_the_stdlib():
    a, b = cs.socketpair()
    with a, b:
        for sel in (cselectors.DefaultSelector(), std_selectors.DefaultSelector()):
            with sel:
                sel.register(a, cselectors.EVENT_READ | cselectors.EVENT_WRITE)
                assert [(k.fileobj, ev) for k, ev in sel.select(0)] == [(a, cselectors.EVENT_WRITE)]
                b.send(b"x")
                assert [(k.fileobj, ev) for k, ev in sel.select(1)] == [
                    (a, cselectors.EVENT_READ | cselectors.EVENT_WRITE)]
                a.recv(1)


def test_gevent_names_geventselector_and_original_select():
    # gevent.selectors.GeventSelector is the cooperative selector; the
    # stdlib select that gevent.select calls is looked up at call time
    # under gevent's name, _original_select (gevent's tests replace it).
    assert cselectors.GeventSelector is cselectors.DefaultSelector
    assert "GeventSelector" in cselectors.__all__
    assert cselect._original_select is std_select.select
    a, b = cs.socketpair()
    with a, b:
        seen = []

        def fake(r, w, x, timeout):
            seen.append(timeout)
            return list(r), [], []
        cselect._original_select = fake
        try:
            assert cselect.select([a], [], [], 5) == ([a], [], [])
        finally:
            cselect._original_select = std_select.select
        assert seen == [0]


def test_selector_refuses_an_fd_closed_under_its_object():
    # gevent's GeventSelector raises ValueError at register; the poller
    # used to accept the dead fd and report nothing for it, ever.
    s = cs.socket()
    os.close(s.fileno())
    sel = cselectors.DefaultSelector()
    try:
        with pytest.raises(ValueError, match="Invalid file descriptor"):
            sel.register(s, cselectors.EVENT_READ)
        assert len(sel.get_map()) == 0  # not left half-registered
    finally:
        sel.close()
        try:
            s.close()
        except OSError:
            pass
