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
from collections import deque

from greenlet import getcurrent as _getcurrent

from .exceptions import BlockingSwitchOutError, InvalidSwitchError
from .hub import BLOCKING_MESSAGE, TIMED_OUT, get_hub

__all__ = ["Waiter", "Linkable", "check_timeout"]

_NONE = object()


def check_timeout(timeout):
    """Validate a ``timeout`` argument: None or a number >= 0."""
    if timeout is None:
        return None
    try:
        ok = timeout >= 0
    except TypeError:
        raise TypeError(f"timeout must be None or a number of seconds, got {timeout!r}") from None
    if not ok:
        raise ValueError(f"timeout must be None or a number of seconds >= 0, got {timeout!r}")
    return timeout


class Linkable:
    """A wait queue with gevent's ``rawlink``/``unlink`` interface."""

    __slots__ = ("_links", "_notify_pending", "hub", "__weakref__")

    #: Stop notifying once ``ready()`` turns false (a semaphore ran out).
    _notify_while_ready = True

    def __init__(self, hub=None):
        self._links = deque()
        self._notify_pending = False
        self.hub = hub

    def _get_hub(self):
        hub = self.hub
        if hub is None:
            hub = self.hub = get_hub()
        return hub

    def rawlink(self, callback) -> None:
        """Call ``callback(self)`` in the hub when this becomes ready."""
        if not callable(callback):
            raise TypeError(f"Expected callable: {callback!r}")
        self._links.append(callback)
        if self.ready():
            self._schedule_notify()

    def unlink(self, callback) -> None:
        try:
            self._links.remove(callback)
        except ValueError:
            pass

    def linkcount(self) -> int:
        return len(self._links)

    def ready(self) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def _schedule_notify(self):
        if not self._notify_pending:
            self._notify_pending = True
            self._get_hub().loop._ready.append((self._notify_links, ()))

    def _notify_links(self):
        self._notify_pending = False
        links = self._links
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

    def _wait(self, timeout=None) -> bool:
        """Park the current greenlet until notified (True) or ``timeout``
        passes (False)."""
        hub = self.hub
        if hub is None:
            hub = self.hub = get_hub()
        cur = _getcurrent()
        if cur is hub:
            raise BlockingSwitchOutError(BLOCKING_MESSAGE)
        switch = cur.switch
        links = self._links
        links.append(switch)
        if timeout is None:
            try:
                result = hub.switch()
            except BaseException:
                _discard(links, switch)
                raise
        else:
            loop = hub.loop
            entry = loop._add_timer(timeout, switch, (TIMED_OUT,))
            try:
                result = hub.switch()
            except BaseException:
                _discard(links, switch)
                raise
            finally:
                if entry[2] is not None:
                    loop._cancel_timer(entry)
            if result is TIMED_OUT:
                _discard(links, switch)
                return False
        if result is not self:
            _discard(links, switch)
            raise InvalidSwitchError(f"Invalid switch into {cur!r} while it waited on {self!r}: got {result!r}")
        return True


def _discard(links, item):
    try:
        links.remove(item)
    except ValueError:
        pass


class Waiter:
    """A one-shot hand-off between the hub and one greenlet (gevent's API).

    ``get()`` blocks the current greenlet until ``switch(value)`` or
    ``throw(...)`` is called, usually from the hub. If those come first the
    result is stored and ``get()`` returns at once.
    """

    __slots__ = ("hub", "greenlet", "value", "_exception")

    def __init__(self, hub=None):
        self.hub = get_hub() if hub is None else hub
        self.greenlet = None
        self.value = None
        self._exception = _NONE

    def clear(self):
        self.greenlet = None
        self.value = None
        self._exception = _NONE

    def ready(self) -> bool:
        return self._exception is not _NONE

    def successful(self) -> bool:
        return self._exception is None

    @property
    def exc_info(self):
        e = self._exception
        return None if e is _NONE else e

    def switch(self, value=None):
        """Wake the waiting greenlet with ``value``; or store it."""
        g = self.greenlet
        if g is None:
            self.value = value
            self._exception = None
        else:
            if _getcurrent() is not self.hub:
                raise AssertionError("Can only use Waiter.switch method from the Hub greenlet")
            g.switch(value)

    def switch_args(self, *args):
        return self.switch(args)

    def throw(self, *throw_args):
        g = self.greenlet
        if g is None:
            self._exception = throw_args
        else:
            if _getcurrent() is not self.hub:
                raise AssertionError("Can only use Waiter.throw method from the Hub greenlet")
            g.throw(*throw_args)

    def get(self):
        """Return the value given to ``switch``, or raise what ``throw`` got."""
        e = self._exception
        if e is not _NONE:
            if e is None:
                return self.value
            _getcurrent().throw(*e)
        if self.greenlet is not None:
            raise InvalidSwitchError(f"This Waiter is already used by {self.greenlet!r}")
        cur = _getcurrent()
        if cur is self.hub:
            raise BlockingSwitchOutError(BLOCKING_MESSAGE)
        self.greenlet = cur
        try:
            return self.hub.switch()
        finally:
            self.greenlet = None

    def __call__(self, source):
        if source.exception is None:
            self.switch(source.value)
        else:
            self.throw(source.exception)

    def __repr__(self):
        state = "waiting" if self.greenlet is not None else ("ready" if self.ready() else "empty")
        return f"<Waiter at {id(self):#x} {state}>"
