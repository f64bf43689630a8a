"""coopshell._core.waiter: the one-shot Waiter's gevent-visible behaviour."""

from __future__ import annotations

import coopshell as co
from coopshell._core.waiter import Waiter


def test_str_says_who_waits_and_what_it_holds_as_gevent_does():
    w = Waiter()
    assert str(w) == "<Waiter greenlet=None>"
    w.switch(25)
    assert str(w) == "<Waiter greenlet=None value=25>"
    assert w.get() == 25
    w = Waiter()
    w.throw(ZeroDivisionError)
    assert str(w).startswith("<Waiter greenlet=None exc_info=") and "ZeroDivisionError" in str(w)
    w = Waiter()
    g = co.spawn(w.get)
    g.name = "AName"
    co.sleep(0)
    assert str(w).startswith('<Waiter greenlet=<Greenlet "AName'), str(w)
    co.get_hub().loop.run_callback(w.switch, 1)   # only the hub may wake a waiter
    g.join()
    assert "Waiter at 0x" in repr(w)
