"""Timeouts: raise an exception in a greenlet after a number of seconds.

``Timeout`` is both the exception and the timer that raises it, as in gevent::

    with Timeout(5):
        data = sock.recv(1024)      # raises Timeout after 5 s

    with Timeout(5, False):         # silent: the block just ends
        data = sock.recv(1024)

It derives from ``BaseException`` so that ``except Exception`` in user code
does not swallow it by accident.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Callable, TypeVar

from greenlet import getcurrent as _getcurrent

from ._core.hub import get_hub
from ._core.waiter import check_timeout

__all__ = ["Timeout", "with_timeout"]

T = TypeVar("T")
_NONE: Any = object()


class Timeout(BaseException):
    """Raise ``exception`` (default: this Timeout) in the greenlet that
    started the timer, ``seconds`` later. ``seconds=None`` never fires; zero
    or negative seconds fire at once (in the next loop pass), as in gevent.

    ``exception`` is, as in gevent: None (raise this Timeout), False (raise
    this Timeout, and a ``with`` block ends silently), a string (raise this
    Timeout, with the string in its message), an exception class (raise a
    new instance) or an exception instance (raise it)."""

    def __init__(self, seconds: float | None = None, exception: Any = None,
                 ref: bool = True, priority: int = -1):
        BaseException.__init__(self)
        self.seconds = check_timeout(seconds)
        self.exception = exception
        self._ref = ref
        self._entry: Any = None   # the loop's TimerHandle while pending

    # -- timer -----------------------------------------------------------------

    def start(self) -> None:
        """Start counting; the exception goes to the current greenlet."""
        if self.pending:
            raise AssertionError(f"{self!r} is already started; to restart it, cancel it first")
        if self.seconds is None:
            return
        exc = self.exception
        if exc is None or exc is False or isinstance(exc, str):
            throws: Any = self
        elif isinstance(exc, BaseException) or (isinstance(exc, type) and issubclass(exc, BaseException)):
            throws = exc
        else:
            raise TypeError(f"Timeout exception must be None, False, a string, an exception class or "
                            f"an exception instance, got {exc!r}")
        cur = _getcurrent()
        self._entry = get_hub().loop.add_timer(
            self.seconds, self._fire, cur, getattr(cur, "task", None), throws, ref=self._ref)

    def _fire(self, glet: Any, task: Any, throws: Any) -> None:
        self._entry = None
        # A pooled worker greenlet may have moved on to another task.
        if glet.dead or getattr(glet, "task", None) is not task:
            return
        glet.throw(throws)

    @classmethod
    def start_new(cls, timeout: float | Timeout | None = None, exception: Any = None,
                  ref: bool = True) -> Timeout:
        """Create and start a Timeout (or start the given one)."""
        if isinstance(timeout, Timeout):
            if not timeout.pending:
                timeout.start()
            return timeout
        t = cls(timeout, exception, ref=ref)
        t.start()
        return t

    @staticmethod
    def _start_new_or_dummy(timeout: float | Timeout | None, exception: Any = None,
                            ref: bool = True) -> Timeout | _DummyTimeout:
        if timeout is None:
            return _DUMMY
        return Timeout.start_new(timeout, exception, ref)

    @property
    def pending(self) -> bool:
        """True while the timer runs."""
        e = self._entry
        return e is not None and e.pending

    def cancel(self) -> None:
        """Stop the timer if it runs; safe to call more than once."""
        e = self._entry
        if e is not None:
            self._entry = None
            e.cancel()

    close = cancel

    # -- context manager ---------------------------------------------------------

    def __enter__(self) -> Timeout:
        if not self.pending:
            self.start()
        return self

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        self.cancel()
        if value is self and self.exception is False:
            return True
        return None

    # -- exception side ------------------------------------------------------------

    def __repr__(self) -> str:
        exc = "" if self.exception is None else f" exception={self.exception!r}"
        pending = " pending" if self.pending else ""
        return f"<{type(self).__name__} at {id(self):#x} seconds={self.seconds}{exc}{pending}>"

    def __str__(self) -> str:
        if self.seconds is None:
            return ""
        suffix = "" if self.seconds == 1 else "s"
        if self.exception is None:
            return f"{self.seconds} second{suffix}"
        if self.exception is False:
            return f"{self.seconds} second{suffix} (silent)"
        return f"{self.seconds} second{suffix}: {self.exception}"


class _DummyTimeout:
    __slots__ = ()
    pending = False
    seconds = None

    def cancel(self) -> None:
        pass

    close = start = cancel

    def __enter__(self) -> _DummyTimeout:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_DUMMY = _DummyTimeout()


def with_timeout(seconds: float | None, function: Callable[..., T], *args: Any,
                 timeout_value: Any = _NONE, **kwargs: Any) -> T:
    """Call ``function(*args, **kwargs)``; if it takes longer than ``seconds``
    return ``timeout_value`` when given, else raise ``Timeout``."""
    timeout = Timeout.start_new(seconds)
    try:
        return function(*args, **kwargs)
    except Timeout as exc:
        if exc is timeout and timeout_value is not _NONE:
            value: T = timeout_value
            return value
        raise
    finally:
        timeout.cancel()
