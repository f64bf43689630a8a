"""Waiting for something: ``Waiter`` (gevent's one-shot hand-off) and
``Linkable``, the wait queue behind Event, AsyncResult, the locks and Greenlet.

A waiting greenlet registers its own ``switch`` as a link; notification calls
``link(self)`` from the hub, which switches into it with the linkable as the
value. A timer that ends the wait switches in ``TIMED_OUT`` instead. Either
way the waiter removes its link before returning, so a stale wakeup cannot
reach it later.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from math import isnan

from greenlet import error as _GreenletError, getcurrent as _getcurrent

from .exceptions import TIMED_OUT, InvalidSwitchError, InvalidThreadUseError, check_can_block
from .hub import get_hub
from .park import discard, park

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: ``typing`` costs ~9 ms of a cold import
    from typing import Any, Callable

__all__ = ["park", "discard", "Waiter", "Linkable", "check_timeout", "check_timeout_nonnegative"]

_NONE: Any = object()
_get_ident = threading.get_ident   # the real one: patch_thread makes it per-greenlet


def check_timeout(timeout: Any) -> float | None:
    """Validate a ``timeout`` argument: None or a number of seconds.

    Negative numbers are accepted and mean "time out at once", as in gevent
    (ported code passes ``deadline - now``); NaN is rejected, since no clock
    ever reaches it.
    """
    if timeout is None:
        return None
    try:
        nan = timeout != timeout or isnan(timeout)
    except TypeError:
        raise TypeError(f"timeout must be None or a number of seconds, got {timeout!r}") from None
    if nan:
        raise ValueError(f"timeout must be None or a number of seconds, got {timeout!r} "
                         "(NaN never expires)")
    seconds: float = timeout
    return seconds


def check_timeout_nonnegative(timeout: Any) -> float | None:
    """``check_timeout`` for the APIs whose stdlib models refuse negative
    timeouts (``queue.Queue``, ``threading.Semaphore``): ValueError."""
    seconds = check_timeout(timeout)
    if seconds is not None and seconds < 0:
        raise ValueError(f"timeout must be None or a number of seconds >= 0, got {seconds!r}")
    return seconds


def _unbound() -> None:  # pragma: no cover - never called: _notify_hub guards it
    raise AssertionError("Linkable._notify_cb called before it was bound to a hub")


class Linkable:
    """A wait queue with gevent's ``rawlink``/``unlink`` interface.

    Notifying from another OS thread is supported: the notification is handed
    to the waiters' hub through its thread-safe wakeup.
    """

    __slots__ = ("_links", "_notify_pending", "hub", "_notify_cb", "_notify_hub", "_notify_ident",
                 "__weakref__")

    #: Stop notifying once ``ready()`` turns false (a semaphore ran out).
    _notify_while_ready = True

    def __init__(self, hub: Any = None) -> None:
        self._links: deque[Callable[[Any], Any]] = deque()
        self._notify_pending = False
        self.hub = hub
        # The hub's prepared schedule of _notify_links, bound at the first
        # notification from the hub's thread (see _schedule_notify).
        self._notify_cb: Callable[[], None] = _unbound
        self._notify_hub: Any = _NONE
        self._notify_ident: int | None = None

    def _get_hub(self) -> Any:
        hub = self.hub
        if hub is None:
            hub = self.hub = get_hub()
        return hub

    def rawlink(self, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(self)`` in the hub when this becomes ready."""
        if not callable(callback):
            raise TypeError(f"Expected callable: {callback!r}")
        if self.hub is None:
            self.hub = get_hub()
        self._links.append(callback)
        if self.ready():
            self._schedule_notify()

    def unlink(self, callback: Callable[[Any], Any]) -> None:
        discard(self._links, callback)

    def linkcount(self) -> int:
        return len(self._links)

    def ready(self) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def _schedule_notify(self) -> None:
        if not self._notify_pending:
            self._notify_pending = True
            hub = self.hub
            if hub is self._notify_hub and self._notify_ident == _get_ident():
                self._notify_cb()   # the hot path: no frame, no allocation
                return
            if hub is None:
                hub = self.hub = get_hub()
            if hub.thread_ident == _get_ident():
                # Bind the prepared schedule to this hub (again if the hub
                # changed: after fork, or a Linkable handed to another hub).
                self._notify_cb = hub.loop.scheduler(self._notify_links)
                self._notify_hub = hub
                self._notify_ident = hub.thread_ident
                self._notify_cb()
            else:  # set()/release() from another OS thread: wake that hub now
                hub.loop.run_callback_threadsafe(self._notify_links)

    def _notify_links(self) -> None:
        self._notify_pending = False
        links = self._links
        if len(links) == 1 and (not self._notify_while_ready or self.ready()):
            link = links.popleft()   # one waiter (a ping-pong): the loop below, unrolled
            try:
                link(self)
            except BaseException:
                self._get_hub().handle_error((link, self), *sys.exc_info())
            return
        handle_error = None
        check = self._notify_while_ready
        n = len(links)  # links added while notifying wait for the next round
        while n and links and (not check or self.ready()):
            n -= 1
            link = links.popleft()
            try:
                link(self)
            except BaseException:
                if handle_error is None:
                    handle_error = self._get_hub().handle_error
                handle_error((link, self), *sys.exc_info())

    def _wait(self, timeout: float | None = None) -> bool:
        """Park the current greenlet until notified (True) or ``timeout``
        passes (False)."""
        hub = self.hub
        if hub is None:
            hub = self.hub = get_hub()
        cur = _getcurrent()
        switch = cur.switch
        links = self._links
        links.append(switch)
        try:
            if timeout is None:   # untimed: park()'s first line, inline (a hot path)
                if cur is hub:
                    check_can_block(hub, cur)
                result = hub.switch()
            else:
                result = park(hub, cur, timeout)
        except BaseException as exc:
            discard(links, switch)
            self._check_wait_thread(exc, hub)
            raise
        if result is self:
            return True
        return self._woken_by(result, cur, switch)

    def _check_wait_thread(self, exc: BaseException, hub: Any) -> None:
        """A wait that failed with ``exc``: if the switch into the hub failed
        because the waiter is in another thread, raise a clear error."""
        if isinstance(exc, _GreenletError) and hub.thread_ident != _get_ident():
            raise InvalidThreadUseError(
                f"{self!r} is bound to the hub of thread {hub.thread_ident}, and a greenlet of "
                f"thread {_get_ident()} tried to wait on it. Notifying it (set, release) works "
                f"from any thread; waiting works only in the thread of its hub: use one "
                f"object per thread, or threading's primitives across threads.") from exc

    def _woken_by(self, result: Any, cur: Any, switch: Callable[[Any], Any]) -> bool:
        """The end of a wait woken by something else than this object:
        False for the timeout, else an error."""
        discard(self._links, switch)
        if result is TIMED_OUT:
            return False
        raise InvalidSwitchError(f"Invalid switch into {cur!r} while it waited on {self!r}: got {result!r}")


class Waiter:
    """A one-shot hand-off between the hub and one greenlet (gevent's API).

    ``get()`` blocks the current greenlet until ``switch(value)`` or
    ``throw(...)`` is called, usually from the hub. If those come first the
    result is stored and ``get()`` returns at once.
    """

    __slots__ = ("hub", "greenlet", "value", "_exception")

    def __init__(self, hub: Any = None) -> None:
        self.hub: Any = get_hub() if hub is None else hub
        self.greenlet: Any = None
        self.value: Any = None
        self._exception: Any = _NONE   # _NONE: nothing yet; None: a value; else throw() args

    def clear(self) -> None:
        self.greenlet = None
        self.value = None
        self._exception = _NONE

    def ready(self) -> bool:
        return self._exception is not _NONE

    def successful(self) -> bool:
        return self._exception is None

    @property
    def exc_info(self) -> Any:
        e = self._exception
        return None if e is _NONE else e

    def switch(self, value: Any = None) -> None:
        """Wake the waiting greenlet with ``value``; or store it."""
        g = self.greenlet
        if g is None:
            self.value = value
            self._exception = None
        else:
            if _getcurrent() is not self.hub:
                raise AssertionError("Can only use Waiter.switch method from the Hub greenlet")
            g.switch(value)

    def switch_args(self, *args: Any) -> None:
        return self.switch(args)

    def throw(self, *throw_args: Any) -> None:
        g = self.greenlet
        if g is None:
            self._exception = throw_args
        else:
            if _getcurrent() is not self.hub:
                raise AssertionError("Can only use Waiter.throw method from the Hub greenlet")
            g.throw(*throw_args)

    def get(self) -> Any:
        """Return the value given to ``switch``, or raise what ``throw`` got."""
        e = self._exception
        if e is not _NONE:
            if e is None:
                return self.value
            _getcurrent().throw(*e)
        if self.greenlet is not None:
            raise InvalidSwitchError(f"This Waiter is already used by {self.greenlet!r}")
        cur = check_can_block(self.hub)
        self.greenlet = cur
        try:
            return self.hub.switch()
        finally:
            self.greenlet = None

    def __call__(self, source: Any) -> None:
        if source.exception is None:
            self.switch(source.value)
        else:
            self.throw(source.exception)

    def __repr__(self) -> str:
        state = "waiting" if self.greenlet is not None else ("ready" if self.ready() else "empty")
        return f"<Waiter at {id(self):#x} {state}>"

    def __str__(self) -> str:
        # gevent's str(): who waits (the task a worker runs), and what it holds.
        name = type(self).__name__
        who = self.greenlet
        who = getattr(who, "task", None) or who
        if self._exception is _NONE:
            return f"<{name} greenlet={who}>"
        if self._exception is None:
            return f"<{name} greenlet={who} value={self.value!r}>"
        return f"<{name} greenlet={who} exc_info={self.exc_info!r}>"
