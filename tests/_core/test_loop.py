"""The loop and its watchers, through the public ``coopshell.core`` API."""

import os
import select
import socket
import threading
import time

import pytest

import coopshell as co
from coopshell import core
from coopshell._core import loop as loop_module
from coopshell._core.hub import wait_on_watcher


@pytest.fixture
def loop():
    return co.get_hub().loop


def test_run_callback_fifo_and_stop(loop):
    got = []
    loop.run_callback(got.append, 1)
    cb = loop.run_callback(got.append, 2)
    loop.run_callback(got.append, 3)
    assert cb.pending
    cb.stop()
    assert not cb.pending
    co.sleep(0)
    co.sleep(0)
    assert got == [1, 3]


def test_schedule_doors_order_and_take_back(loop):
    got = []
    loop.schedule(got.append, "b")
    loop.schedule_first(got.append, "a")
    loop.schedule(got.append, "gone")
    assert loop.unschedule(got.append, "gone") is True
    assert loop.unschedule(got.append, "never") is False
    again = loop.scheduler(got.append, "again")
    again()
    again()   # each call schedules once more
    assert loop.has_pending_work()
    co.sleep(0)
    assert got == ["a", "b", "again", "again"]


def test_timer_watcher_once_repeat_and_stop(loop):
    got = []
    t = loop.timer(0.01)
    t.start(got.append, "once")
    assert t.active
    co.sleep(0.05)
    assert got == ["once"] and not t.active

    r = loop.timer(0.01, repeat=0.01)
    r.start(lambda: got.append("tick"))
    co.sleep(0.075)
    r.stop()
    ticks = got.count("tick")
    assert 3 <= ticks <= 8
    co.sleep(0.03)
    assert got.count("tick") == ticks


def test_timer_rejects_bad_delays(loop):
    with pytest.raises(ValueError):
        loop.timer(-1)
    with pytest.raises(ValueError):
        loop.timer(1, repeat=-1)
    with pytest.raises(TypeError):
        loop.timer(0.1).start("not callable")


def test_unref_timer_does_not_keep_loop_alive(loop):
    t = loop.timer(10, ref=False)
    t.start(lambda: None)
    assert co.wait(timeout=1) is True  # ran out of work despite the timer
    t.stop()


def test_ref_toggle_while_active(loop):
    before = loop.activecnt
    t = loop.timer(10)
    t.start(lambda: None)
    assert loop.activecnt == before + 1
    t.ref = False
    assert loop.activecnt == before
    t.ref = True
    t.stop()
    assert loop.activecnt == before


def test_io_watcher_read_and_write(loop):
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        r = loop.io(a.fileno(), core.READ)
        threading.Timer(0.02, b.send, (b"hi",)).start()
        wait_on_watcher(co.get_hub(), r)
        assert a.recv(10) == b"hi"
        w = loop.io(a.fileno(), core.WRITE)
        wait_on_watcher(co.get_hub(), w)  # a socket with empty buffers is writable
    finally:
        a.close()
        b.close()


def test_io_watcher_validates(loop):
    with pytest.raises(ValueError):
        loop.io(-1, core.READ)
    with pytest.raises(ValueError):
        loop.io(0, 4)
    with pytest.raises(TypeError):
        loop.io("3", core.READ)


def test_several_readers_on_one_fd_all_wake(loop):
    a, b = socket.socketpair()
    try:
        woke = []

        def reader(i):
            w = loop.io(a.fileno(), core.READ)
            wait_on_watcher(co.get_hub(), w)
            woke.append(i)

        gs = [co.spawn(reader, i) for i in range(3)]
        co.sleep(0.01)
        b.send(b"x")
        co.joinall(gs, timeout=2)
        assert sorted(woke) == [0, 1, 2]
    finally:
        a.close()
        b.close()


def test_lazy_registration_survives_fd_reuse(loop):
    """A registration left behind by a stopped watcher must not hide events
    for a new file that got the same fd number."""
    hub = co.get_hub()
    a, b = socket.socketpair()
    w = loop.io(a.fileno(), core.READ)
    b.send(b"1")
    wait_on_watcher(hub, w)  # fd now registered; watcher stopped lazily
    fd = a.fileno()
    a.close()
    b.close()
    c, d = socket.socketpair()
    try:
        # Arrange for the new socket to reuse the number.
        if c.fileno() != fd:
            os.dup2(c.fileno(), fd)
            c.close()
            c = socket.socket(fileno=fd)
        w2 = loop.io(fd, core.READ)
        threading.Timer(0.02, d.send, (b"2",)).start()
        with co.Timeout(2):
            wait_on_watcher(hub, w2)
        assert c.recv(1) == b"2"
    finally:
        c.close()
        d.close()


def test_closing_fd_wakes_nothing_and_forgets(loop):
    a, b = socket.socketpair()
    w = loop.io(a.fileno(), core.READ)
    w.start(lambda: None)
    co.sleep(0)
    w.stop()
    loop.closing_fd(a.fileno())
    a.close()
    b.close()
    co.sleep(0)  # applying the change to a closed fd must not raise


def test_watching_a_closed_fd_reports_error_instead_of_hanging(loop):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    watcher = loop.io(r, core.READ)
    with co.Timeout(2), pytest.raises(OSError):
        wait_on_watcher(co.get_hub(), watcher)
    assert isinstance(watcher.error, OSError)


def test_hub_cancel_wait_raises_in_waiter_and_is_safe_after_the_wait(loop):
    hub = co.get_hub()
    a, b = socket.socketpair()
    try:
        w = loop.io(a.fileno(), core.READ)
        g = co.spawn(wait_on_watcher, hub, w)
        co.sleep(0)
        hub.cancel_wait(w, OSError(9, "closed under you"))
        g.join(timeout=2)
        assert isinstance(g.exception, OSError) and g.exception.errno == 9
        # Cancelling a watcher nobody waits on does nothing.
        hub.cancel_wait(w, OSError(9, "late"))
        co.sleep(0)
    finally:
        a.close()
        b.close()


def test_run_callback_threadsafe_wakes_blocked_loop(loop):
    got = []
    from coopshell.event import Event
    ev = Event()

    def from_thread():
        time.sleep(0.05)
        loop.run_callback_threadsafe(lambda: (got.append(threading.current_thread().name), ev.set()))

    t = threading.Thread(target=from_thread, name="poker")
    t.start()
    keepalive = loop.async_()
    keepalive.start(lambda: None)  # the pending cross-thread work keeps the loop alive
    try:
        assert ev.wait(timeout=5)
    finally:
        keepalive.stop()
    t.join()
    assert got == [threading.main_thread().name]


def test_async_watcher_send_from_thread_coalesces(loop):
    from coopshell.event import Event
    ev = Event()
    calls = []
    a = loop.async_()
    a.start(lambda: (calls.append(1), ev.set()))
    threads = [threading.Thread(target=a.send) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ev.wait(timeout=5)
    co.sleep(0.01)
    a.stop()
    assert 1 <= len(calls) <= 5


def test_poll_fd_is_readable_when_io_is_pending(loop):
    a, b = socket.socketpair()
    try:
        w = loop.io(a.fileno(), core.READ)
        w.start(lambda: None)
        co.sleep(0)  # apply the registration
        b.send(b"x")
        r, _, _ = select.select([loop.fileno()], [], [], 1)
        assert r == [loop.fileno()]
        w.stop()
    finally:
        a.close()
        b.close()


def test_prepare_and_idle_watchers(loop):
    seen = []
    p = loop.prepare()
    p.start(lambda: seen.append("prepare"))
    co.sleep(0.01)
    p.stop()
    assert "prepare" in seen
    n = len(seen)
    co.sleep(0.01)
    assert len(seen) == n
    co.idle()


def test_timer_heap_compacts_cancelled_entries(loop):
    gs = [co.spawn(co.sleep, 100) for _ in range(2000)]
    co.sleep(0)
    co.killall(gs)
    # Killing cancels their sleeps; lazy entries get compacted.
    assert len(loop._timers) < 1500


def test_signal_watcher_validates():
    loop = co.get_hub().loop
    with pytest.raises(ValueError):
        loop.signal(0)
    with pytest.raises(ValueError):
        loop.signal(10_000)


def _blocking_yielder(iterations, stop, block=0.02):
    """A greenlet body that blocks the thread (unpatched time.sleep), then
    yields with sleep(0), counting its iterations, until ``stop`` is set."""
    def run():
        while not stop:
            time.sleep(block)
            iterations[0] += 1
            co.sleep(0)
    return run


def _until_the_loop_has_seen_it_block(iterations):
    # The loop reads the clock after a stride of at most _CHECK_EVERY
    # callbacks (shorter while they are slow): after that many iterations it
    # has seen the blocking for sure.
    while iterations[0] <= loop_module._CHECK_EVERY:
        co.sleep(0)


def test_due_timer_runs_right_after_a_blocking_greenlet_yields(loop):
    # Before: the drain read the clock every 64 callbacks only, so a greenlet
    # blocking 20 ms between sleep(0)s kept a due timer out for 64 of its
    # iterations every time (over a second).
    iterations = [0]
    stop = []
    fired = []
    g = co.spawn(_blocking_yielder(iterations, stop))
    try:
        _until_the_loop_has_seen_it_block(iterations)
        for i in range(3):
            armed = iterations[0]
            loop.add_timer(0.001, lambda: fired.append(iterations[0] - armed))
            while len(fired) < i + 1:
                co.sleep(0)
    finally:
        stop.append(True)
        g.join()
    # Due after the next blocking call at the latest, run right after it.
    assert max(fired) <= 2, f"the timer waited {fired} blocking iterations"


def test_timer_added_while_no_timer_existed_is_not_starved(loop):
    iterations = [0]
    stop = []
    woke_after = []
    g = co.spawn(_blocking_yielder(iterations, stop))

    def sleeper():
        started = iterations[0]
        co.sleep(0.001)
        woke_after.append(iterations[0] - started)

    try:
        _until_the_loop_has_seen_it_block(iterations)
        co.spawn(sleeper).join()
    finally:
        stop.append(True)
        g.join()
    assert woke_after[0] <= 3, f"sleep(0.001) waited {woke_after[0]} blocking iterations"


def test_poll_hooks_see_blocking_polls_and_every_return(loop):
    calls = []
    previous = loop.set_poll_hooks(lambda: calls.append("enter"), lambda: calls.append("leave"))
    try:
        co.sleep(0.01)               # the loop blocks in its poll until the timer
        assert calls[:2] == ["enter", "leave"]
        del calls[:]

        def yielder():               # always ready: the loop polls with timeout 0 only
            for _ in range(10**7):
                if "leave" in calls:
                    break
                co.sleep(0)
        co.spawn(yielder).join()
        assert "leave" in calls and "enter" not in calls
    finally:
        loop.set_poll_hooks(*(previous or (None, None)))


def test_set_poll_hooks_validates(loop):
    with pytest.raises(TypeError, match="two callables or two Nones"):
        loop.set_poll_hooks(print, None)
    with pytest.raises(TypeError, match="expected a callable, got 3"):
        loop.set_poll_hooks(3, print)
    assert loop.poll_hooks is None
