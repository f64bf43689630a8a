"""Waiting for greenlets (and anything with ``rawlink``): join's wait, ``iwait``,
``wait``, ``joinall``, ``killall``, ``kill``.

A waiter registers its own raw ``switch`` as a link and parks in the hub
(``_core.park``); it removes the registration however the wait ends. These
live apart from ``Greenlet`` because they only need the link protocol:
``Greenlet``, ``Event``, ``AsyncResult``, semaphores and ``Popen`` all wait
here the same way.
"""

from __future__ import annotations

from collections import deque
from time import monotonic
from types import TracebackType
from typing import Any, Callable, Iterable, Iterator, Protocol

from greenlet import GreenletExit, getcurrent as _getcurrent, greenlet as _RawGreenlet

from ._core.exceptions import TIMED_OUT, InvalidSwitchError, check_can_block
from ._core.hub import get_hub
from ._core.waiter import check_timeout, discard, park
from .timeout import Timeout

__all__ = ["wait_link", "wait_link_under", "iwait", "wait", "joinall", "killall", "kill",
           "WaitIterator"]


class _Linked(Protocol):
    """What ``wait_link`` needs of its target: its hub and its link list."""

    _hub: Any
    _links: list[Callable[[Any], Any]] | None


def wait_link(target: _Linked, timeout: float | None) -> bool:
    """Wait for ``target`` to call its links (a Greenlet finishing); False if
    ``timeout`` (seconds, already checked) passed first."""
    hub = target._hub
    cur = _getcurrent()
    switch = cur.switch
    links = target._links
    if links is None:
        links = target._links = []
    links.append(switch)
    try:
        if timeout is None:   # untimed: park()'s first line, inline (join is a hot path)
            if cur is hub:
                check_can_block(hub, cur)
            result = hub.switch()
        else:
            result = park(hub, cur, timeout)
    except BaseException:
        discard(links, switch)
        raise
    if result is target:
        return True
    discard(links, switch)
    if result is TIMED_OUT:
        return False
    raise InvalidSwitchError(f"Invalid switch into {cur!r} while it waited on {target!r}: got {result!r}")


def wait_link_under(target: _Linked, timeout: Timeout) -> None:
    """Wait for ``target`` under a ``Timeout`` object, as gevent's ``get``/``join``
    accept one: started if it is not pending, cancelled afterwards; when it
    fires, it raises from here."""
    if not timeout.pending:
        timeout.start()
    try:
        wait_link(target, None)
    finally:
        timeout.cancel()


class WaitIterator:
    """What ``iwait`` returns: an iterator over the objects as they become ready,
    and a context manager (gevent's) whose exit unlinks from those not
    yielded, so a partly consumed ``iwait`` leaves no callbacks behind."""

    __slots__ = ("_gen",)

    def __init__(self, gen: Iterator[Any]) -> None:
        self._gen = gen

    def __iter__(self) -> WaitIterator:
        return self

    def __next__(self) -> Any:
        return next(self._gen)

    def close(self) -> None:
        """Stop waiting and unlink from every object."""
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> WaitIterator:
        return self

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _checked(objects: Iterable[Any], count: int | None) -> tuple[list[Any], int]:
    objects = list(objects)
    for obj in objects:
        if not callable(getattr(obj, "rawlink", None)):
            raise TypeError(f"iwait() needs objects with rawlink(), got {obj!r}")
    if count is None:
        return objects, len(objects)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return objects, min(count, len(objects))


def iwait(objects: Iterable[Any] | None, timeout: float | None = None,
          count: int | None = None) -> WaitIterator:
    """Yield each of ``objects`` (Greenlets, Events, AsyncResults…) as it
    becomes ready, until ``count`` were yielded or ``timeout`` passes.
    ``with iwait(...) as it:`` unlinks at the end of the block."""
    seconds = check_timeout(timeout)
    if objects is None:
        return WaitIterator(iter([get_hub().join(seconds)]))
    objs, n = _checked(objects, count)
    return WaitIterator(_iwait(objs, seconds, n))


def _iwait(objects: list[Any], timeout: float | None, count: int) -> Iterator[Any]:
    hub = get_hub()
    cur = check_can_block(hub)
    done: deque[Any] = deque()
    parked = [False]  # True while this greenlet waits in park() for `done`

    def on_ready(obj: Any) -> None:
        done.append(obj)
        if parked[0]:
            parked[0] = False
            cur.switch(obj)

    for obj in objects:
        obj.rawlink(on_ready)
    deadline = None if timeout is None else monotonic() + timeout
    try:
        yielded = 0
        while yielded < count:
            if not done:
                left = None if deadline is None else deadline - monotonic()
                parked[0] = True
                try:
                    result = park(hub, cur, left)
                finally:
                    parked[0] = False
                if result is TIMED_OUT:
                    return
                if not done:
                    raise InvalidSwitchError(f"Invalid switch into {cur!r} in iwait(): got {result!r}")
            yielded += 1
            yield done.popleft()
    finally:
        for obj in objects:
            obj.unlink(on_ready)


def wait(objects: Iterable[Any] | None = None, timeout: float | None = None,
         count: int | None = None) -> Any:
    """Wait for ``objects`` to become ready; return the list of ready ones.
    With no objects, wait until the loop has nothing left to do (then the
    hub's ``join`` result: True, or False on timeout)."""
    if objects is None:
        return get_hub().join(timeout=timeout)
    seconds = check_timeout(timeout)
    objs, n = _checked(objects, count)
    return list(_iwait(objs, seconds, n))


def joinall(greenlets: Iterable[Any], timeout: float | None = None,
            raise_error: bool = False, count: int | None = None) -> list[Any]:
    """Wait for the greenlets to finish; return those that did. With
    ``raise_error``, raise the first failure's exception as soon as it
    happens."""
    greenlets = list(greenlets)
    if not raise_error:
        ready: list[Any] = wait(greenlets, timeout, count)
        return ready
    done = []
    for g in iwait(greenlets, timeout, count):
        if g.exception is not None:
            e = g.exc_info
            raise e[1].with_traceback(e[2])
        done.append(g)
    return done


def killall(greenlets: Iterable[Any], exception: Any = GreenletExit, block: bool = True,
            timeout: float | None = None) -> None:
    """Kill all ``greenlets`` (Greenlets or raw greenlets); with ``block`` wait
    for the Greenlets to die, raising ``Timeout`` if they have not within
    ``timeout``."""
    seconds = check_timeout(timeout)
    greenlets = list(greenlets)
    for g in greenlets:
        kill(g, exception)
    if block:
        alive = [g for g in greenlets if not isinstance(g, _RawGreenlet) and not g.dead]
        if alive:
            done = wait(alive, seconds)
            if len(done) < len(alive):
                raise Timeout(seconds)


def kill(greenlet: Any, exception: Any = GreenletExit) -> None:
    """Kill a Greenlet (its ``kill(exception, block=False)``) or a raw greenlet
    (``exception`` thrown into it from the hub) without waiting."""
    if not isinstance(greenlet, _RawGreenlet):
        greenlet.kill(exception, block=False)
    elif not greenlet.dead:
        get_hub().loop.run_callback(_throw_raw, greenlet, exception)


def _throw_raw(g: Any, exception: Any) -> None:
    if not g.dead:
        g.throw(exception)
