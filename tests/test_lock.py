"""coopshell.lock: Semaphore, BoundedSemaphore, Lock, RLock, DummySemaphore."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import coopshell as co
from coopshell.event import Event
from coopshell.lock import BoundedSemaphore, DummySemaphore, Lock, RLock, Semaphore


def test_bad_arguments():
    with pytest.raises(ValueError):
        Semaphore(-1)
    with pytest.raises(TypeError):
        Semaphore("1")
    with pytest.raises(TypeError):
        Semaphore(1.5)
    s = Semaphore(0)
    with pytest.raises(ValueError):
        s.acquire(blocking=False, timeout=1)
    with pytest.raises(ValueError):
        s.acquire(timeout=-2)
    with pytest.raises(TypeError):
        s.acquire(timeout="x")
    with pytest.raises(ValueError):
        s.wait(timeout=-1)
    assert s.linkcount() == 0


def test_counter_acquire_release():
    s = Semaphore(2)
    assert s.counter == 2 and not s.locked() and s.ready()
    assert s.acquire() and s.acquire()
    assert s.locked() and not s.ready()
    assert s.acquire(blocking=False) is False
    assert s.release() == 1
    assert s.release() == 2
    assert s.release() == 3  # a plain Semaphore may be over-released
    assert s.statistics() == {"counter": 3, "waiters": 0}


def test_acquire_timeout_returns_false_and_unregisters():
    s = Semaphore(0)
    assert s.acquire(timeout=0.01) is False
    assert s.linkcount() == 0
    assert s.wait(timeout=0.01) == 0
    assert s.linkcount() == 0
    # threading's spelling of "forever" is accepted
    co.spawn_later(0.01, s.release)
    assert s.acquire(timeout=-1) is True


def test_bounded_over_release():
    b = BoundedSemaphore(2)
    with pytest.raises(ValueError, match="too many"):
        b.release()
    b.acquire()
    assert b.release() == 2
    with pytest.raises(ValueError):
        b.release()
    assert b.counter == 2


def test_waiters_woken_in_fifo_order():
    s = Semaphore(0)
    order = []

    def waiter(i):
        s.acquire()
        order.append(i)

    gs = [co.spawn(waiter, i) for i in range(6)]
    co.sleep(0)
    assert s.linkcount() == 6
    for _ in range(6):
        s.release()
    co.joinall(gs, timeout=2)
    assert order == list(range(6))
    assert s.counter == 0


def test_release_then_reacquire_does_not_starve_waiters():
    # A greenlet that releases the lock and grabs it again at once (the
    # classic barging pattern) must let the greenlet already queued in.
    lock = Lock()
    go = Event()
    log = []

    def hog():
        for i in range(5):
            with lock:
                log.append("hog")
                if i == 0:
                    go.wait()
                co.sleep(0)

    def other():
        with lock:
            log.append("other")

    h = co.spawn(hog)
    co.sleep(0)
    o = co.spawn(other)
    co.sleep(0)
    assert lock.linkcount() == 1  # other waits while hog holds the lock
    go.set()
    co.joinall([h, o], timeout=2)
    assert log == ["hog", "other", "hog", "hog", "hog", "hog"]


def test_fairness_round_robin_under_contention():
    s = Semaphore(1)
    order = []

    def worker(i):
        for _ in range(3):
            with s:
                order.append(i)
                co.sleep(0)

    co.joinall([co.spawn(worker, i) for i in range(3)], timeout=2)
    assert order == [0, 1, 2] * 3


def test_kill_while_waiting_leaves_no_stray_wakeup():
    s = Semaphore(0)
    g = co.spawn(s.acquire)
    co.sleep(0)
    assert s.linkcount() == 1
    g.kill()
    assert g.dead and s.linkcount() == 0
    # The unit released now must go to the next waiter, not the dead one.
    got = []
    g2 = co.spawn(lambda: got.append(s.acquire(timeout=1)))
    co.sleep(0)
    s.release()
    g2.join(timeout=1)
    assert got == [True] and s.counter == 0


def test_timed_out_waiter_does_not_consume_later_release():
    s = Semaphore(0)
    results = []
    g1 = co.spawn(lambda: results.append(("a", s.acquire(timeout=0.01))))
    g2 = co.spawn(lambda: results.append(("b", s.acquire(timeout=2))))
    g1.join(timeout=1)
    s.release()
    g2.join(timeout=1)
    assert sorted(results) == [("a", False), ("b", True)]
    assert s.counter == 0 and s.linkcount() == 0


def test_wait_does_not_take_a_unit():
    s = Semaphore(0)
    g = co.spawn(s.wait)
    co.sleep(0)
    s.release()
    g.join(timeout=1)
    assert g.value == 1 and s.counter == 1


def test_rawlink_is_called_when_available():
    s = Semaphore(0)
    got = []
    s.rawlink(got.append)
    co.sleep(0)
    assert got == []
    s.release()
    co.sleep(0)
    assert got == [s]
    s.unlink(got.append)  # already consumed: no error


def test_blocking_in_hub_raises():
    s = Semaphore(0)
    errors = []

    def cb(_):
        try:
            s.acquire()
        except co.BlockingSwitchOutError as e:
            errors.append(e)

    ev = Event()
    ev.rawlink(cb)
    ev.set()
    co.sleep(0)
    assert len(errors) == 1


def test_lock_release_unlocked_raises_runtime_error():
    lock = Lock()
    with pytest.raises(RuntimeError):
        lock.release()
    assert lock.acquire()
    assert lock.locked()
    assert lock.acquire(blocking=False) is False
    lock.release()
    assert not lock.locked()
    with lock as got:
        assert got is True and lock.locked()
    assert "unlocked" in repr(lock)


def test_lock_any_greenlet_may_release():
    lock = Lock()
    lock.acquire()
    co.spawn(lock.release).join()
    assert not lock.locked()


def test_rlock_reentrant_and_owned():
    r = RLock()
    assert r.acquire() and r.acquire()
    assert r.count == 2 and r._is_owned()
    assert r.owner is co.getcurrent()

    def intruder():
        assert not r._is_owned()
        with pytest.raises(RuntimeError):
            r.release()
        return r.acquire(timeout=0.01)

    assert co.spawn(intruder).get(timeout=1) is False
    r.release()
    assert r.locked()
    r.release()
    assert not r.locked() and r.owner is None
    with pytest.raises(RuntimeError):
        r.release()


def test_rlock_owner_is_greenlet_not_worker():
    # Greenlets run on reused workers; ownership must follow the Greenlet.
    r = RLock()
    first = co.spawn(r.acquire)
    first.join()
    assert r.owner is first
    second = co.spawn(lambda: r.acquire(timeout=0.01))
    assert second.get(timeout=1) is False  # even if it runs on first's worker


def test_rlock_release_save_and_restore():
    # The protocol threading.Condition uses on its lock.
    r = RLock()
    r.acquire()
    r.acquire()
    state = r._release_save()
    assert not r.locked() and r.owner is None
    assert co.spawn(lambda: r.acquire(blocking=False) and (r.release() or True)).get(timeout=1)
    r._acquire_restore(state)
    assert r.count == 2 and r._is_owned()
    r.release()
    r.release()
    assert not r.locked()


def test_rlock_waiters_fifo():
    r = RLock()
    order = []
    r.acquire()

    def w(i):
        with r:
            order.append(i)

    gs = [co.spawn(w, i) for i in range(4)]
    co.sleep(0)
    r.release()
    co.joinall(gs, timeout=2)
    assert order == [0, 1, 2, 3]


def test_dummy_semaphore():
    d = DummySemaphore(5)
    assert d.acquire() and d.acquire(blocking=False)
    assert not d.locked() and d.ready() and d.wait(0) == 1
    d.release()
    with d:
        pass


def test_at_fork_reinit():
    b = BoundedSemaphore(2)
    b.acquire()
    b._at_fork_reinit()
    assert b.counter == 2 and b.linkcount() == 0
    lock = Lock()
    lock.acquire()
    lock._at_fork_reinit()
    assert not lock.locked()
    r = RLock()
    r.acquire()
    r._at_fork_reinit()
    assert not r.locked() and r.count == 0


class SemaphoreModel(RuleBasedStateMachine):
    """Non-blocking operations against a plain counter model."""

    @initialize(value=st.integers(0, 4), bounded=st.booleans())
    def make(self, value, bounded):
        self.bounded = bounded
        self.initial = value
        self.sem = (BoundedSemaphore if bounded else Semaphore)(value)
        self.model = value

    @rule()
    def acquire_nowait(self):
        got = self.sem.acquire(blocking=False)
        assert got == (self.model > 0)
        if got:
            self.model -= 1

    @rule()
    def release(self):
        if self.bounded and self.model >= self.initial:
            with pytest.raises(ValueError):
                self.sem.release()
        else:
            assert self.sem.release() == self.model + 1
            self.model += 1

    @rule()
    def acquire_zero_timeout(self):
        got = self.sem.acquire(timeout=0)
        assert got == (self.model > 0)
        if got:
            self.model -= 1

    @invariant()
    def matches(self):
        if hasattr(self, "sem"):
            assert self.sem.counter == self.model
            assert self.sem.locked() == (self.model == 0)
            assert self.sem.linkcount() == 0


TestSemaphoreModel = SemaphoreModel.TestCase
TestSemaphoreModel.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


def test_a_plain_thread_blocks_on_a_held_semaphore_until_it_is_released():
    # gevent's semantics (test__semaphore's multi-thread cases): an OS thread
    # with no hub waits for real; before, it got LoopExit at once.
    import threading
    for make in (Semaphore, BoundedSemaphore, Lock, RLock):
        sem = make()
        assert sem.acquire()
        running, done = threading.Event(), threading.Event()
        got, errors = [], []

        def in_thread():
            running.set()
            try:
                got.append(sem.acquire())
            except BaseException as exc:
                errors.append(exc)
            finally:
                done.set()

        t = threading.Thread(target=in_thread, daemon=True)
        t.start()
        assert running.wait(30)
        co.sleep(0.01)           # let the thread reach its wait
        assert not done.is_set()
        sem.release()
        for _ in range(3000):    # the hub runs the notifier that wakes the thread
            if done.wait(0.01):
                break
            co.sleep(0)
        t.join(30)
        assert (got, errors) == ([True], []), make


def test_a_plain_thread_gives_up_after_its_timeout_and_takes_no_unit():
    import threading
    sem = Semaphore(1)
    assert sem.acquire()
    got = []
    t = threading.Thread(target=lambda: got.append(sem.acquire(timeout=0.05)), daemon=True)
    t.start()
    t.join(30)
    assert got == [False]
    assert sem.counter == 0 and not sem._links
    sem.release()
    assert sem.counter == 1 and sem.acquire(blocking=False)
