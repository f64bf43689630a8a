"""What queues and channels share: iteration by ``get()``, parking with a
registration that is removed however the wait ends, a ``Timeout`` object given
as the timeout, and waking the hub from any thread.

Apart from ``coopshell.queue`` so that ``Channel`` (``_channel``) and the
buffered queues use one copy without importing each other.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

from ._core.waiter import discard, park
from .timeout import Timeout

__all__ = ["IterateByGet", "park_or_discard", "wait_under", "schedule_in"]

_get_ident = threading.get_ident   # the real one: patch_thread makes it per-greenlet


class IterateByGet:
    """Iteration calls ``get()`` until it returns ``StopIteration`` (gevent's
    convention for ending a consumer loop)."""

    __slots__ = ()

    get: Callable[..., Any]   # the subclass's

    def __iter__(self) -> IterateByGet:
        return self

    def __next__(self) -> Any:
        result = self.get()
        if result is StopIteration:
            raise result
        return result



def park_or_discard(hub: Any, cur: Any, waiters: deque[Any], registration: Any, timeout: float | None) -> Any:
    """``park`` until woken; return what we were switched with. On an
    exception, remove ``registration`` from ``waiters`` and re-raise."""
    try:
        return park(hub, cur, timeout)
    except BaseException:
        discard(waiters, registration)
        raise


def wait_under(timeout: Timeout, func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` (an untimed wait) under ``timeout``, a ``Timeout``
    object given as the timeout (gevent accepts one): started if it is not,
    raised from the wait when it fires, cancelled however the wait ends."""
    if not timeout.pending:
        timeout.start()
    try:
        return func(*args)
    finally:
        timeout.cancel()


def schedule_in(hub: Any, func: Callable[[], None]) -> None:
    """Run ``func`` in ``hub`` soon."""
    # From the hub's own thread a plain schedule; from another OS thread the
    # hub's thread-safe wakeup, so a waiter there wakes at once.
    if hub.thread_ident == _get_ident():
        hub.loop.schedule(func)
    else:
        hub.loop.run_callback_threadsafe(func)
