"""coopshell.local: greenlet-local storage."""

import gc
import threading
import weakref

import pytest

import coopshell as co
from coopshell._core.hub import get_hub
from coopshell.event import Event
from coopshell.local import local


def _dicts(obj):
    return object.__getattribute__(obj, "_local__impl").dicts


def test_each_greenlet_sees_its_own_attributes():
    loc = local()
    loc.x = "main"

    def body(i):
        assert not hasattr(loc, "x")
        loc.x = i
        co.sleep(0)  # others write meanwhile
        assert loc.x == i
        assert loc.__dict__ == {"x": i}
        del loc.x
        assert not hasattr(loc, "x")
        loc.x = i
        return loc.x

    gs = [co.spawn(body, i) for i in range(20)]
    co.joinall(gs, timeout=2)
    assert [g.get() for g in gs] == list(range(20))
    assert loc.x == "main"


def test_keyed_by_greenlet_not_worker():
    # Workers are reused: the second Greenlet on a worker must start empty.
    loc = local()
    a = co.spawn(lambda: setattr(loc, "v", 1) or co.getcurrent())
    a.join()
    seen = co.spawn(lambda: getattr(loc, "v", None)).get()
    assert seen is None


def test_hub_has_its_own_dict():
    loc = local()
    loc.v = "main"
    seen = []

    def cb():
        seen.append(getattr(loc, "v", None))
        loc.v = "hub"

    get_hub().loop.run_callback(cb)
    co.sleep(0)
    assert seen == [None] and loc.v == "main"


def test_subclass_init_runs_per_greenlet_with_args():
    calls = []

    class Counter(local):
        kind = "class-attr"

        def __init__(self, start, step=1):
            calls.append(co.getcurrent())
            self.value = start
            self.step = step

        def bump(self):
            self.value += self.step
            return self.value

    c = Counter(10, step=5)
    assert c.bump() == 15
    assert co.spawn(c.bump).get() == 15  # fresh __init__ in the new greenlet
    assert c.bump() == 20
    assert c.kind == "class-attr"
    assert len(calls) == 2


def test_init_args_without_init_rejected():
    with pytest.raises(TypeError):
        local(1)
    with pytest.raises(TypeError):
        local(a=1)
    loc = local()
    with pytest.raises(AttributeError):
        loc.__dict__ = {}
    with pytest.raises(AttributeError):
        del loc.missing


def test_slots_and_properties_in_subclass():
    class L(local):
        @property
        def doubled(self):
            return self.x * 2

    loc = L()
    loc.x = 2

    def other():
        loc.x = 10
        co.sleep(0)
        return loc.doubled

    g = co.spawn(other)
    co.sleep(0)
    assert loc.doubled == 4
    assert g.get(timeout=1) == 20


def test_finished_greenlets_leave_no_entries():
    loc = local()
    loc.main = True

    def touch(i):
        loc.value = i

    handles = [co.spawn(touch, i) for i in range(10000)]
    co.joinall(handles)
    co.sleep(0)
    # Cleaned up when each finished, even though the handles are still held.
    assert len(_dicts(loc)) == 1
    del handles
    gc.collect()
    assert len(_dicts(loc)) == 1
    assert loc.main is True


def test_raw_greenlet_entry_dropped_when_collected():
    loc = local()
    box = []
    raw = co.spawn_raw(lambda: box.append(setattr(loc, "x", 1)))
    co.sleep(0)
    assert len(_dicts(loc)) == 2  # main (creator) + the raw greenlet
    del raw
    gc.collect()
    assert len(_dicts(loc)) == 1


def test_dropped_local_frees_dicts():
    loc = local()
    payload = type("Payload", (), {})()
    r = weakref.ref(payload)
    ev = Event()

    def keep():
        loc.p = payload
        ev.wait()

    g = co.spawn(keep)
    co.sleep(0)
    del payload, loc
    gc.collect()
    assert r() is None  # the greenlet is alive, but the local is gone
    ev.set()
    g.join()


def test_threads_have_separate_dicts():
    loc = local()
    loc.v = "main"
    out = []

    def in_thread():
        out.append(getattr(loc, "v", None))
        loc.v = "thread"
        out.append(co.spawn(lambda: getattr(loc, "v", None)).get())
        out.append(loc.v)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join(5)
    assert out == [None, None, "thread"] and loc.v == "main"


def test_weakref_and_no_pickle():
    import pickle
    loc = local()
    assert weakref.ref(loc)() is loc
    with pytest.raises(TypeError):
        pickle.dumps(loc)


class _Sentinel:
    pass


def test_a_finished_greenlets_dict_is_freed_while_the_local_lives():
    # gevent issue 387: the last greenlet to touch a local must not keep its
    # dict alive (as the object's installed __dict__) after it finished.
    import weakref
    loc = co.local.local()
    refs = []

    def touch():
        s = _Sentinel()
        refs.append(weakref.ref(s))
        loc.s = s

    gs = [co.spawn(touch) for _ in range(5)]
    for g in gs:
        g.join()
    for _ in range(100):   # the greenlets' links (which drop their dicts) run after join
        if len(object.__getattribute__(loc, "_local__impl").dicts) == 1:
            break
        co.sleep(0)
    assert len(refs) == 5
    assert [r() for r in refs] == [None] * 5
    assert not hasattr(loc, "s")


def test_locals_made_and_dropped_in_a_running_greenlet_leave_no_links():
    # gevent issue 981: a running greenlet making many short-lived locals.
    def work():
        g = co.getcurrent()
        before = len(g._links or ())
        for _ in range(200):
            x = co.local.local()
            x.v = 1
            x = None
        return before, len(g._links or ())

    before, after = co.spawn(work).get(timeout=30)
    assert after == before


def test_all_local_dicts_for_greenlet():
    from coopshell.local import all_local_dicts_for_greenlet

    def run():
        x = co.local.local()
        x.foo = 42
        return id(x), all_local_dicts_for_greenlet(co.getcurrent()), x

    ident, found, keep = co.spawn(run).get(timeout=30)
    assert found == [((co.local.local, ident), {"foo": 42})]
