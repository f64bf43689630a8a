"""Groups and pools of greenlets (gevent.pool).

``Group`` tracks a set of running greenlets: wait for them all, kill them
all, map a function over inputs. ``Pool`` is a Group with a size limit:
``spawn`` waits while the pool is full, so at most ``size`` run at once.

Differs from gevent:

- ``imap``/``imap_unordered`` return plain iterators (not Greenlets). When a
  call fails, iteration raises its exception (in input order for ``imap``),
  stops, and kills the calls still running and the input feeder; ``close()``
  does the same for an iterator abandoned early.
- ``Pool.discard`` of a greenlet that is not in the pool does not free a slot.
"""

from __future__ import annotations

from operator import index as _index
from time import monotonic
from typing import Any, Callable, Iterable, Iterator

from greenlet import GreenletExit

from ._core.waiter import check_timeout
from .event import Event
from .greenlet import Greenlet, getcurrent, joinall
from .lock import DummySemaphore, Semaphore
from .queue import Full, SimpleQueue

__all__ = ["Group", "Pool", "PoolFull", "GroupMappingMixin", "IMap", "IMapUnordered"]


class PoolFull(Full):
    """Raised by ``Pool.add``/``start`` when the pool is full and the caller
    would not wait (``blocking=False``) or waited ``timeout`` in vain."""


class GroupMappingMixin:
    """``apply``/``map`` and friends, for anything with ``spawn``."""

    def spawn(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Greenlet:  # pragma: no cover
        raise NotImplementedError

    def full(self) -> bool:  # pragma: no cover
        raise NotImplementedError

    def _apply_immediately(self) -> bool:
        # Called from one of our own members: run inline, since waiting for
        # a free slot held by ourselves would deadlock.
        return getcurrent() in self  # type: ignore[operator]

    def apply(self, func: Callable[..., Any], args: Iterable[Any] | None = None,
              kwds: dict[str, Any] | None = None) -> Any:
        """Call ``func(*args, **kwds)`` in a member greenlet and return its
        result (or raise its exception). From inside a member, call inline."""
        args = () if args is None else tuple(args)
        kwds = {} if kwds is None else kwds
        if self._apply_immediately():
            return func(*args, **kwds)
        return self.spawn(func, *args, **kwds).get()

    def apply_cb(self, func: Callable[..., Any], args: Iterable[Any] | None = None,
                 kwds: dict[str, Any] | None = None, callback: Callable[[Any], Any] | None = None) -> Any:
        """``apply``, then run ``callback(result)`` in a new greenlet."""
        result = self.apply(func, args, kwds)
        if callback is not None:
            Greenlet.spawn(callback, result)
        return result

    def apply_async(self, func: Callable[..., Any], args: Iterable[Any] | None = None,
                    kwds: dict[str, Any] | None = None,
                    callback: Callable[[Any], Any] | None = None) -> Greenlet:
        """Start ``func(*args, **kwds)`` without waiting and return its
        Greenlet; ``callback(result)`` runs if it succeeds. Never blocks: if
        the pool is full the returned greenlet waits for a slot itself (and
        is then not a member)."""
        _check_callable(func, "apply_async")
        args = () if args is None else tuple(args)
        kwds = {} if kwds is None else kwds
        if self.full():
            return Greenlet.spawn(self.apply_cb, func, args, kwds, callback)
        g = self.spawn(func, *args, **kwds)
        if callback is not None:
            g.link(_PassValue(callback))
        return g

    def map(self, func: Callable[[Any], Any], iterable: Iterable[Any]) -> list[Any]:
        """``list(map(func, iterable))`` with each call in a member greenlet;
        the first failure (in input order) is raised."""
        _check_callable(func, "map")
        if self._apply_immediately():
            return [func(x) for x in iterable]
        return list(self.imap(func, iterable))

    def map_cb(self, func: Callable[[Any], Any], iterable: Iterable[Any],
               callback: Callable[[list[Any]], Any] | None = None) -> list[Any]:
        result = self.map(func, iterable)
        if callback is not None:
            callback(result)
        return result

    def map_async(self, func: Callable[[Any], Any], iterable: Iterable[Any],
                  callback: Callable[[list[Any]], Any] | None = None) -> Greenlet:
        """``map`` in a new greenlet; returns it (its value is the list)."""
        _check_callable(func, "map_async")
        return Greenlet.spawn(self.map_cb, func, iterable, callback)

    def imap(self, func: Callable[..., Any], *iterables: Iterable[Any],
             maxsize: int | None = None) -> IMap:
        """An iterator of ``func(*args)`` for args zipped from ``iterables``,
        in input order, computed concurrently in member greenlets. With
        ``maxsize``, at most that many results wait for the reader before
        new calls are started."""
        return IMap(func, iterables, self.spawn, maxsize)

    def imap_unordered(self, func: Callable[..., Any], *iterables: Iterable[Any],
                       maxsize: int | None = None) -> IMapUnordered:
        """Like ``imap``, but yield results as they finish."""
        return IMapUnordered(func, iterables, self.spawn, maxsize)


class Group(GroupMappingMixin):
    """A set of greenlets; a finished greenlet leaves the group by itself.

    ``Group(greenlets)`` starts with the given ones. ``len``, ``in`` and
    iteration look at the members."""

    #: The class ``spawn`` creates.
    greenlet_class: type = Greenlet

    def __init__(self, *args: Iterable[Greenlet]):
        if len(args) > 1:
            raise TypeError(f"Group() takes at most one iterable of greenlets, got {len(args)} arguments")
        self.greenlets: set[Greenlet] = set()
        self.dying: set[Greenlet] = set()
        self._empty_event = Event()
        self._empty_event.set()
        self._discard_link = self._discard  # one bound method, so unlink finds it
        if args:
            for g in args[0]:
                self.add(g)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {id(self):#x} {len(self.greenlets)} greenlets>"

    def __len__(self) -> int:
        return len(self.greenlets)

    def __contains__(self, item: Any) -> bool:
        return item in self.greenlets

    def __iter__(self) -> Iterator[Greenlet]:
        return iter(self.greenlets)

    def add(self, greenlet: Greenlet) -> None:
        """Track ``greenlet`` until it finishes."""
        rawlink = getattr(greenlet, "rawlink", None)
        if rawlink is None:
            raise TypeError(f"Group.add() needs a Greenlet, got {greenlet!r}")
        if greenlet in self.greenlets:
            return
        rawlink(self._discard_link)
        self.greenlets.add(greenlet)
        self._empty_event.clear()

    def _discard(self, greenlet: Greenlet) -> None:
        self.greenlets.discard(greenlet)
        self.dying.discard(greenlet)
        if not self.greenlets:
            self._empty_event.set()

    def discard(self, greenlet: Greenlet) -> None:
        """Stop tracking ``greenlet`` (it keeps running)."""
        self._discard(greenlet)
        unlink = getattr(greenlet, "unlink", None)
        if unlink is not None:
            unlink(self._discard_link)

    def start(self, greenlet: Greenlet) -> None:
        """Add ``greenlet`` and start it."""
        self.add(greenlet)
        greenlet.start()

    def spawn(self, *args: Any, **kwargs: Any) -> Greenlet:
        """Create a ``greenlet_class(*args, **kwargs)``, add it and start it."""
        greenlet: Greenlet = self.greenlet_class(*args, **kwargs)
        self.start(greenlet)
        return greenlet

    def join(self, timeout: float | None = None, raise_error: bool = False) -> bool:
        """Wait until the group is empty; False if ``timeout`` passed first.
        With ``raise_error``, raise the exception of a member (of those there
        when the wait began) that failed."""
        timeout = check_timeout(timeout)
        if raise_error:
            greenlets = list(self.greenlets)
            done = self._empty_event.wait(timeout)
            for g in greenlets:
                exc_info = g.exc_info
                if exc_info is not None:
                    raise exc_info[1].with_traceback(exc_info[2])
            return done
        return self._empty_event.wait(timeout)

    def kill(self, exception: Any = GreenletExit, block: bool = True,
             timeout: float | None = None) -> None:
        """Kill every member (and any spawned meanwhile); with ``block``, wait
        up to ``timeout`` for them to finish (it returns quietly after it)."""
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else monotonic() + timeout
        while self.greenlets:
            for g in list(self.greenlets):
                if g not in self.dying:
                    self.dying.add(g)
                    g.kill(exception, block=False)
            if not block:
                return
            remaining = None
            if deadline is not None:
                remaining = deadline - monotonic()
                if remaining <= 0:
                    return
            joinall(list(self.greenlets), timeout=remaining)

    def killone(self, greenlet: Greenlet, exception: Any = GreenletExit, block: bool = True,
                timeout: float | None = None) -> None:
        """Kill one member; with ``block`` wait up to ``timeout`` for it."""
        if greenlet not in self.dying and greenlet in self.greenlets:
            self.dying.add(greenlet)
            greenlet.kill(exception, block=False)
            if block:
                greenlet.join(timeout)

    def full(self) -> bool:
        """A Group has no limit: never full."""
        return False

    def wait_available(self, timeout: float | None = None) -> int | None:
        """A Group has no limit: returns at once."""
        return None


class Pool(Group):
    """A Group of at most ``size`` greenlets (unlimited if None); ``spawn``
    and ``add`` wait for a free slot. ``size=0`` makes a pool nothing can
    join (useful only with ``wait_available(timeout)``)."""

    def __init__(self, size: int | None = None, greenlet_class: type | None = None):
        if size is not None:
            try:
                size = _index(size)
            except TypeError:
                raise TypeError(f"Pool size must be None or an int, got {size!r}") from None
            if size < 0:
                raise ValueError(f"Pool size must not be negative, got {size}")
        Group.__init__(self)
        self.size = size
        if greenlet_class is not None:
            self.greenlet_class = greenlet_class
        self._semaphore: Any = DummySemaphore() if size is None else Semaphore(size)

    def __repr__(self) -> str:
        size = "unlimited" if self.size is None else self.size
        waiting = self._semaphore.linkcount() if self.size is not None else 0
        return (f"<{type(self).__name__} at {id(self):#x} size={size} used={len(self.greenlets)} "
                f"free={self.free_count()} waiting={waiting}>")

    def wait_available(self, timeout: float | None = None) -> int:
        """Wait until a greenlet could be added; returns the free count
        (0 if ``timeout`` passed first)."""
        free: int = self._semaphore.wait(timeout)
        return free

    def full(self) -> bool:
        """True if ``add`` would wait."""
        return self.free_count() <= 0

    def free_count(self) -> int:
        """How many more greenlets fit (1 for an unlimited pool)."""
        if self.size is None:
            return 1
        return max(0, self.size - len(self))

    def add(self, greenlet: Greenlet, blocking: bool = True,
            timeout: float | None = None) -> None:
        """Track ``greenlet``, waiting up to ``timeout`` for a free slot;
        ``PoolFull`` if none (at once with ``blocking=False``)."""
        if getattr(greenlet, "rawlink", None) is None:
            raise TypeError(f"Pool.add() needs a Greenlet, got {greenlet!r}")
        if greenlet in self.greenlets:
            return
        if not self._semaphore.acquire(blocking, timeout if blocking else None):
            raise PoolFull()
        try:
            Group.add(self, greenlet)
        except BaseException:
            self._semaphore.release()
            raise

    def start(self, greenlet: Greenlet, blocking: bool = True,
              timeout: float | None = None) -> None:
        """Add ``greenlet`` (waiting for a slot) and start it."""
        self.add(greenlet, blocking, timeout)
        greenlet.start()

    def _discard(self, greenlet: Greenlet) -> None:
        if greenlet in self.greenlets:
            Group._discard(self, greenlet)
            self._semaphore.release()


class _PassValue:
    """A link that calls ``callback(value)`` if the greenlet succeeded."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[Any], Any]) -> None:
        self.callback = callback

    def __call__(self, source: Any) -> None:
        if source.successful():
            self.callback(source.value)

    def __eq__(self, other: object) -> bool:
        return self is other or bool(self.callback == other) or (
            isinstance(other, _PassValue) and bool(self.callback == other.callback))

    __hash__ = object.__hash__


def _check_callable(func: Any, where: str) -> None:
    if not callable(func):
        raise TypeError(f"{where}() expected a callable, got {func!r}")


_DONE = -1   # message: (_DONE, number of calls started)
_ERROR = -2  # message: (_ERROR, exception raised by the input iterable)


class IMapUnordered:
    """Iterator over results of calls started by a feeder greenlet."""

    _ordered = False

    def __init__(self, func: Callable[..., Any], iterables: tuple[Iterable[Any], ...],
                 spawn: Callable[..., Greenlet], maxsize: int | None = None):
        _check_callable(func, "imap")
        if not iterables:
            raise TypeError("imap() needs at least one iterable")
        if maxsize is not None:
            try:
                maxsize = _index(maxsize)
            except TypeError:
                raise TypeError(f"maxsize must be None or an int, got {maxsize!r}") from None
            if maxsize < 1:
                raise ValueError(f"maxsize must be >= 1 or None, got {maxsize}")
        self._func = func
        self._args = zip(*[iter(it) for it in iterables])
        self._spawn = spawn
        self._sem = None if maxsize is None else Semaphore(maxsize)
        self._messages = SimpleQueue()
        self._running: dict[int, Greenlet] = {}   # index -> call not finished yet
        self._results: dict[int, Greenlet] = {}   # index -> finished, not yet yielded (ordered)
        self._total: int | None = None
        self._feed_error: BaseException | None = None
        self._yielded = 0
        self._finished = False
        self._feeder = Greenlet.spawn(self._feed)

    @property
    def queue(self) -> SimpleQueue:
        """The queue of finished calls not yet taken by the iteration (gevent's
        name; with ``maxsize`` it holds at most that many results)."""
        return self._messages

    def _feed(self) -> None:
        index = 0
        try:
            for args in self._args:
                if self._sem is not None:
                    self._sem.acquire()
                g = self._spawn(self._func, *args)
                self._running[index] = g
                g.rawlink(_ResultLink(self, index))
                index += 1
        except GreenletExit:
            raise
        except BaseException as exc:
            self._messages.put((_ERROR, (index, exc)))
            return
        self._messages.put((_DONE, index))

    def _on_result(self, index: int, greenlet: Any) -> None:
        self._running.pop(index, None)
        self._messages.put((index, greenlet))

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        while True:
            if self._finished:
                raise StopIteration
            if self._total is not None and self._yielded >= self._total:
                self._finished = True
                err, self._feed_error = self._feed_error, None
                if err is not None:
                    raise err  # the input iterable failed: after every result before it
                raise StopIteration
            g = self._next_finished()
            if g is None:
                continue
            self._yielded += 1
            if self._sem is not None:
                self._sem.release()
            exc_info = g.exc_info
            if exc_info is not None:
                self.close()
                raise exc_info[1].with_traceback(exc_info[2])
            return g.value

    def _next_finished(self) -> Any:
        """The next finished call to yield, or None after a bookkeeping message."""
        index, obj = self._messages.get()
        return self._message(index, obj)

    def _message(self, index: int, obj: Any) -> Any:
        if index == _DONE:
            self._total = obj
            return None
        if index == _ERROR:
            self._total, self._feed_error = obj
            return None
        return obj

    def close(self) -> None:
        """Stop: kill the feeder and the calls still running."""
        self._finished = True
        self._feeder.kill(block=False)
        for g in list(self._running.values()):
            g.kill(block=False)
        self._running.clear()
        self._results.clear()

    def __repr__(self) -> str:
        state = "finished" if self._finished else f"yielded={self._yielded} running={len(self._running)}"
        return f"<{type(self).__name__} at {id(self):#x} {state}>"


class IMap(IMapUnordered):
    """Like IMapUnordered, but yields results in input order."""

    _ordered = True

    def _next_finished(self) -> Any:
        want = self._yielded
        results = self._results
        g = results.pop(want, None)
        if g is not None:
            return g
        while True:
            index, obj = self._messages.get()
            if index == want:
                return obj
            if index >= 0:
                results[index] = obj
            else:
                return self._message(index, obj)


class _ResultLink:
    __slots__ = ("imap", "index")

    def __init__(self, imap: IMapUnordered, index: int) -> None:
        self.imap = imap
        self.index = index

    def __call__(self, greenlet: Any) -> None:
        self.imap._on_result(self.index, greenlet)
