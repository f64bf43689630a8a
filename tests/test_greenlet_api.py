"""gevent's ``Greenlet`` API beyond spawn/join: the default ``_run``, ``started``,
links, spawn callbacks, ``switch``, the spawn tree (issue 11 §5)."""

import greenlet as raw_greenlet
import pytest

import coopshell as co
from coopshell.greenlet import Greenlet


def test_greenlet_without_a_function_runs_nothing_as_gevent():
    g = Greenlet()
    assert not g.exc_info and repr(g).endswith(": _run>")
    g.start()
    g.join()
    assert g.dead and g.successful() and g.value is None


def test_subclass_with_a_non_callable_run_is_refused():
    class Bad(Greenlet):
        _run = 5

    with pytest.raises(TypeError, match="must be callable, got 5"):
        Bad()


def test_started_is_false_again_once_dead():
    g = Greenlet(co.sleep, 0)
    assert not g.started
    g.start()
    assert g.started and g
    g.join()
    assert not g.started and not g and g.dead


def test_has_links():
    g = Greenlet(lambda: None)
    assert not g.has_links()
    g.link(print)
    assert g.has_links()
    g.unlink(print)
    assert not g.has_links()


def test_spawn_callbacks_run_when_started_not_when_created():
    seen = []
    Greenlet.add_spawn_callback(seen.append)
    try:
        Greenlet.add_spawn_callback(seen.append)   # once only
        a = co.spawn(lambda: None)
        b = co.spawn_later(0, lambda: None)
        c = Greenlet(lambda: None)
        assert seen == [a, b]
        c.start()
        assert seen == [a, b, c]
        co.joinall([a, b, c])
    finally:
        Greenlet.remove_spawn_callback(seen.append)
    co.spawn(lambda: None).join()
    assert len(seen) == 3
    Greenlet.remove_spawn_callback(seen.append)   # a no-op now


def test_switch_starts_a_scheduled_greenlet_now():
    order = []
    main = raw_greenlet.getcurrent()

    def task():
        order.append("task")
        co.sleep(0)
        order.append("after")

    g = co.spawn(task)
    co.get_hub().loop.schedule(main.switch, "woken")   # the switcher's own wakeup, as gevent needs
    assert g.switch() == "woken"
    assert order == ["task"] and g.state == "running" and g.gr_frame is not None
    g.join()
    assert order == ["task", "after"]


def test_switch_into_a_suspended_greenlet_sends_the_value():
    got = []
    main = raw_greenlet.getcurrent()
    g = co.spawn(lambda: got.append(co.get_hub().switch()))   # parks with no wakeup
    co.sleep(0)
    assert g.state == "running" and got == []
    co.get_hub().loop.schedule(main.switch)
    g.switch("hello")
    assert got == ["hello"] and g.dead


def test_spawning_greenlet_and_tree_locals_as_gevent():
    seen = {}

    def child_of(parent_locals):
        me = co.getcurrent()
        kid = Greenlet()
        seen["shared"] = kid.spawn_tree_locals is me.spawn_tree_locals is parent_locals
        seen["spawner"] = kid.spawning_greenlet() is me

    g = Greenlet(lambda: child_of(g.spawn_tree_locals))
    g2 = Greenlet(lambda: None)
    assert not hasattr(raw_greenlet.getcurrent(), "spawn_tree_locals")   # main is a root
    assert g.spawn_tree_locals is not g2.spawn_tree_locals
    assert g.spawning_greenlet() is co.getcurrent()
    g.start()
    g.join()
    g2.kill()
    assert seen == {"shared": True, "spawner": True}

    raw = co.spawn_raw(lambda: None)
    assert raw.spawning_greenlet() is co.getcurrent()
    assert raw.spawn_tree_locals is not g.spawn_tree_locals
    co.sleep(0)
    assert raw.dead


def test_kill_before_start_with_a_non_exception_wraps_it():
    links = []
    g = Greenlet(lambda: None)
    g.link(links.append)
    g.kill(42)
    assert g.dead and not g.successful()
    assert type(g.exception) is BaseException and g.exception.args == (42,)
    co.sleep(0)
    assert links == [g]


def test_kill_with_an_exc_info_triple(quiet_hub):
    started = Greenlet(co.sleep, 10)
    started.start()
    co.sleep(0)
    err = ValueError("triple")
    started.kill((ValueError, err, None))
    assert started.exception is err
    unstarted = Greenlet(lambda: None)
    unstarted.kill((KeyError, None, None))
    assert isinstance(unstarted.exception, KeyError)


def test_repr_is_geventss():
    def work():
        pass

    class A:
        def method(self):
            pass

    g = Greenlet(work)
    assert repr(g) == f"<Greenlet at {id(g):#x}: work>"
    assert g.name.startswith("Greenlet-")     # an ident now exists: the name shows
    assert repr(g).startswith('<Greenlet "Greenlet-')
    assert repr(Greenlet(work, "x" * 80, k=1)).endswith(f": work('{'x' * 49}, k=1)>")
    assert ": <bound method " in repr(Greenlet(A().method))


def test_blocking_kill_waits_through_the_subclass_join():
    class Counting(Greenlet):
        joins = 0

        def join(self, timeout=None):
            self.joins += 1
            return super().join(timeout)

    g = Counting(co.sleep, 10)
    g.start()
    co.sleep(0)
    g.kill()
    assert g.dead and g.joins == 1
