"""Waiting on greenlets and other linkables (``coopshell._wait``, public in
``coopshell.greenlet``): iwait as a context manager (gevent's)."""

import coopshell as co
from coopshell.event import Event
from coopshell.lock import Semaphore


def test_iwait_in_a_with_block_unlinks_from_what_it_did_not_yield():
    first, second = Semaphore(), Semaphore()
    releaser = co.spawn(first.release)
    with co.iwait((first, second)) as it:
        assert next(it) is first
        assert second.linkcount() == 1   # still waiting on the other one
    assert second.linkcount() == 0
    releaser.get()


def test_iwait_is_its_own_iterator_and_close_stops_it():
    ev = Event()
    it = co.iwait([ev, Event()], timeout=5)
    assert iter(it) is it
    co.spawn(ev.set)
    assert next(it) is ev
    it.close()
    assert list(it) == []


def test_partly_consumed_iwait_with_timeout_in_a_with_block():
    sem = Semaphore()
    let = co.spawn(sem.release)
    with co.iwait((sem,), timeout=0.01) as it:
        assert next(it) is sem
    let.get()
