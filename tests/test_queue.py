"""coopshell.queue: Queue family, Channel, shutdown."""

import gc
import queue as std_queue
import time
import weakref
from collections import deque

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import coopshell as co
from coopshell.timeout import Timeout
from coopshell.queue import (Channel, Empty, Full, JoinableQueue, LifoQueue, PriorityQueue, Queue,
                             ShutDown, SimpleQueue)


def test_exceptions_are_the_stdlib_ones():
    assert Empty is std_queue.Empty and Full is std_queue.Full
    assert issubclass(ShutDown, Exception)
    if hasattr(std_queue, "ShutDown"):
        assert ShutDown is std_queue.ShutDown
    assert JoinableQueue is Queue and issubclass(Queue, SimpleQueue)


def test_maxsize_arguments():
    assert Queue().maxsize is None and Queue(None).maxsize is None
    with pytest.warns(DeprecationWarning, match="Channel"):
        q = Queue(0)
    assert q.maxsize is None and not q.full()
    assert Queue(-3).maxsize is None
    assert Queue(2).maxsize == 2
    with pytest.raises(TypeError):
        Queue("2")
    with pytest.raises(TypeError):
        Queue(1.5)
    q = Queue(1, items=[1])
    with pytest.raises(ValueError):  # checked even when an item is there, like the stdlib
        q.get(timeout=-1)
    with pytest.raises(ValueError):
        q.put(2, timeout=-1)
    with pytest.raises(ValueError):
        Queue().put(2, timeout=-1)
    assert q.get(timeout=0) == 1
    q.put(3, timeout=5)
    assert q.get(timeout=5) == 3
    with pytest.raises(TypeError):
        q.get(timeout="soon")
    assert q.getters == deque()


def test_basic_fifo_and_introspection():
    q = Queue(3, items=[1, 2])
    assert len(q) == 2 and q.qsize() == 2 and not q.empty() and not q.full()
    assert bool(Queue()) is True  # always true, like gevent
    q.put(3)
    assert q.full()
    assert q.peek() == 1 and q.peek_nowait() == 1
    assert [q.get(), q.get_nowait(), q.get()] == [1, 2, 3]
    assert q.empty()
    with pytest.raises(Empty):
        q.get_nowait()
    with pytest.raises(Empty):
        q.peek_nowait()
    assert "maxsize=3" in repr(q)
    c = Queue(5, items=[7, 8]).copy()
    assert type(c) is Queue and c.maxsize == 5 and list(c.queue) == [7, 8] and c.unfinished_tasks == 2


def test_lifo_and_priority():
    lq = LifoQueue(items=[1, 2])
    lq.put(3)
    assert lq.peek() == 3
    assert [lq.get() for _ in range(3)] == [3, 2, 1]
    pq = PriorityQueue(items=[5, 1])
    for x in (4, 0, 3):
        pq.put(x)
    assert pq.peek() == 0
    assert [pq.get() for _ in range(5)] == [0, 1, 3, 4, 5]
    assert isinstance(pq.copy(), PriorityQueue)


def test_get_timeout_raises_empty_and_unregisters():
    q = Queue()
    t0 = time.monotonic()
    with pytest.raises(Empty):
        q.get(timeout=0.02)
    assert time.monotonic() - t0 >= 0.015
    assert len(q.getters) == 0
    with pytest.raises(Empty):
        q.peek(timeout=0.001)
    assert len(q.getters) == 0


def test_put_timeout_raises_full_and_unregisters():
    q = Queue(1)
    q.put(1)
    with pytest.raises(Full):
        q.put(2, timeout=0.01)
    with pytest.raises(Full):
        q.put_nowait(2)
    assert len(q.putters) == 0 and list(q.queue) == [1]


def test_blocked_getters_served_in_order():
    q = Queue()
    got = []
    gs = [co.spawn(lambda i=i: got.append((i, q.get()))) for i in range(5)]
    co.sleep(0)
    assert len(q.getters) == 5
    for x in "abcde":
        q.put(x)
    co.joinall(gs, timeout=2)
    assert got == list(zip(range(5), "abcde"))


def test_blocked_putters_served_in_order():
    q = Queue(1)
    q.put("first")
    gs = [co.spawn(q.put, i) for i in range(4)]
    co.sleep(0)
    assert len(q.putters) == 4
    assert [q.get() for _ in range(5)] == ["first", 0, 1, 2, 3]
    co.joinall(gs, timeout=1)
    assert all(g.successful() for g in gs)


def test_new_getter_does_not_barge_past_waiting_getter():
    q = Queue()
    got = []
    waiting = co.spawn(lambda: got.append(("waiting", q.get())))
    co.sleep(0)

    def producer_then_get():
        q.put(1)  # the waiting getter is owed this item
        q.put(2)
        got.append(("producer", q.get()))

    co.spawn(producer_then_get).join(timeout=1)
    waiting.join(timeout=1)
    assert got == [("waiting", 1), ("producer", 2)]


def test_kill_waiting_getter_leaves_no_registration():
    q = Queue()
    g = co.spawn(q.get)
    co.sleep(0)
    assert len(q.getters) == 1
    g.kill()
    assert len(q.getters) == 0
    q.put("x")
    co.sleep(0)
    assert list(q.queue) == ["x"]  # nobody stole it


def test_stray_switch_into_waiting_getter_is_an_error_and_leaves_no_registration():
    from coopshell._core.exceptions import InvalidSwitchError
    q = Queue()
    g = co.spawn(q.get)
    co.sleep(0)
    assert len(q.getters) == 1
    co.get_hub().loop.run_callback(g.switch, "not the queue")
    g.join()
    assert isinstance(g.exception, InvalidSwitchError)
    assert "not the queue" in str(g.exception)
    assert len(q.getters) == 0
    q.put("x")
    co.sleep(0)
    assert list(q.queue) == ["x"]  # nobody stole it


def test_item_taken_out_of_turn_leaves_the_getter_waiting():
    # A non-blocking get takes the item before the waiting getter's wakeup
    # runs; the getter keeps waiting (it is not woken to find nothing).
    q = Queue()
    g = co.spawn(q.get)
    co.sleep(0)
    q.put("a")
    assert q.get_nowait() == "a"   # takes it out of turn before the wakeup runs
    co.sleep(0)
    assert not g.dead and list(q.getters) != []
    q.put("b")
    assert g.get(timeout=5) == "b"
    assert len(q.getters) == 0


def test_kill_waiting_putter_leaves_no_registration():
    q = Queue(1)
    q.put(0)
    g = co.spawn(q.put, 1)
    co.sleep(0)
    assert len(q.putters) == 1
    g.kill()
    assert len(q.putters) == 0
    assert q.get() == 0
    co.sleep(0)
    assert q.empty()


def test_timed_out_getter_does_not_take_later_item():
    q = Queue()
    with pytest.raises(Empty):
        q.get(timeout=0.005)
    g = co.spawn(q.get)
    co.sleep(0)
    q.put("item")
    assert g.get(timeout=1) == "item"


def test_iteration_stops_at_stopiteration():
    q = Queue()
    for x in (1, 2, StopIteration, 3):
        q.put(x)
    assert list(q) == [1, 2]
    assert q.get() == 3


def test_blocking_from_hub_raises():
    q = Queue()
    errors = []

    def cb(_):
        try:
            q.get()
        except co.BlockingSwitchOutError as e:
            errors.append(e)
        q.put("from-hub")  # non-blocking put is fine in the hub

    from coopshell.event import Event
    ev = Event()
    ev.rawlink(cb)
    ev.set()
    co.sleep(0)
    assert len(errors) == 1 and q.get_nowait() == "from-hub"


def test_join_and_task_done():
    q = Queue()
    assert q.join(timeout=0) is True
    done = []

    def worker():
        while True:
            item = q.get()
            co.sleep(0.001)
            done.append(item)
            q.task_done()

    w = co.spawn(worker)
    for i in range(5):
        q.put(i)
    assert q.unfinished_tasks == 5
    assert q.join(timeout=0.001) is False
    assert q.join(timeout=2) is True
    assert done == list(range(5)) and q.unfinished_tasks == 0
    with pytest.raises(ValueError, match="too many"):
        q.task_done()
    w.kill()


def test_shutdown_graceful():
    q = Queue()
    q.put(1)
    q.put(2)
    blocked_putter_q = Queue(1)
    blocked_putter_q.put(0)
    putter = co.spawn(blocked_putter_q.put, 1)
    co.sleep(0)
    q.shutdown()
    assert q.is_shutdown
    with pytest.raises(ShutDown):
        q.put(3)
    with pytest.raises(ShutDown):
        q.put_nowait(3)
    assert q.get() == 1 and q.get_nowait() == 2  # items still come out
    with pytest.raises(ShutDown):
        q.get()
    with pytest.raises(ShutDown):
        q.get_nowait()
    blocked_putter_q.shutdown()
    putter.join(timeout=1)
    assert isinstance(putter.exception, ShutDown)


def test_shutdown_wakes_blocked_getters():
    q = Queue()
    gs = [co.spawn(q.get) for _ in range(3)]
    co.sleep(0)
    q.shutdown()
    co.joinall(gs, timeout=1)
    assert all(isinstance(g.exception, ShutDown) for g in gs)
    assert len(q.getters) == 0


def test_shutdown_immediate_drains_and_releases_join():
    q = Queue()
    for i in range(3):
        q.put(i)
    joiner = co.spawn(q.join)
    co.sleep(0)
    q.shutdown(immediate=True)
    assert q.empty() and q.unfinished_tasks == 0
    joiner.join(timeout=1)
    assert joiner.value is True
    with pytest.raises(ShutDown):
        q.get()


def test_maxsize_setter_wakes_putters():
    q = Queue(1)
    q.put(0)
    g = co.spawn(q.put, 1)
    co.sleep(0)
    q.maxsize = 2
    g.join(timeout=1)
    assert g.successful() and list(q.queue) == [0, 1]


def test_ping_pong_is_fast_and_correct():
    a, b = Queue(), Queue()
    n = 5000

    def pong():
        for _ in range(n):
            b.put(a.get() + 1)

    g = co.spawn(pong)
    t0 = time.perf_counter()
    total = 0
    for i in range(n):
        a.put(i)
        total += b.get()
    dt = time.perf_counter() - t0
    g.join(timeout=1)
    assert total == sum(range(1, n + 1))
    assert dt / n < 100e-6  # generous: ~3 us per round trip here


def test_dropped_queue_with_waiters_is_collectable():
    q = Queue()
    g = co.spawn(q.get)
    co.sleep(0)
    g.kill()
    r = weakref.ref(q)
    del q, g  # the Greenlet's args hold q.get
    co.sleep(0)  # let the hub leave the callback that finished g
    gc.collect()
    assert r() is None


# -- Channel ---------------------------------------------------------------------------

def test_channel_rendezvous():
    c = Channel()
    assert c.qsize() == 0 and c.empty() and c.full() and len(c) == 0
    log = []

    def producer():
        for i in range(3):
            c.put(i)
            log.append(("put", i))

    p = co.spawn(producer)
    co.sleep(0)
    assert c.balance == 1 and log == []  # put waits for a getter
    for i in range(3):
        assert c.get() == i
    p.join(timeout=1)
    assert log == [("put", 0), ("put", 1), ("put", 2)]
    with pytest.raises(ValueError):
        Channel(0)


def test_channel_nowait_and_timeouts():
    c = Channel()
    with pytest.raises(Full):
        c.put_nowait(1)
    with pytest.raises(Empty):
        c.get_nowait()
    with pytest.raises(Full):
        c.put(1, timeout=0.005)
    with pytest.raises(Empty):
        c.get(timeout=0.005)
    assert c.balance == 0
    g = co.spawn(c.get)
    co.sleep(0)
    c.put_nowait("x")  # a getter waits: accepted
    assert g.get(timeout=1) == "x"


def test_channel_blocked_getter_then_putter_and_kill():
    c = Channel()
    g = co.spawn(c.get)
    co.sleep(0)
    g.kill()
    assert c.balance == 0
    p = co.spawn(c.put, "a")
    co.sleep(0)
    assert c.balance == 1
    p.kill()
    assert c.balance == 0
    with pytest.raises(Empty):
        c.get_nowait()


def test_channel_iteration():
    c = Channel()
    co.spawn(lambda: [c.put(x) for x in (1, 2, StopIteration)])
    assert list(c) == [1, 2]


# -- model-based -------------------------------------------------------------------------

class QueueModel(RuleBasedStateMachine):
    """Non-blocking operations against a deque model."""

    @initialize(maxsize=st.one_of(st.none(), st.integers(1, 4)), kind=st.sampled_from(["fifo", "lifo"]))
    def make(self, maxsize, kind):
        self.q = (Queue if kind == "fifo" else LifoQueue)(maxsize)
        self.kind = kind
        self.maxsize = maxsize
        self.model = deque()
        self.counter = 0

    def _full(self):
        return self.maxsize is not None and len(self.model) >= self.maxsize

    @rule()
    def put_nowait(self):
        self.counter += 1
        if self._full():
            with pytest.raises(Full):
                self.q.put_nowait(self.counter)
        else:
            self.q.put_nowait(self.counter)
            self.model.append(self.counter)

    @rule()
    def put_zero_timeout(self):
        self.counter += 1
        if self._full():
            with pytest.raises(Full):
                self.q.put(self.counter, timeout=0)
        else:
            self.q.put(self.counter, timeout=0)
            self.model.append(self.counter)

    @rule()
    def get_nowait(self):
        if not self.model:
            with pytest.raises(Empty):
                self.q.get_nowait()
        else:
            expect = self.model.popleft() if self.kind == "fifo" else self.model.pop()
            assert self.q.get_nowait() == expect

    @precondition(lambda self: hasattr(self, "q") and self.model)
    @rule()
    def peek(self):
        assert self.q.peek_nowait() == (self.model[0] if self.kind == "fifo" else self.model[-1])

    @rule()
    def get_zero_timeout(self):
        if not self.model:
            with pytest.raises(Empty):
                self.q.get(timeout=0)
        else:
            expect = self.model.popleft() if self.kind == "fifo" else self.model.pop()
            assert self.q.get(timeout=0) == expect

    @invariant()
    def matches(self):
        if hasattr(self, "q"):
            assert list(self.q.queue) == list(self.model)
            assert self.q.qsize() == len(self.model) == len(self.q)
            assert self.q.empty() == (not self.model)
            assert self.q.full() == self._full()
            assert not self.q.getters and not self.q.putters


TestQueueModel = QueueModel.TestCase
TestQueueModel.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


class BlockingQueueModel(RuleBasedStateMachine):
    """Blocked greenlets as part of the state: a bounded queue with getters
    and putters parked on it, checked against a model that serves them in
    arrival order."""

    def __init__(self):
        super().__init__()
        self.q = Queue(2)
        self.items = deque()       # model of q.queue
        self.getters = deque()     # greenlet results we expect, in order
        self.putters = deque()     # (item) waiting to be put, in order
        self.received = []
        self.expected = []
        self.n = 0
        self.glets = []

    def settle(self):
        co.sleep(0)
        co.sleep(0)
        # model: serve waiters in order while possible
        while True:
            if self.getters and self.items:
                self.getters.popleft()
                self.expected.append(self.items.popleft())
            elif self.putters and len(self.items) < 2:
                self.items.append(self.putters.popleft())
            else:
                break

    @rule()
    def spawn_getter(self):
        self.glets.append(co.spawn(lambda: self.received.append(self.q.get())))
        self.getters.append(True)
        self.settle()

    @rule()
    def spawn_putter(self):
        self.n += 1
        self.glets.append(co.spawn(self.q.put, self.n))
        self.putters.append(self.n)
        self.settle()

    @invariant()
    def matches(self):
        assert self.received == self.expected
        assert list(self.q.queue) == list(self.items)
        assert len(self.q.getters) == len(self.getters)
        assert len(self.q.putters) == len(self.putters)

    def teardown(self):
        co.killall(self.glets, timeout=1)
        assert not self.q.getters and not self.q.putters


TestBlockingQueueModel = BlockingQueueModel.TestCase
TestBlockingQueueModel.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


@pytest.mark.parametrize("make", [Queue, LifoQueue, PriorityQueue, Channel])
def test_a_timeout_object_as_timeout_is_started_raised_and_cancelled(make):
    # gevent's convention: get/put(timeout=Timeout(...)) raise that Timeout
    # (or its exception) when it fires, instead of Empty/Full.
    q = make() if make is Channel else make(1)
    t = Timeout(0.01)
    with pytest.raises(Timeout) as info:
        q.get(timeout=t)
    assert info.value is t and not t.pending

    error = RuntimeError("expected error")
    t = Timeout(0.01, exception=error)
    if make is not Channel:
        q.put("fill")            # a full queue: the next put waits
    with pytest.raises(RuntimeError) as info:
        q.put("more", timeout=t)
    assert info.value is error and not t.pending

    # Satisfied before it fires: the Timeout is cancelled, the item returned.
    t = Timeout(30)
    if make is Channel:
        co.spawn(q.put, "item")
        assert q.get(timeout=t) == "item"
    else:
        assert q.get(timeout=t) == "fill"
    assert not t.pending


@pytest.mark.parametrize("cls", [SimpleQueue, Queue, LifoQueue, PriorityQueue])
def test_a_subclass_overriding_the_bottleneck_methods_sees_every_put_and_get(cls):
    # The stdlib's (and gevent's) _put/_get hooks: a subclass that overrides
    # them is called for each item, and super() stores it.
    class Counting(cls):
        puts = gets = 0

        def _put(self, item):
            self.puts += 1
            super()._put(item)

        def _get(self):
            self.gets += 1
            return super()._get()

    q = Counting()
    q.put(1)
    q.put(2)
    assert sorted([q.get(), q.get()]) == [1, 2]
    assert (q.puts, q.gets) == (2, 2)


def test_a_subclass_init_that_sets_only_queue_still_works():
    # gevent 2136: a stdlib-style _init that assigns self.queue itself.
    mine = []

    class Q(Queue):
        def _init(self, _items):
            self.queue = mine

    q = Q()
    assert q.queue is mine
    q.put(1)
    q.put(2)
    assert mine == [1, 2] and q.get() == 1 and q.get() == 2
