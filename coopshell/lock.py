"""Locks and semaphores for greenlets (gevent.lock, threading's lock types).

``Semaphore``, ``BoundedSemaphore``, ``Lock``, ``RLock`` and ``DummySemaphore``
block the calling greenlet, never the thread.

Differs from the stdlib and gevent:

- Waiters are served first come, first served, and a greenlet that releases
  and at once acquires again does not barge past greenlets already waiting:
  while anyone waits, a new ``acquire()`` queues behind them.
- ``acquire(blocking=False, timeout=x)`` raises ``ValueError`` (as threading
  does); ``timeout=-1`` means "no timeout" (threading's spelling).
- ``RLock``'s owner is ``coopshell.getcurrent()``: the Greenlet, not the worker
  greenlet that happens to run it.
- Primitives bind to the hub of the first greenlet that has to wait on them:
  use one from a single thread.
"""

from __future__ import annotations

import _thread
from operator import index as _index
from types import TracebackType
from typing import Any, Callable

from ._core.hub import get_hub_if_exists
from ._core.waiter import Linkable, check_timeout_nonnegative as check_timeout, discard
from .greenlet import getcurrent

_allocate_lock = _thread.allocate_lock   # the real one, whatever patching does later

__all__ = ["Semaphore", "BoundedSemaphore", "DummySemaphore", "Lock", "RLock"]


class Semaphore(Linkable):
    """A counter of available units: ``acquire()`` takes one, waiting while
    none is left; ``release()`` gives one back and wakes the longest waiter."""

    __slots__ = ("counter", "_initial_value")

    def __init__(self, value: int = 1, hub: Any = None):
        try:
            value = _index(value)
        except TypeError:
            raise TypeError(f"semaphore initial value must be an int, got {value!r}") from None
        if value < 0:
            raise ValueError(f"semaphore initial value must be >= 0, got {value}")
        Linkable.__init__(self, hub)
        #: Units available now (gevent's public name).
        self.counter = value
        self._initial_value = value

    def ready(self) -> bool:
        """True if ``acquire()`` could take a unit now."""
        return self.counter > 0

    def locked(self) -> bool:
        """True if no unit is available (``acquire()`` would block)."""
        return self.counter <= 0

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take one unit, waiting up to ``timeout`` seconds (forever if None)
        for one. Returns False if none could be taken (timeout, or
        ``blocking=False``)."""
        if self.counter > 0 and not self._links and timeout is None:
            self.counter -= 1
            return True
        return self._acquire_slow(blocking, timeout)

    def _acquire_slow(self, blocking: bool, timeout: float | None) -> bool:
        if timeout is not None:
            if timeout == -1:
                timeout = None
            elif not blocking:
                raise ValueError("can't specify a timeout for a non-blocking call")
            else:
                timeout = check_timeout(timeout)
        if self.counter > 0 and (not self._links or not blocking):
            # blocking=False may take a unit even while others wait: failing
            # when ``locked()`` is False would be more surprising than unfair.
            self.counter -= 1
            return True
        if not blocking:
            return False
        if get_hub_if_exists() is None:
            return self._acquire_in_plain_thread(timeout)
        if self.counter > 0:
            self._schedule_notify()  # units left but others queued: make sure they are served
        if self._wait(timeout):
            # Woken by the notifier, which only wakes us while a unit is
            # available and runs us before anyone else: the unit is ours.
            self.counter -= 1
            return True
        return False

    def _acquire_in_plain_thread(self, timeout: float | None) -> bool:
        """Block this OS thread, which runs no hub, until a unit is ours (as
        gevent does): a waiter like the others, woken by the notifier in the
        releasing hub, which takes the unit on the thread's behalf before it
        wakes it (the thread cannot run before the notifier goes on). A
        timeout and that hand-over are settled under a real lock, so a unit
        is never lost nor given twice."""
        wake = _allocate_lock()
        wake.acquire()
        settle = _allocate_lock()
        state = [0]   # 0 waiting, 1 given a unit, 2 gave up

        def claim(_self: Any) -> None:
            with settle:
                if state[0] == 0 and self.counter > 0:
                    self.counter -= 1
                    state[0] = 1
                    wake.release()
                elif state[0] == 0:   # pragma: no cover - the notifier calls only while ready
                    self._links.appendleft(claim)

        if self.counter > 0:
            if self.hub is None:   # no hub would run the notifier: take it now
                self.counter -= 1
                return True
            self._links.append(claim)
            self._schedule_notify()
        else:
            self._links.append(claim)
        wake.acquire(True, -1 if timeout is None else max(timeout, 0.0))
        with settle:
            if state[0] == 1:
                return True
            state[0] = 2
        discard(self._links, claim)
        return False

    def release(self) -> int:
        """Give back one unit and wake the longest waiter; returns the counter.
        (A plain Semaphore may be released more often than acquired.)"""
        self.counter += 1
        if self._links:
            self._schedule_notify()
        return self.counter

    def wait(self, timeout: float | None = None) -> int:
        """Wait until a unit is available, without taking it; returns the
        counter (0 if ``timeout`` passed first)."""
        if self.counter > 0:
            return self.counter
        timeout = check_timeout(timeout)
        self._wait(timeout)
        return self.counter

    def statistics(self) -> dict[str, int]:
        """Counter and number of waiters (for introspection and %greenlets)."""
        return {"counter": self.counter, "waiters": len(self._links)}

    def _at_fork_reinit(self) -> None:
        """Forget waiters (they do not exist in a forked child)."""
        self._links.clear()
        self._notify_pending = False
        self.hub = None

    def __enter__(self) -> bool:
        if self.counter > 0 and not self._links:  # acquire()'s fast path, inlined
            self.counter -= 1
            return True
        return self._acquire_slow(True, None)

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} at {id(self):#x} counter={self.counter} "
                f"_links[{len(self._links)}]>")


class BoundedSemaphore(Semaphore):
    """A Semaphore that raises ``ValueError`` when released more times than
    it was acquired, a common sign of a bug."""

    __slots__ = ()

    #: Raised on over-release (monkey patching may change it).
    _OVER_RELEASE_ERROR: type[Exception] = ValueError

    def release(self) -> int:
        if self.counter >= self._initial_value:
            raise self._OVER_RELEASE_ERROR("Semaphore released too many times")
        self.counter += 1
        if self._links:
            self._schedule_notify()
        return self.counter

    def _at_fork_reinit(self) -> None:
        Semaphore._at_fork_reinit(self)
        self.counter = self._initial_value


class Lock(BoundedSemaphore):
    """A mutex: ``threading.Lock`` for greenlets. Any greenlet may release it;
    releasing it while unlocked raises ``RuntimeError``."""

    __slots__ = ()

    _OVER_RELEASE_ERROR = RuntimeError

    def __init__(self, hub: Any = None):
        BoundedSemaphore.__init__(self, 1, hub)

    def release(self) -> None:  # type: ignore[override]
        if self.counter >= 1:
            raise RuntimeError("release unlocked lock")
        self.counter = 1
        if self._links:
            self._schedule_notify()

    def __repr__(self) -> str:
        state = "locked" if self.counter <= 0 else "unlocked"
        return f"<{type(self).__name__} at {id(self):#x} {state} _links[{len(self._links)}]>"


class DummySemaphore:
    """The Semaphore API with an infinite counter: nothing ever blocks. Use it
    where a limit is optional (``Pool(size=None)`` does)."""

    __slots__ = ()

    def __init__(self, value: Any = None):
        """``value`` is accepted and ignored, for compatibility with Semaphore."""

    counter = 1

    def locked(self) -> bool:
        return False

    def ready(self) -> bool:
        return True

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        return True

    def release(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> int:
        return 1

    def rawlink(self, callback: Callable[[Any], Any]) -> None:
        pass

    def unlink(self, callback: Callable[[Any], Any]) -> None:
        pass

    def _at_fork_reinit(self) -> None:
        pass

    def __enter__(self) -> bool:
        return True

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        pass

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {id(self):#x}>"


class RLock:
    """A lock the owning greenlet may acquire again; each ``acquire()`` needs
    its ``release()``. Only the owner may release it (``RuntimeError``
    otherwise). Works with ``threading.Condition`` (``_is_owned`` and friends)."""

    __slots__ = ("_block", "_owner", "_count", "__weakref__")

    def __init__(self, hub: Any = None):
        self._block = Semaphore(1, hub)
        self._owner: Any = None
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Acquire, or re-enter if the current greenlet already owns it."""
        me = getcurrent()
        if self._owner is me:
            self._count += 1
            return True
        if self._block.acquire(blocking, timeout):
            self._owner = me
            self._count = 1
            return True
        return False

    def release(self) -> None:
        """Leave once; the lock is free when the count reaches zero."""
        if self._owner is not getcurrent():
            raise RuntimeError(f"cannot release un-acquired lock (owner: {self._owner!r}, "
                               f"current: {getcurrent()!r})")
        self._count -= 1
        if not self._count:
            self._owner = None
            self._block.release()

    def locked(self) -> bool:
        return self._block.locked()

    @property
    def count(self) -> int:
        """How many times the owner has acquired it."""
        return self._count

    @property
    def owner(self) -> Any:
        """The owning Greenlet (or raw greenlet), or None."""
        return self._owner

    def _is_owned(self) -> bool:
        return self._owner is getcurrent()

    def _release_save(self) -> tuple[int, Any]:
        # For threading.Condition.wait: release completely, remember the depth.
        if self._owner is not getcurrent():
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._owner)
        self._count = 0
        self._owner = None
        self._block.release()
        return state

    def _acquire_restore(self, state: tuple[int, Any]) -> None:
        self._block.acquire()
        self._count, self._owner = state

    def _at_fork_reinit(self) -> None:
        self._block = Semaphore(1)
        self._owner = None
        self._count = 0

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "locked" if self._owner is not None else "unlocked"
        return (f"<{type(self).__name__} at {id(self):#x} {state} owner={self._owner!r} "
                f"count={self._count} waiters={self._block.linkcount()}>")
