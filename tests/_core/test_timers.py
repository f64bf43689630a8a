"""``_core/_timers.py``: the timer heap and its handles, on their own."""

import time

from coopshell._core._timers import COMPACT_MIN, TimerHandle, Timers


def _errors():
    seen = []

    def handle_error(context, typ, value, tb):
        seen.append((context, value))
    return seen, handle_error


def test_handles_run_in_due_order_then_creation_order():
    timers = Timers()
    order = []
    timers.add(-1, order.append, "late-created, due first")
    timers.add(0, order.append, "a")
    timers.add(0, order.append, "b")
    far = timers.add(3600, order.append, "far")
    seen, handle_error = _errors()
    timers.expire(handle_error)
    assert order == ["late-created, due first", "a", "b"]
    assert far.pending and len(timers) == 1 and not seen
    assert timers.next_deadline() == far.when


def test_handle_is_the_heap_entry_and_compares_as_a_list():
    timers = Timers()
    h = timers.add(1, print)
    assert isinstance(h, TimerHandle) and isinstance(h, list)
    assert type(h).__lt__ is list.__lt__  # C comparison in the heap
    assert {h} == {h}                        # hashable by identity


def test_cancel_is_idempotent_and_releases_the_ref():
    timers = Timers()
    h = timers.add(10, print)
    u = timers.add(10, print, ref=False)
    assert timers.refs == 1
    h.cancel()
    h.cancel()
    u.cancel()
    assert not h.pending and timers.refs == 0 and len(timers) == 0
    assert timers.next_deadline() is None


def test_a_timer_that_ran_is_settled_before_its_callback():
    timers = Timers()
    states = []
    h = timers.add(0, lambda: states.append((h.pending, timers.refs)))
    timers.expire(_errors()[1])
    assert states == [(False, 0)]


def test_errors_go_to_handle_error_and_later_timers_still_run():
    timers = Timers()
    ran = []
    timers.add(0, lambda: 1 / 0)
    timers.add(0, ran.append, 1)
    seen, handle_error = _errors()
    timers.expire(handle_error)
    assert ran == [1] and isinstance(seen[0][1], ZeroDivisionError)


def test_compaction_keeps_the_heap_small_and_valid():
    timers = Timers()
    handles = [timers.add(100 + i, print) for i in range(4 * COMPACT_MIN)]
    for h in handles[: 3 * COMPACT_MIN]:
        h.cancel()
    heap = timers._heap
    assert len(heap) < 2 * COMPACT_MIN          # compacted, not 4x
    assert len(timers) == COMPACT_MIN
    for i in range(len(heap)):  # the heap invariant holds after compaction
        for child in (2 * i + 1, 2 * i + 2):
            if child < len(heap):
                assert heap[i] <= heap[child]
    assert timers.next_deadline() == handles[3 * COMPACT_MIN].when


def test_when_is_monotonic_time():
    timers = Timers()
    before = time.monotonic()
    h = timers.add(5, print)
    assert before + 5 <= h.when <= time.monotonic() + 5
