"""Greenlet, spawn, joinall, iwait, kill: gevent's semantics on pooled workers."""

import contextvars
import time

import greenlet as raw_greenlet
import pytest

import coopshell as co
from coopshell.event import AsyncResult, Event
from coopshell.greenlet import Greenlet


def test_spawn_runs_and_returns_value():
    g = co.spawn(lambda a, b=0: a + b, 2, b=3)
    assert not g.ready() and g.started and bool(g)
    g.join()
    assert g.ready() and g.dead and g.successful() and not bool(g)
    assert g.value == 5 and g.exception is None and g.exc_info is None
    assert g.get() == 5


def test_spawn_order_is_fifo():
    seen = []
    gs = [co.spawn(seen.append, i) for i in range(50)]
    co.joinall(gs)
    assert seen == list(range(50))


def test_spawn_rejects_non_callable_at_the_call():
    with pytest.raises(TypeError, match="callable"):
        co.spawn(42)
    with pytest.raises(TypeError, match="callable"):
        Greenlet(42)
    with pytest.raises(TypeError):
        co.spawn_raw("nope")


def test_exception_is_kept_and_printed(quiet_hub):
    def boom(x):
        raise ValueError(f"bad {x}")

    g = co.spawn(boom, "arg")
    g.join()
    assert not g.successful()
    assert isinstance(g.exception, ValueError)
    assert g.value is None
    with pytest.raises(ValueError, match="bad arg"):
        g.get()
    out = quiet_hub.getvalue()
    assert "Traceback" in out and "ValueError: bad arg" in out
    assert f"<Greenlet at {id(g):#x}: " in out
    assert "boom('arg')> failed with ValueError" in out
    assert "_worker_main" not in out  # the user's frames only


def test_named_greenlet_repr_and_args_shortened(quiet_hub):
    g = Greenlet(lambda *a: 1 / 0, "x" * 500, list(range(100)))
    g.name = "fetcher"
    g.start()
    g.join()
    line = [ln for ln in quiet_hub.getvalue().splitlines() if "failed with" in ln][0]
    assert line.startswith('<Greenlet "fetcher" at ')
    assert len(line) < 200
    assert line.endswith("failed with ZeroDivisionError")


def test_greenlet_exit_is_success():
    g = co.spawn(co.sleep, 10)
    co.sleep(0)
    g.kill()
    assert g.dead and g.successful()
    assert isinstance(g.value, co.GreenletExit)


def test_kill_unstarted_never_runs():
    ran = []
    g = co.spawn(ran.append, 1)
    g.kill()
    assert g.dead and g.successful()
    co.sleep(0.01)
    assert ran == []
    later = co.spawn_later(0.01, ran.append, 2)
    later.kill()
    co.sleep(0.03)
    assert ran == [] and later.dead


def test_kill_with_custom_exception_and_timeout(quiet_hub):
    caught = []

    def stubborn():
        try:
            co.sleep(10)
        except KeyError as e:
            caught.append(e)
            co.sleep(10)

    g = co.spawn(stubborn)
    co.sleep(0)
    t0 = time.monotonic()
    g.kill(KeyError("k"), block=True, timeout=0.05)
    assert time.monotonic() - t0 < 2
    assert len(caught) == 1 and not g.dead
    g.kill()
    assert g.dead


def test_kill_self_raises_greenlet_exit():
    after = []

    def suicide():
        co.getcurrent().kill()
        after.append(1)

    g = co.spawn(suicide)
    g.join()
    assert g.dead and after == [] and isinstance(g.value, co.GreenletExit)


def test_join_timeout_returns_and_cleans_up():
    g = co.spawn(co.sleep, 0.2)
    t0 = time.monotonic()
    assert g.join(timeout=0.01) is None
    assert not g.ready()
    assert time.monotonic() - t0 < 0.15
    assert not g._links  # the waiter's registration is gone
    g.join()
    assert g.ready()


def test_get_timeout_and_nonblocking_raise_timeout():
    g = co.spawn(co.sleep, 0.2)
    with pytest.raises(co.Timeout):
        g.get(block=False)
    with pytest.raises(co.Timeout):
        g.get(timeout=0.01)
    g.kill()


def test_negative_timeouts_time_out_at_once_as_gevent():
    g = co.spawn(co.sleep, 0.5)
    assert g.join(timeout=-1) is None and not g.dead
    with pytest.raises(co.Timeout):
        g.get(timeout=-1)
    assert co.joinall([g], timeout=-0.5) == []
    assert co.joinall([], timeout=-1) == []
    ran = []
    co.spawn_later(-1, ran.append, 1).join()
    assert ran == [1]
    g.kill()


def test_bad_timeouts_raise_at_call():
    g = co.spawn(co.sleep, 0)
    with pytest.raises(TypeError):
        g.get(timeout="soon")
    for call in (lambda: g.join(timeout=float("nan")), lambda: co.joinall([g], timeout=float("nan")),
                 lambda: co.spawn_later(float("nan"), print)):
        with pytest.raises(ValueError, match="NaN"):
            call()
    g.join()


def test_link_ordering_and_kinds(quiet_hub):
    order = []
    g = co.spawn(lambda: 7)
    g.rawlink(lambda s: order.append(("raw1", s.value)))
    g.link(lambda s: order.append(("link", s.value)))
    g.rawlink(lambda s: order.append(("raw2", s.value)))
    g.link_value(lambda s: order.append(("value", s.value)))
    g.link_exception(lambda s: order.append(("exc", s.value)))
    g.join()
    # gevent's order: every link, in registration order, has run when join()
    # returns; link() callbacks run in their own greenlet, started at once.
    assert order == [("raw1", 7), ("link", 7), ("raw2", 7), ("value", 7)]


def test_links_run_before_join_returns_even_if_they_block():
    from coopshell.event import Event
    order = []
    finished = Event()

    def slow_link(source):
        order.append("link start")
        co.sleep(0.01)
        order.append("link end")
        finished.set()

    g = co.spawn(order.append, "run")
    g.link(slow_link)
    g.link(lambda s: order.append("second link"))
    g.join()
    assert order == ["run", "link start", "second link"]
    assert finished.wait(10)
    assert order[-1] == "link end"


def test_link_exception_only_on_failure(quiet_hub):
    got = []
    g = co.spawn(lambda: 1 / 0)
    g.link_exception(lambda s: got.append(type(s.exception)))
    g.link_value(lambda s: got.append("value"))
    g.join()
    co.sleep(0.01)
    assert got == [ZeroDivisionError]


def test_error_in_link_does_not_stop_other_links(quiet_hub):
    got = []
    g = co.spawn(lambda: 1)
    g.rawlink(lambda s: 1 / 0)
    g.rawlink(lambda s: got.append(s.value))
    g.join()
    co.sleep(0)
    assert got == [1]
    assert "ZeroDivisionError" in quiet_hub.getvalue()


def test_rawlink_after_death_still_fires():
    g = co.spawn(lambda: 3)
    g.join()
    got = []
    g.rawlink(lambda s: got.append(s.value))
    co.sleep(0)
    assert got == [3]


def test_unlink():
    got = []
    cb = got.append
    g = co.spawn(co.sleep, 0.01)
    g.rawlink(cb)
    g.unlink(cb)
    g.join()
    co.sleep(0)
    assert got == []


def test_getcurrent_is_the_greenlet_and_a_kept_raw_greenlet_is_never_reused():
    g = co.spawn(co.getcurrent)
    assert g.get() is g
    workers = []
    co.joinall([co.spawn(lambda: workers.append(raw_greenlet.getcurrent())) for _ in range(20)])
    assert len({id(w) for w in workers}) == 20  # each task had its own (see test_greenlet_identity)
    assert co.getcurrent() is raw_greenlet.getcurrent()  # main greenlet maps to itself


def test_context_is_copied_from_spawner():
    var = contextvars.ContextVar("var", default="unset")
    var.set("outer")

    def child():
        seen = var.get()
        var.set("inner")
        return seen

    g = co.spawn(child)
    assert g.get() == "outer"
    assert var.get() == "outer"  # the child's set() did not leak back
    var.set("changed")
    assert co.spawn(var.get).get() == "changed"
    # A reused worker does not leak the previous task's context.
    co.spawn(var.set, "leak").join()
    assert co.spawn(var.get).get() == "changed"


def test_subclass_with_run():
    class Job(Greenlet):
        def __init__(self, n):
            Greenlet.__init__(self)
            self.n = n

        def _run(self):
            return self.n * 2

    j = Job.spawn(21)
    assert j.get() == 42
    assert repr(j).startswith("<Job at ") and repr(j).endswith(": _run>")   # gevent's form


def test_context_manager_waits_after_a_clean_block_as_gevent():
    with co.spawn(lambda: co.sleep(0.01) or 5) as g:
        pass
    assert g.dead and g.value == 5   # joined, not killed


def test_context_manager_kills_with_the_blocks_exception(quiet_hub):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with co.spawn(co.sleep, 10) as g:
            co.sleep(0)
            raise Boom("in the block")
    assert g.dead and not g.successful()
    with pytest.raises(Boom, match="in the block"):
        g.get()


def test_joinall_timeout_count_and_raise_error(quiet_hub):
    fast = [co.spawn(co.sleep, 0.01) for _ in range(3)]
    slow = co.spawn(co.sleep, 5)
    done = co.joinall(fast + [slow], timeout=0.2)
    assert set(done) == set(fast)
    done = co.joinall(fast + [slow], count=2)
    assert len(done) == 2
    slow.kill()

    bad = co.spawn(lambda: 1 / 0)
    other = co.spawn(co.sleep, 5)
    with pytest.raises(ZeroDivisionError):
        co.joinall([other, bad], raise_error=True)
    other.kill()


def test_iwait_yields_in_completion_order():
    gs = [co.spawn(lambda d=d: co.sleep(d) or d, ) for d in (0.06, 0.02, 0.04)]
    order = [g.value for g in co.iwait(gs)]
    assert order == [0.02, 0.04, 0.06]


def test_iwait_mixed_objects_and_timeout():
    ev = Event()
    ar = AsyncResult()
    co.spawn_later(0.01, ar.set, 5)
    got = list(co.iwait([ev, ar], timeout=0.1))
    assert got == [ar]
    assert len(ev._links) == 0 and len(ar._links) == 0


def test_iwait_timeout_while_consumer_busy():
    gs = [co.spawn(co.sleep, 0.01), co.spawn(co.sleep, 1)]
    it = co.iwait(gs, timeout=0.05)
    first = next(it)
    assert first is gs[0]
    time.sleep(0.1)  # really busy: the timer fires once the hub runs
    co.sleep(0)
    assert list(it) == []
    gs[1].kill()


def test_wait_without_objects_waits_for_loop():
    got = []
    co.spawn_later(0.02, got.append, 1)
    assert co.wait(timeout=2) is True
    assert got == [1]


def test_killall_blocking_and_timeout():
    gs = [co.spawn(co.sleep, 10) for _ in range(5)]
    co.sleep(0)
    co.killall(gs)
    assert all(g.dead for g in gs)

    def ignore_kill():
        while True:
            try:
                co.sleep(10)
            except co.GreenletExit:
                pass

    g = co.spawn(ignore_kill)
    co.sleep(0)
    with pytest.raises(co.Timeout):
        co.killall([g], timeout=0.05)
    g.kill(ValueError, block=False)
    g.join()
    assert isinstance(g.exception, ValueError)


def test_kill_raw_greenlet():
    got = []

    def raw():
        try:
            co.sleep(10)
        except co.GreenletExit:
            got.append("killed")

    r = co.spawn_raw(raw)
    co.sleep(0)
    co.kill(r)
    co.sleep(0.01)
    assert got == ["killed"] and r.dead


def test_spawn_raw_with_kwargs_and_context():
    var = contextvars.ContextVar("v2")
    var.set(9)
    got = []
    co.spawn_raw(lambda x, y=0: got.append((x, y, var.get())), 1, y=2)
    co.sleep(0)
    assert got == [(1, 2, 9)]


def test_many_spawn_join_reuses_few_workers():
    before = len(co.get_hub().workers)
    gs = [co.spawn(lambda i=i: i) for i in range(5000)]
    co.joinall(gs)
    assert [g.value for g in gs] == list(range(5000))
    assert len(co.get_hub().workers) <= before + 1


def test_idle_pool_is_bounded():
    from coopshell import greenlet as gmod
    ev = Event()
    gs = [co.spawn(ev.wait) for _ in range(gmod.MAX_IDLE_WORKERS + 50)]
    co.sleep(0)
    ev.set()
    co.joinall(gs)
    assert len(co.get_hub().workers) <= gmod.MAX_IDLE_WORKERS


def test_state_names(quiet_hub):
    g = Greenlet(co.sleep, 0.01)
    assert g.state == "new"
    g.start()
    assert g.state == "scheduled"
    co.sleep(0)
    assert g.state == "running"
    g.join()
    assert g.state == "dead"
    bad = co.spawn(lambda: 1 / 0)
    bad.join()
    assert bad.state == "failed"


def test_minimal_ident_unique_and_name_default():
    a, b = Greenlet(print), Greenlet(print)
    assert a.minimal_ident != b.minimal_ident
    assert a.name == f"Greenlet-{a.minimal_ident}"
