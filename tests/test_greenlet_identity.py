"""Greenlet identity: state keyed on ``greenlet.getcurrent()`` never leaks from
one task to the next, although idle worker greenlets are reused (issue 11 §5)."""

import gc
import weakref

import greenlet as raw_greenlet

import coopshell as co


def _sequential(task, n=3):
    """Run ``task`` in ``n`` Greenlets one after the other; their values."""
    out = []
    for _ in range(n):
        out.append(co.spawn(task).get())
    return out


def test_state_keyed_on_raw_getcurrent_does_not_leak_to_the_next_task():
    registry = {}

    def task():
        me = raw_greenlet.getcurrent()
        seen = registry.get(me)
        registry[me] = len(registry)
        return seen

    assert _sequential(task) == [None, None, None]   # gevent's answer
    assert len(registry) == 3


def test_weakly_keyed_state_does_not_leak_either():
    registry = weakref.WeakKeyDictionary()

    def task():
        me = raw_greenlet.getcurrent()
        seen = registry.get(me)
        registry[me] = "task-state"
        return seen

    assert _sequential(task) == [None, None, None]


def test_scoped_registry_like_sqlalchemy_scoped_session():
    class ScopedRegistry:   # the shape of sqlalchemy.util.ScopedRegistry
        def __init__(self, createfunc, scopefunc):
            self.createfunc, self.scopefunc, self.registry = createfunc, scopefunc, {}

        def __call__(self):
            key = self.scopefunc()
            try:
                return self.registry[key]
            except KeyError:
                return self.registry.setdefault(key, self.createfunc())

    sessions = ScopedRegistry(object, raw_greenlet.getcurrent)
    got = _sequential(lambda: id(sessions()), n=5)
    assert len(set(got)) == 5, "a task was handed another task's session"


def test_key_dropped_at_the_end_of_the_task_lets_the_worker_be_reused():
    registry = {}
    ids = []

    def task():
        me = raw_greenlet.getcurrent()
        ids.append(id(me))
        registry[me] = 1
        del registry[me]   # cleaned up in the task (a request's teardown)

    _sequential(task, n=10)
    assert len(set(ids)) == 1
    assert id(co.get_hub().workers[-1]) == ids[0]


def test_workers_are_reused_when_nothing_keeps_them():
    ids = []
    co.joinall([co.spawn(lambda: ids.append(id(raw_greenlet.getcurrent()))) for _ in range(20)])
    assert len(set(ids)) == 1
    assert id(co.get_hub().workers[-1]) == ids[0]


def test_retired_worker_is_finished_not_parked():
    holders = []
    co.spawn(lambda: holders.append(raw_greenlet.getcurrent())).join()
    co.spawn(lambda: None).join()   # takes a worker: the held one is retired
    gc.collect()
    assert holders[0].dead
    assert holders[0] not in co.get_hub().workers


def test_a_cancelled_timeout_does_not_keep_the_worker_from_reuse():
    # A cancelled timer may stay in the heap until compaction; it must not hold
    # the worker it would have thrown into (that would retire every worker
    # whose task used a Timeout block).
    from coopshell.timeout import Timeout
    ids = []

    def task():
        ids.append(id(raw_greenlet.getcurrent()))
        with Timeout(60):
            co.sleep(0)

    _sequential(task, n=10)
    assert len(set(ids)) == 1
    assert id(co.get_hub().workers[-1]) == ids[0]


def test_max_idle_workers_set_on_coopshell_greenlet_takes_effect():
    import pytest

    from coopshell import greenlet as gmod
    old = gmod.MAX_IDLE_WORKERS
    hub = co.get_hub()
    try:
        gmod.MAX_IDLE_WORKERS = 0
        del hub.workers[:]
        co.spawn(lambda: None).join()
        assert hub.workers == []          # the finished worker exited instead of parking
        with pytest.raises(ValueError, match="int >= 0"):
            gmod.MAX_IDLE_WORKERS = -1
    finally:
        gmod.MAX_IDLE_WORKERS = old
    co.spawn(lambda: None).join()
    assert len(hub.workers) == 1


def test_a_new_workers_first_task_is_not_kept_alive_by_the_worker():
    hub = co.get_hub()
    del hub.workers[:]            # the next spawn starts a fresh worker
    g = co.spawn(lambda: None)
    g.join()
    assert len(hub.workers) == 1  # that worker, parked for reuse
    r = weakref.ref(g)
    del g
    co.sleep(0)                   # let the hub leave the callback that woke us
    gc.collect()
    assert r() is None


def test_a_parked_worker_keeps_no_finished_task_alive():
    co.spawn(lambda: None).join()     # a worker is parked now
    refs = []
    for _ in range(3):                # reused: each task comes through the parking loop
        g = co.spawn(lambda: None)
        g.join()
        refs.append(weakref.ref(g))
        del g
    co.sleep(0)
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
