"""Queues between greenlets: the stdlib's ``queue`` module, cooperative.

``Queue``, ``LifoQueue``, ``PriorityQueue`` and ``SimpleQueue`` block the
calling greenlet, never the thread. ``Channel`` is a rendezvous: ``put`` waits
until a ``get`` takes the item.

Differs from the stdlib (and follows gevent):

- ``Queue(maxsize=None)`` is unbounded; ``Queue(0)`` is unbounded too, with a
  ``DeprecationWarning`` (it used to mean a channel: use ``Channel``).
- ``SimpleQueue`` takes ``maxsize`` and has ``peek``; ``Queue`` adds
  ``task_done``/``join`` (with a ``timeout``) and ``shutdown``.
  ``JoinableQueue`` is an alias of ``Queue``.
- ``peek()``/``peek_nowait()`` return the next item without removing it.
- Iterating a queue gets items until one *is* ``StopIteration``.
- Queues are always true (``len()`` is the size).
- Waiting getters and putters are served in arrival order, and a new caller
  does not barge past greenlets already waiting.
- Subclasses cannot override the stdlib's ``_put``/``_get``/``_qsize`` hooks.

``get``/``put`` with a timeout raise ``Empty``/``Full`` (not ``Timeout``);
given a ``Timeout`` object as the timeout (gevent's convention) they start
it and raise it when it fires;
after ``shutdown()`` they raise ``ShutDown`` (Python 3.13 semantics, on
every Python).
"""

from __future__ import annotations

import queue as _std_queue
import reprlib
import types
import threading
import warnings
from collections import deque
from functools import partial
from heapq import heapify, heappop, heappush
from operator import index as _index
from typing import Any, Callable, ClassVar, Iterable, MutableSequence

from greenlet import getcurrent as _getcurrent

from ._core.exceptions import TIMED_OUT, InvalidSwitchError, check_can_block
from ._core.hub import get_hub
from ._core.waiter import Linkable, check_timeout_nonnegative as check_timeout, discard
from ._channel import Channel
from ._queue_wait import IterateByGet as _IterateByGet, park_or_discard as _park, wait_under as _under
from .timeout import Timeout

_get_ident = threading.get_ident   # the real one: patch_thread makes it per-greenlet

__implements__ = ["Queue", "LifoQueue", "PriorityQueue", "SimpleQueue"]
__extensions__ = ["JoinableQueue", "Channel"]
#: The stdlib's exceptions, passed through (``ShutDown`` is ours before 3.13).
__imports__ = ["Empty", "Full"] + (["ShutDown"] if hasattr(_std_queue, "ShutDown") else [])

Empty = _std_queue.Empty
Full = _std_queue.Full

if hasattr(_std_queue, "ShutDown"):
    ShutDown = _std_queue.ShutDown
else:
    class ShutDown(Exception):  # type: ignore[no-redef]
        """Raised by put/get on a queue that was shut down (queue.ShutDown
        of Python 3.13, for older Pythons)."""
    __extensions__.append("ShutDown")

__all__ = __implements__ + __imports__ + __extensions__

_repr = reprlib.Repr()
_repr.maxlist = _repr.maxother = 6


def _check_maxsize(maxsize: Any, warn_depth: int) -> int | None:
    """None or int; <= 0 means unbounded (0 with a warning, like gevent)."""
    if maxsize is None:
        return None
    try:
        size: int = _index(maxsize)
    except TypeError:
        raise TypeError(f"maxsize must be None or an int, got {maxsize!r}") from None
    if size <= 0:
        if size == 0:
            warnings.warn("Queue(0) now equivalent to Queue(None); if you want a channel, use Channel",
                          DeprecationWarning, stacklevel=warn_depth + 1)
        return None
    return size


def _storage_ops(items: Any, peek_index: int) -> tuple[Callable[[Any], None], Callable[[], Any]]:
    """Append and take for a ``queue`` a subclass's ``_init`` put in place."""
    if peek_index == 0 and hasattr(items, "popleft"):
        return items.append, items.popleft
    if peek_index == 0:
        return items.append, partial(items.pop, 0)
    return items.append, items.pop


class SimpleQueue(_IterateByGet):
    """A FIFO queue of items for greenlets, optionally bounded by ``maxsize``.

    Hot path notes: a getter or putter that must wait appends its own raw
    ``switch`` to ``getters``/``putters`` and switches to the hub; the other
    side makes room or adds an item and schedules ``_unlock`` (once, however
    many operations come before it runs), which switches the waiters in
    order while they can proceed. Each woken waiter runs before the next is
    considered, so an item or a free slot is never promised twice, and a
    waiter that times out or is killed just removes its ``switch``.
    """

    __slots__ = ("queue", "_maxsize", "_limit", "getters", "putters", "hub", "_unlock_pending",
                 "is_shutdown", "unfinished_tasks", "_all_done", "_put_item", "_get_item",
                 "_store_put", "_store_get", "_unlock_cb", "_unlock_ident", "__weakref__")

    #: Index of the next item for ``peek`` (-1 for LIFO).
    _peek_index = 0
    _put_item: Callable[[Any], None]     # the hot paths' storage ops (maybe a subclass's _put)
    _get_item: Callable[[], Any]
    _store_put: Callable[[Any], None]    # the storage ops themselves
    _store_get: Callable[[], Any]

    __class_getitem__: ClassVar[Any] = classmethod(types.GenericAlias)

    def __init__(self, maxsize: int | None = None, items: Iterable[Any] = (), _warn_depth: int = 2) -> None:
        self._maxsize = _check_maxsize(maxsize, _warn_depth)
        # The hot paths test one int: -1 unbounded, 0 shut down, > 0 bound.
        self._limit = -1 if self._maxsize is None else self._maxsize
        self.getters: deque[Callable[[Any], Any]] = deque()
        self.putters: deque[Callable[[Any], Any]] = deque()
        self.hub: Any = None
        self._unlock_pending = False
        self.is_shutdown = False
        self.unfinished_tasks = 0
        self._all_done: Any = None
        # The loop's prepared schedule of _unlock, made at the first wakeup:
        # scheduling one then allocates nothing and runs no Python frame (it
        # costs a cycle, so a dropped queue is freed by the gc, not at once).
        self._unlock_cb: Any = None
        self._unlock_ident: int | None = None   # the thread of the hub _unlock_cb schedules in
        self._init(items)
        # The stdlib's bottleneck methods: a subclass that overrides _put or
        # _get gets them called; the base classes keep the bound storage ops.
        cls = type(self)
        try:
            self._store_put, self._store_get = self._put_item, self._get_item
        except AttributeError:  # a subclass's _init set only .queue, stdlib style
            self._store_put, self._store_get = self._put_item, self._get_item = \
                _storage_ops(self.queue, self._peek_index)
        if cls._put is not SimpleQueue._put:
            self._put_item = self._put
        if cls._get is not SimpleQueue._get:
            self._get_item = self._get

    def _init(self, items: Iterable[Any]) -> None:
        q: deque[Any] = deque(items)
        self.queue: MutableSequence[Any] = q
        self._put_item = q.append
        self._get_item = q.popleft

    def _put(self, item: Any) -> None:
        """Store ``item`` (the stdlib's bottleneck method; override to observe)."""
        self._store_put(item)

    def _get(self) -> Any:
        """Take the next item out of storage (the stdlib's bottleneck method)."""
        return self._store_get()

    # -- size --------------------------------------------------------------------

    @property
    def maxsize(self) -> int | None:
        """The bound, or None if unbounded. Raising it wakes waiting putters."""
        return self._maxsize

    @maxsize.setter
    def maxsize(self, value: int | None) -> None:
        self._maxsize = _check_maxsize(value, 2)
        if not self.is_shutdown:
            self._limit = -1 if self._maxsize is None else self._maxsize
        if self.putters:
            self._schedule_unlock()

    def qsize(self) -> int:
        return len(self.queue)

    def __len__(self) -> int:
        return len(self.queue)

    def __bool__(self) -> bool:
        """Always true, as in gevent (use ``empty()`` or ``len()``)."""
        return True

    def empty(self) -> bool:
        return not self.queue

    def full(self) -> bool:
        """True if ``put`` would block (never for an unbounded queue)."""
        m = self._maxsize
        return m is not None and len(self.queue) >= m

    # -- put -----------------------------------------------------------------------

    def put(self, item: Any, block: bool = True, timeout: float | Timeout | None = None) -> None:
        """Add ``item``; if the queue is full, wait up to ``timeout`` seconds
        (forever if None) for room, else raise ``Full``. With ``block=False``
        raise ``Full`` at once. Raises ``ShutDown`` after ``shutdown()``."""
        lim = self._limit
        if (lim < 0 or (len(self.queue) < lim and not self.putters)) and timeout is None:
            self._put_item(item)
            self.unfinished_tasks += 1
            if self.getters and not self._unlock_pending:
                # _schedule_unlock inline (the hot path of a hand-off): a
                # waiting getter has bound the hub, and usually the wakeup.
                if self._unlock_ident == _get_ident():
                    self._unlock_pending = True
                    self._unlock_cb()
                else:
                    self._schedule_unlock()
            return
        self._put_slow(item, block, timeout)

    def put_nowait(self, item: Any) -> None:
        """``put(item, block=False)``: raise ``Full`` instead of waiting."""
        self.put(item, False)

    def _put_slow(self, item: Any, block: bool, timeout: float | Timeout | None) -> None:
        if self.is_shutdown:
            raise ShutDown
        seconds: float | None = None
        if block and timeout is not None:
            if isinstance(timeout, Timeout):
                _under(timeout, self._put_slow, item, True, None)
                return
            seconds = check_timeout(timeout)
        q = self.queue
        lim = self._limit
        putters = self.putters
        if lim < 0 or (len(q) < lim and (not putters or not block)):
            # Room, but others wait for it: only a non-blocking put takes it
            # out of turn (raising Full while not full() would be stranger).
            self._put_item(item)
            self.unfinished_tasks += 1
            if self.getters:
                self._schedule_unlock()
            return
        if not block:
            raise Full
        cur = _getcurrent()
        hub = self.hub
        if hub is None:
            hub = self.hub = get_hub()
        if cur is hub:
            check_can_block(hub, cur)
        sw = cur.switch
        putters.append(sw)
        if len(q) < lim:
            self._schedule_unlock()
        while True:
            result = _park(hub, cur, putters, sw, seconds)
            if result is self:
                if self.is_shutdown:
                    raise ShutDown
                if len(q) < self._limit or self._limit < 0:
                    self._put_item(item)
                    self.unfinished_tasks += 1
                    if self.getters:
                        self._schedule_unlock()
                    return
                putters.appendleft(sw)  # pragma: no cover - the notifier never does this
                continue
            discard(putters, sw)
            if result is TIMED_OUT:
                raise Full
            raise InvalidSwitchError(f"Invalid switch into {cur!r} in put() on {self!r}: got {result!r}")

    # -- get -------------------------------------------------------------------------

    def get(self, block: bool = True, timeout: float | Timeout | None = None) -> Any:
        """Remove and return the next item; if there is none, wait up to
        ``timeout`` seconds (forever if None), else raise ``Empty``. With
        ``block=False`` raise ``Empty`` at once. Raises ``ShutDown`` after
        ``shutdown()`` once the queue is empty."""
        q = self.queue
        if timeout is None:
            if q and not self.getters:
                item = self._get_item()
                if self.putters:
                    self._schedule_unlock()
                return item
            hub = self.hub
            if block and not q and hub is not None and not self.is_shutdown:
                cur = _getcurrent()
                if cur is not hub:
                    # _get_slow's untimed wait, inline (the hot path of a hand-off)
                    getters = self.getters
                    sw = cur.switch
                    getters.append(sw)
                    try:
                        result = hub.switch()
                    except BaseException:
                        discard(getters, sw)
                        raise
                    if result is self and q:
                        item = self._get_item()
                        if self.putters:
                            self._schedule_unlock()
                        return item
                    return self._woken(result, cur, sw, False)
        return self._get_slow(block, timeout, False)

    def get_nowait(self) -> Any:
        """``get(block=False)``: raise ``Empty`` instead of waiting."""
        return self.get(False)

    def peek(self, block: bool = True, timeout: float | Timeout | None = None) -> Any:
        """Like ``get``, but leave the item in the queue."""
        q = self.queue
        if q and not self.getters and timeout is None:
            return q[self._peek_index]
        return self._get_slow(block, timeout, True)

    def peek_nowait(self) -> Any:
        return self.peek(False)

    def _get_slow(self, block: bool, timeout: float | Timeout | None, peek: bool) -> Any:
        seconds: float | None = None
        if block and timeout is not None:
            if isinstance(timeout, Timeout):
                return _under(timeout, self._get_slow, True, None, peek)
            seconds = check_timeout(timeout)
        q = self.queue
        if q and not self.getters:
            return self._take(peek)
        hub = self.hub
        if hub is None:
            hub = self.hub = get_hub()
        cur = _getcurrent()
        if not block or cur is hub or (self.is_shutdown and not q):
            if q:
                # A non-blocking get takes an item even while others wait for
                # it, rather than raise Empty while qsize() > 0; the hub
                # cannot wait at all.
                return self._take(peek)
            if self.is_shutdown:
                raise ShutDown
            if not block:
                raise Empty
            check_can_block(hub, cur)
        getters = self.getters
        sw = cur.switch
        getters.append(sw)
        if q:
            self._schedule_unlock()  # items, but others were first: make sure they are served
        if seconds is None:
            try:
                result = hub.switch()
            except BaseException:
                discard(getters, sw)
                raise
        else:
            result = _park(hub, cur, getters, sw, seconds)
        return self._woken(result, cur, sw, peek, seconds)

    def _woken(self, result: Any, cur: Any, sw: Callable[..., Any], peek: bool,
               seconds: float | None = None) -> Any:
        """The rest of a get() woken with ``result``: the item, or the error."""
        q = self.queue
        getters = self.getters
        while True:
            if result is self:
                if q:
                    if peek:
                        return q[self._peek_index]
                    item = self._get_item()
                    if self.putters:
                        self._schedule_unlock()
                    return item
                if self.is_shutdown:
                    raise ShutDown
                getters.appendleft(sw)  # pragma: no cover - the notifier never does this
                hub = self.hub
                if seconds is None:
                    try:
                        result = hub.switch()
                    except BaseException:
                        discard(getters, sw)
                        raise
                else:
                    result = _park(hub, cur, getters, sw, seconds)
                continue
            discard(getters, sw)
            if result is TIMED_OUT:
                raise Empty
            raise InvalidSwitchError(f"Invalid switch into {cur!r} in get() on {self!r}: got {result!r}")

    def _take(self, peek: bool) -> Any:
        if peek:
            return self.queue[self._peek_index]
        item = self._get_item()
        if self.putters:
            self._schedule_unlock()
        return item

    # -- waking waiters ----------------------------------------------------------------

    def _schedule_unlock(self) -> None:
        if not self._unlock_pending:
            self._unlock_pending = True
            hub = self.hub
            if hub is None:
                hub = self.hub = get_hub()
            if hub.thread_ident == _get_ident():
                schedule = self._unlock_cb
                if schedule is None or self._unlock_ident != hub.thread_ident:
                    schedule = self._unlock_cb = hub.loop.scheduler(self._unlock)
                    self._unlock_ident = hub.thread_ident
                schedule()
            else:  # put() from another OS thread: wake that hub now
                hub.loop.run_callback_threadsafe(self._unlock)

    def _unlock(self) -> None:
        """In the hub: switch waiting getters while there are items, and
        waiting putters while there is room (every waiter after shutdown).
        Wakes at most as many waiters as were waiting when it started, then
        reschedules itself, so busy waiters cannot starve the loop."""
        self._unlock_pending = False
        q = self.queue
        getters = self.getters
        putters = self.putters
        budget = len(getters) + len(putters)
        if budget == 1 and q and getters:
            # One getter waiting (a hand-off): the loop below, unrolled.
            getters.popleft()(self)
            shut = self.is_shutdown
            if ((getters and (q or shut))
                    or (putters and (shut or self._limit < 0 or len(q) < self._limit))):
                self._schedule_unlock()
            return
        while True:
            shut = self.is_shutdown
            if getters and (q or shut):
                if budget <= 0:
                    break
                budget -= 1
                getters.popleft()(self)
            elif putters and (shut or self._limit < 0 or len(q) < self._limit):
                if budget <= 0:
                    break
                budget -= 1
                putters.popleft()(self)
            else:
                return
        self._schedule_unlock()

    # -- copies ----------------------------------------------------------------------

    def copy(self) -> SimpleQueue:
        """A new queue of the same type, maxsize and items (no waiters)."""
        return type(self)(self._maxsize, self.queue)

    def statistics(self) -> dict[str, Any]:
        """Size and waiters, for introspection."""
        return {"qsize": len(self.queue), "maxsize": self._maxsize, "getters": len(self.getters),
                "putters": len(self.putters), "unfinished_tasks": self.unfinished_tasks,
                "shutdown": self.is_shutdown}

    def _format(self) -> str:
        parts = []
        if self._maxsize is not None:
            parts.append(f"maxsize={self._maxsize}")
        if self.queue:
            parts.append(f"queue={_repr.repr(self.queue)}")
        if self.getters:
            parts.append(f"getters[{len(self.getters)}]")
        if self.putters:
            parts.append(f"putters[{len(self.putters)}]")
        if self.is_shutdown:
            parts.append("shutdown")
        return " ".join(parts)

    def __repr__(self) -> str:
        fmt = self._format()
        return f"<{type(self).__name__} at {id(self):#x}{' ' + fmt if fmt else ''}>"


class Queue(SimpleQueue):
    """A SimpleQueue that counts unfinished tasks (``task_done``/``join``)
    and can be shut down, like ``queue.Queue``."""

    __slots__ = ()

    def __init__(self, maxsize: int | None = None, items: Iterable[Any] = (),
                 unfinished_tasks: int | None = None):
        SimpleQueue.__init__(self, maxsize, items, _warn_depth=3)
        self.unfinished_tasks = len(self.queue) if unfinished_tasks is None else unfinished_tasks

    def copy(self) -> Queue:
        return type(self)(self._maxsize, self.queue, self.unfinished_tasks)

    def task_done(self) -> None:
        """Mark one item taken by ``get()`` as processed; ``join()`` returns
        once every item put has been marked. ``ValueError`` if called more
        often than items were put."""
        if self.unfinished_tasks <= 0:
            raise ValueError("task_done() called too many times")
        self.unfinished_tasks -= 1
        if not self.unfinished_tasks:
            done = self._all_done
            if done is not None and done._links:
                done._schedule_notify()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every item put was marked with ``task_done()``. Returns
        False if ``timeout`` passed first."""
        if not self.unfinished_tasks:
            return True
        timeout = check_timeout(timeout)
        done = self._all_done
        if done is None:
            done = self._all_done = _AllTasksDone(self)
        return done._wait(timeout) or not self.unfinished_tasks

    def shutdown(self, immediate: bool = False) -> None:
        """Make ``put`` raise ``ShutDown`` from now on, and ``get`` once the
        queue is empty; wake every waiting getter and putter. With
        ``immediate``, drop the items left (each counts as a ``task_done``)."""
        self.is_shutdown = True
        self._limit = 0  # every put takes the slow path, which raises ShutDown
        if immediate:
            q = self.queue
            while q:
                self._get_item()
                if self.unfinished_tasks > 0:
                    self.unfinished_tasks -= 1
            done = self._all_done
            if done is not None and done._links and not self.unfinished_tasks:
                done._schedule_notify()
        if self.getters or self.putters:
            self._schedule_unlock()

    def _format(self) -> str:
        fmt = SimpleQueue._format(self)
        if self.unfinished_tasks:
            fmt += f" tasks={self.unfinished_tasks}"
        return fmt.strip()


#: gevent's older name; the same class.
JoinableQueue = Queue


class LifoQueue(Queue):
    """A Queue that returns the most recently added item first."""

    __slots__ = ()
    _peek_index = -1

    def _init(self, items: Iterable[Any]) -> None:
        q: deque[Any] = deque(items)
        self.queue = q
        self._put_item = q.append
        self._get_item = q.pop


class PriorityQueue(Queue):
    """A Queue that returns the lowest item first (``heapq`` order);
    ``queue`` is the heap list."""

    __slots__ = ()

    def _init(self, items: Iterable[Any]) -> None:
        q = list(items)
        self.queue = q
        heapify(q)
        self._put_item = partial(heappush, q)
        self._get_item = partial(heappop, q)


class _AllTasksDone(Linkable):
    """What ``Queue.join`` waits on."""

    __slots__ = ("_queue",)

    def __init__(self, queue: Queue) -> None:
        Linkable.__init__(self)
        self._queue = queue

    def ready(self) -> bool:
        return not self._queue.unfinished_tasks
