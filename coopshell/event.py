"""Event and AsyncResult: wait for something to happen, from many greenlets.

``Event`` is ``threading.Event`` for greenlets. ``AsyncResult`` carries a
value or an exception to everyone waiting for it, like a one-shot future.
"""

from __future__ import annotations

from typing import Any

from greenlet import getcurrent as _getcurrent

from ._core.waiter import Linkable, _get_ident, check_timeout, discard
from .timeout import Timeout

__all__ = ["Event", "AsyncResult"]

_NONE: Any = object()


class Event(Linkable):
    """A flag greenlets can wait on. ``set()`` wakes every waiter; waiters
    that arrive while it is set return at once, until ``clear()``."""

    __slots__ = ("_flag",)

    # Waiters woken by set() return True even if clear() came in between,
    # as with threading.Event.
    _notify_while_ready = False

    def __init__(self) -> None:
        Linkable.__init__(self)
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    isSet = is_set

    def ready(self) -> bool:
        return self._flag

    def set(self) -> None:
        """Set the flag and wake all waiters (in the next loop iteration)."""
        self._flag = True
        if self._links:
            self._schedule_notify()

    def clear(self) -> None:
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the flag is set; return it (False if ``timeout`` passed)."""
        if self._flag:
            if self._notify_pending:
                self._wait_for_notified()
            return True
        if timeout is not None:
            check_timeout(timeout)
        else:
            hub = self.hub
            if hub is not None:
                cur = _getcurrent()
                if cur is not hub:
                    # Linkable._wait's untimed wait, inline (the hot path of a hand-off)
                    switch = cur.switch
                    links = self._links
                    links.append(switch)
                    try:
                        result = hub.switch()
                    except BaseException as exc:
                        discard(links, switch)
                        self._check_wait_thread(exc, hub)
                        raise
                    if result is self:
                        return True
                    return self._woken_by(result, cur, switch) or self._flag
        return self._wait(timeout) or self._flag

    def _wait_for_notified(self) -> None:
        """A wait on a set Event whose waiters are still to be woken runs after
        them, in the same pass (gevent 1520), not before them."""
        hub = self.hub
        cur = _getcurrent()
        if hub is None or cur is hub or hub.thread_ident != _get_ident():
            return
        switch = cur.switch
        links = self._links
        links.append(switch)
        try:
            result = hub.switch()
        except BaseException:
            discard(links, switch)
            raise
        if result is not self:
            self._woken_by(result, cur, switch)

    def _at_fork_reinit(self) -> None:
        """``threading``'s after-fork hook, when ``threading.Event`` is this
        class (gevent's idiom): in the child the waiters were the parent's
        greenlets, so they go; the flag stays, as with ``threading.Event``."""
        Linkable.__init__(self)

    def __repr__(self) -> str:
        return f"<Event at {id(self):#x} {'set' if self._flag else 'unset'} _links[{len(self._links)}]>"


class AsyncResult(Linkable):
    """A value or an exception that is delivered once to any number of
    waiters. ``set()``/``set_exception()`` fill it; ``get()`` waits for it."""

    __slots__ = ("_value", "_exc_info")

    def __init__(self) -> None:
        Linkable.__init__(self)
        self._value: Any = _NONE
        self._exc_info: tuple[Any, BaseException, Any] | None = None

    def ready(self) -> bool:
        return self._value is not _NONE or self._exc_info is not None

    def successful(self) -> bool:
        return self._value is not _NONE and self._exc_info is None

    @property
    def value(self) -> Any:
        v = self._value
        return None if v is _NONE else v

    @property
    def exception(self) -> BaseException | None:
        e = self._exc_info
        return None if e is None else e[1]

    @property
    def exc_info(self) -> tuple[Any, ...]:
        """``(type, value, traceback)`` once ``set_exception`` was called, else
        ``()`` (gevent's convention)."""
        e = self._exc_info
        return () if e is None else e

    def set(self, value: Any = None) -> None:
        """Store ``value`` and wake all waiters."""
        self._value = value
        self._exc_info = None
        if self._links:
            self._schedule_notify()

    #: The ``concurrent.futures`` name.
    set_result = set

    def set_exception(self, exception: BaseException | type[BaseException], exc_info: Any = None) -> None:
        """Store ``exception`` (an instance, or a class to instantiate); waiters'
        ``get()`` raises it."""
        if isinstance(exception, type):
            exception = exception()
        if not isinstance(exception, BaseException):
            raise TypeError(f"set_exception() needs an exception, got {exception!r}")
        tb = exc_info[2] if exc_info else exception.__traceback__
        self._exc_info = (type(exception), exception, tb)
        self._value = _NONE
        if self._links:
            self._schedule_notify()

    def get(self, block: bool = True, timeout: float | Timeout | None = None) -> Any:
        """Return the value or raise the exception; wait for it if needed.
        Raises ``Timeout`` if nothing arrives within ``timeout`` (seconds, or
        a ``Timeout`` object, which is raised when it fires)."""
        if not self.ready():
            if not block:
                raise Timeout()
            if isinstance(timeout, Timeout):
                # gevent accepts a Timeout object: it is raised from here when it fires.
                if not timeout.pending:
                    timeout.start()
                try:
                    self._wait(None)
                finally:
                    timeout.cancel()
            else:
                seconds = check_timeout(timeout)
                if not self._wait(seconds) and not self.ready():
                    raise Timeout(seconds)
        e = self._exc_info
        if e is not None:
            raise e[1].with_traceback(e[2])
        return self._value

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def wait(self, timeout: float | None = None) -> Any:
        """Block until ready or ``timeout``; return the value (None if not
        ready or failed). Never raises the stored exception."""
        if not self.ready():
            check_timeout(timeout)
            self._wait(timeout)
        return self.value

    def __call__(self, source: Any) -> None:
        """Use as a link: copy a finished Greenlet's outcome."""
        if source.successful():
            self.set(source.value)
        else:
            self.set_exception(source.exception, getattr(source, "exc_info", None))

    # concurrent.futures-style names
    def result(self, timeout: float | None = None) -> Any:
        return self.get(timeout=timeout)

    def done(self) -> bool:
        return self.ready()

    def cancel(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def __repr__(self) -> str:
        if self._exc_info is not None:
            state = f"exception={self._exc_info[1]!r}"
        elif self._value is not _NONE:
            state = f"value={self._value!r}"
        else:
            state = "unset"
        return f"<AsyncResult at {id(self):#x} {state} _links[{len(self._links)}]>"
