"""Notifying a sync primitive from another OS thread wakes the greenlet that
waits on it in this thread's hub at once (through the hub's thread-safe
wakeup), as in gevent. Waiting from a second thread's hub is refused clearly.

The waits have a long timeout only as a hang guard: without the wakeup, they
would last until it expired.
"""

from __future__ import annotations

import threading
import time

import pytest

import coopshell as co
from coopshell._core.exceptions import InvalidThreadUseError
from coopshell.event import AsyncResult, Event
from coopshell.lock import Semaphore
from coopshell.queue import Queue
from helpers import event_bound_to_another_thread

GUARD = 60.0


def _when_waiting(obj, count, action):
    """Run ``action()`` in a real thread once ``obj`` has ``count`` waiters."""
    def run():
        deadline = time.monotonic() + GUARD
        while count(obj) < 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        action()
    t = threading.Thread(target=run)
    t.start()
    return t


def _timed(func):
    t0 = time.monotonic()
    result = func()
    return result, time.monotonic() - t0


def test_event_set_from_a_thread_wakes_the_waiter_promptly():
    ev = Event()
    t = _when_waiting(ev, Event.linkcount, ev.set)
    ok, took = _timed(lambda: ev.wait(timeout=GUARD))
    t.join()
    assert ok is True and took < GUARD / 2


def test_asyncresult_set_from_a_thread_wakes_get_promptly():
    r = AsyncResult()
    t = _when_waiting(r, AsyncResult.linkcount, lambda: r.set("from thread"))
    value, took = _timed(lambda: r.get(timeout=GUARD))
    t.join()
    assert value == "from thread" and took < GUARD / 2


def test_semaphore_release_from_a_thread_wakes_acquire_promptly():
    s = Semaphore(0)
    t = _when_waiting(s, Semaphore.linkcount, s.release)
    ok, took = _timed(lambda: s.acquire(timeout=GUARD))
    t.join()
    assert ok is True and took < GUARD / 2 and s.counter == 0


def test_queue_put_from_a_thread_wakes_get_promptly():
    q = Queue()
    t = _when_waiting(q, lambda q: len(q.getters), lambda: q.put(7))
    item, took = _timed(lambda: q.get(timeout=GUARD))
    t.join()
    assert item == 7 and took < GUARD / 2


def test_waiting_from_another_threads_hub_is_a_clear_error():
    with event_bound_to_another_thread(GUARD) as ev:
        with pytest.raises(InvalidThreadUseError, match="waiting works only in the thread of its hub"):
            ev.wait(1)
