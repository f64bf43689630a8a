"""coopshell.pool: Group, Pool, map/imap."""

import pytest

import coopshell as co
from coopshell.event import Event
from coopshell.pool import Group, Pool, PoolFull


class Concurrency:
    def __init__(self):
        self.active = 0
        self.peak = 0

    def __call__(self, x, delay=0.002):
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            co.sleep(delay * (1 + x % 3))
            return x * 10
        finally:
            self.active -= 1


def test_group_tracks_and_discards_finished():
    g = Group()
    ev = Event()
    a = g.spawn(ev.wait)
    b = g.spawn(lambda: 1)
    assert len(g) == 2 and a in g and set(g) == {a, b}
    co.sleep(0)
    co.sleep(0)
    assert b not in g and a in g
    assert g.join(timeout=0.005) is False
    ev.set()
    assert g.join(timeout=1) is True
    assert len(g) == 0
    assert "0 greenlets" in repr(g)
    assert not g.full() and g.wait_available() is None


def test_group_init_add_discard():
    ev = Event()
    a = co.spawn(ev.wait)
    g = Group([a])
    assert a in g
    g.discard(a)
    assert a not in g and len(g) == 0
    with pytest.raises(TypeError):
        g.add(object())
    with pytest.raises(TypeError):
        Group([], [])
    ev.set()
    a.join()


def test_group_join_raise_error(quiet_hub):
    g = Group()
    g.spawn(lambda: 1)
    g.spawn(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        g.join(raise_error=True)
    assert len(g) == 0


def test_group_kill_all_and_timeout():
    g = Group()
    ev = Event()
    gs = [g.spawn(ev.wait) for _ in range(5)]
    co.sleep(0)
    g.kill()
    assert len(g) == 0 and all(x.dead for x in gs)

    def stubborn():
        while True:
            try:
                ev.wait()
            except co.GreenletExit:
                pass

    s = g.spawn(stubborn)
    co.sleep(0)
    g.kill(timeout=0.02)  # returns quietly although it survives
    assert not s.dead and s in g
    s.kill(ValueError, block=False)


def test_group_killone():
    g = Group()
    ev = Event()
    a, b = g.spawn(ev.wait), g.spawn(ev.wait)
    co.sleep(0)
    g.killone(a)
    assert a.dead and a not in g and b in g
    g.kill()


def test_pool_size_validation():
    with pytest.raises(ValueError):
        Pool(-1)
    with pytest.raises(TypeError):
        Pool("3")
    p = Pool(0)  # allowed as in gevent: nothing can join it
    assert p.full() and p.free_count() == 0
    assert p.wait_available(timeout=0.005) == 0
    with pytest.raises(PoolFull):
        p.add(co.Greenlet(lambda: None), blocking=False)
    with pytest.raises(PoolFull):
        p.add(co.Greenlet(lambda: None), timeout=0.005)


def test_pool_limits_concurrency_to_size():
    c = Concurrency()
    p = Pool(3)
    gs = [p.spawn(c, i) for i in range(12)]
    p.join(timeout=5)
    assert c.peak == 3
    assert [g.value for g in gs] == [i * 10 for i in range(12)]
    assert p.free_count() == 3 and not p.full()


def test_pool_spawn_blocks_while_full_and_fifo():
    p = Pool(1)
    ev = Event()
    first = p.spawn(ev.wait)
    assert p.full() and p.free_count() == 0
    order = []
    spawners = [co.spawn(lambda i=i: p.spawn(order.append, i)) for i in range(3)]
    co.sleep(0)
    assert all(not s.dead for s in spawners)
    assert "waiting=3" in repr(p)
    ev.set()
    co.joinall(spawners, timeout=1)
    p.join(timeout=1)
    assert order == [0, 1, 2] and first.dead


def test_pool_unlimited():
    p = Pool()
    assert p.free_count() == 1 and not p.full() and p.wait_available() == 1
    gs = [p.spawn(lambda: None) for _ in range(50)]
    assert len(p) == 50
    p.join()
    assert all(g.dead for g in gs)


def test_pool_discard_frees_slot_once():
    p = Pool(1)
    ev = Event()
    a = p.spawn(ev.wait)
    p.discard(a)
    assert p.free_count() == 1
    p.discard(a)  # not a member: no extra slot
    b = p.spawn(ev.wait)
    assert p.full()
    ev.set()
    p.join(timeout=1)
    assert a.dead and b.dead and p.free_count() == 1
    assert p._semaphore.counter == 1


def test_map_order_and_concurrency():
    c = Concurrency()
    p = Pool(4)
    assert p.map(c, range(10)) == [i * 10 for i in range(10)]
    assert c.peak == 4
    assert Group().map(lambda x: -x, [1, 2]) == [-1, -2]
    with pytest.raises(TypeError):
        p.map(3, [1])


def test_imap_ordered_and_multiple_iterables():
    p = Pool(3)
    assert list(p.imap(lambda a, b: a + b, [1, 2, 3], [10, 20, 30])) == [11, 22, 33]
    # later items finish first, order still kept
    assert list(p.imap(lambda x: co.sleep(0.001 * (5 - x)) or x, range(5))) == list(range(5))
    assert list(p.imap(abs, [])) == []


def test_imap_unordered_yields_as_finished():
    p = Pool(5)
    res = list(p.imap_unordered(lambda x: co.sleep(0.002 * (4 - x)) or x, range(5)))
    assert sorted(res) == list(range(5))
    assert res[0] == 4


def test_imap_maxsize_limits_unconsumed_results():
    started = []
    p = Pool(10)
    it = p.imap(lambda x: started.append(x) or x, range(20), maxsize=3)
    co.sleep(0.01)
    assert len(started) == 3
    assert next(it) == 0
    co.sleep(0.01)
    assert len(started) == 4
    assert list(it) == list(range(1, 20))
    with pytest.raises(ValueError):
        p.imap(abs, [1], maxsize=0)


def test_map_error_propagates_and_stops(quiet_hub):
    p = Pool(2)

    def f(x):
        if x == 3:
            raise KeyError(x)
        co.sleep(0.001)
        return x

    with pytest.raises(KeyError):
        p.map(f, range(10))
    it = p.imap(f, range(10))
    got = []
    with pytest.raises(KeyError):
        for v in it:
            got.append(v)
    assert got == [0, 1, 2]  # results before the failure, in order
    assert list(it) == []
    p.join(timeout=1)
    assert len(p) == 0  # remaining calls were killed
    with pytest.raises(KeyError):
        list(p.imap_unordered(f, range(10)))


def test_imap_input_error_after_results():
    def gen():
        yield 1
        yield 2
        raise RuntimeError("input broke")

    it = Pool(2).imap(lambda x: x, gen())
    assert next(it) == 1 and next(it) == 2
    with pytest.raises(RuntimeError, match="input broke"):
        next(it)


def test_apply_family():
    p = Pool(2)
    assert p.apply(pow, (2, 5)) == 32
    assert p.apply(dict, kwds={"a": 1}) == {"a": 1}
    got = []
    g = p.apply_async(pow, (2, 3), callback=got.append)
    g.join()
    co.sleep(0)
    co.sleep(0)
    assert g.value == 8 and got == [8]
    assert p.apply_cb(pow, (3, 2), callback=got.append) == 9
    m = p.map_async(abs, [-1, -2], callback=got.append)
    assert m.get(timeout=1) == [1, 2]
    assert got == [8, 9, [1, 2]]


def test_apply_async_never_blocks_when_full():
    p = Pool(1)
    ev = Event()
    p.spawn(ev.wait)
    g = p.apply_async(lambda: "late")
    assert g not in p
    ev.set()
    assert g.get(timeout=1) == "late"


def test_apply_from_inside_member_runs_inline():
    p = Pool(1)
    # the only slot is taken by the caller: spawning would deadlock
    assert p.spawn(lambda: p.apply(lambda: 5) + p.map(abs, [-1])[0]).get(timeout=1) == 6


def test_bounded_imap_exposes_its_result_queue_and_keeps_it_short():
    # gevent's IMapUnordered.queue: with maxsize=1 a slow reader never finds
    # more than one result (and the end marker) waiting in it.
    from coopshell.pool import Pool
    pool = Pool(10)
    for meth in (pool.imap_unordered, pool.imap):
        mapping = meth(lambda i: i, range(20), maxsize=1)
        seen, longest = [], 0
        for item in mapping:
            seen.append(item)
            co.sleep(0.001)
            longest = max(longest, len(mapping.queue))
        assert sorted(seen) == list(range(20))
        assert longest <= 2
