"""Real OS threads for blocking work, with results handed back to greenlets.

``ThreadPool`` runs functions in worker threads and returns an
``AsyncResult`` that a greenlet waits on cooperatively; ``ThreadPoolExecutor``
is a ``concurrent.futures.ThreadPoolExecutor`` whose futures' ``result()``
waits cooperatively in the hub's thread.

How results come back (the part that makes this fast): a worker appends the
finished task to a deque and pokes the hub through one ``async_`` watcher.
The watcher sends at most one wakeup until the hub has drained the deque, so
a burst of N results costs one eventfd write and one loop callback, not N.
Workers are started lazily and stay warm, each parked on its own lock, so a
hand-off is one lock release.

Rules:

- A pool belongs to the hub (thread) that created it: call ``spawn`` & co.
  from that thread. ``get_default_pool()`` / ``get_hub().threadpool`` give
  each hub its own pool.
- While a task is pending the pool keeps the loop alive (a waiter never gets
  a spurious ``LoopExit``); an idle pool does not.
- Workers are raw ``_thread`` threads using locks captured at import, so
  monkey patching ``threading`` never turns the pool against itself. They do
  not appear in ``threading.enumerate()`` and do not delay interpreter exit.
- Calling ``apply``/``map`` from inside a worker thread runs the function
  inline (a nested hand-off could deadlock a full pool).
- After ``fork()`` the child's pools have no threads; tasks that were running
  in the parent fail in the child with ``RuntimeError``, queued ones run.
"""

from __future__ import annotations

import _thread
import concurrent.futures as _cf
import os as _os
import sys as _sys
import threading as _threading
from collections import deque
from concurrent.futures import _base as _cf_base
from threading import Condition as _Condition
from typing import Any, Callable, Iterable, Iterator
from weakref import WeakSet, ref as _weakref

from greenlet import greenlet as _RawGreenlet

from ._config import config
from ._core.exceptions import InvalidThreadUseError
from ._core.hub import get_hub, set_threadpool_factory
from ._core.waiter import check_timeout
from .event import AsyncResult, Event
from .greenlet import spawn

__all__ = ["ThreadPool", "ThreadResult", "ThreadPoolExecutor", "Future", "get_default_pool",
           "DEFAULT_MAXSIZE"]


class ThreadResult(AsyncResult):
    """What ``ThreadPool.spawn`` returns (gevent's name): an AsyncResult that
    a worker thread fills and the pool's hub delivers."""

    __slots__ = ()

# The originals, whatever monkey patching does later.
_start_new_thread = _thread.start_new_thread
_allocate_lock = _thread.allocate_lock
_RLock = _thread.RLock
_get_ident = _thread.get_ident
_ThreadLocal = _thread._local

#: Size of each hub's default pool: 10 to 32 threads, 5 per CPU.
DEFAULT_MAXSIZE = max(10, min(32, (_os.cpu_count() or 1) * 5))

_worker_local = _ThreadLocal()   # .pool is set in worker threads
_all_pools: WeakSet = WeakSet()
_busy_pools: set = set()        # pools with pending tasks, kept alive until delivered


class _Task:
    """One unit of work; travels hub -> worker -> hub."""

    __slots__ = ("func", "args", "kwargs", "result", "ok", "value")

    def __init__(self, func, args, kwargs, result):
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.result = result
        self.ok = False
        self.value = None


class ThreadPool:
    """A pool of at most ``maxsize`` worker threads bound to ``hub`` (default:
    the current thread's hub). ``spawn(func, *args)`` returns an AsyncResult."""

    #: The greenlet class a worker thread runs its tasks in (set below).
    _WorkerGreenlet: type[_WorkerGreenlet]

    def __init__(self, maxsize: int, hub=None):
        self._maxsize = _check_size("maxsize", maxsize)
        self.hub = get_hub() if hub is None else hub
        self._mutex = _allocate_lock()
        self._tasks: deque = deque()   # queued, not started (guarded by _mutex)
        self._idle: list = []          # wake locks of parked workers (guarded by _mutex)
        self._nthreads = 0             # live worker threads (guarded by _mutex)
        self._trim = 0                 # workers asked to exit (guarded by _mutex)
        self._gen = 0                  # bumped by kill(): older workers exit
        self._leaving = 0              # workers of an older generation, not yet exited (_mutex)
        self._closing = False          # workers exit once the queue is empty
        self._done: deque = deque()    # finished tasks, drained by the hub
        self._pending: set = set()     # submitted, not yet delivered (hub thread only)
        self._idle_event = Event()
        self._idle_event.set()
        self._watcher = self.hub.loop.async_()
        self._send = self._watcher.send
        _all_pools.add(self)

    # -- size ------------------------------------------------------------------

    @property
    def maxsize(self) -> int:
        """Most threads the pool may run; settable (shrinking lets extra
        threads finish their task and exit)."""
        return self._maxsize

    @maxsize.setter
    def maxsize(self, value: int) -> None:
        value = _check_size("maxsize", value)
        with self._mutex:
            self._maxsize = value
            self._wake_all_idle()
            self._start_for_queue()

    @property
    def size(self) -> int:
        """Worker threads alive now. Setting it starts or stops threads
        (0 <= size <= maxsize)."""
        return self._nthreads - self._trim

    @size.setter
    def size(self, value: int) -> None:
        value = _check_size("size", value)
        if value > self._maxsize:
            raise ValueError(f"size must be <= maxsize ({self._maxsize}), got {value}")
        with self._mutex:
            current = self._nthreads - self._trim
            if value > current:
                for _ in range(value - current):
                    self._start_thread()
            elif value < current:
                self._trim += current - value
                self._wake_all_idle()

    def adjust(self) -> None:
        """Start threads for queued tasks, up to ``maxsize``."""
        with self._mutex:
            self._start_for_queue()

    def __len__(self) -> int:
        """Tasks submitted and not yet delivered."""
        return len(self._pending)

    def free_count(self) -> int:
        """How many more tasks could start right now without queueing."""
        return max(0, self._maxsize - len(self._pending))

    def statistics(self) -> dict:
        return {"maxsize": self._maxsize, "threads": self.size, "idle_threads": len(self._idle),
                "queued": len(self._tasks), "pending": len(self._pending)}

    # -- submitting ------------------------------------------------------------------

    def spawn(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> AsyncResult:
        """Run ``func(*args, **kwargs)`` in a worker thread; the returned
        AsyncResult gets its value or exception."""
        if not callable(func):
            raise TypeError(f"spawn() expected a callable, got {func!r}")
        result = ThreadResult()
        result.hub = self.hub
        self._submit(func, args, kwargs, result)
        return result

    def _submit(self, func, args, kwargs, result) -> None:
        if _get_ident() != self.hub.thread_ident:
            raise InvalidThreadUseError(
                f"{self!r} belongs to the hub of thread {self.hub.thread_ident}; submit work from that "
                f"thread, or use get_hub().threadpool in this one")
        if self._closing:
            raise RuntimeError(f"{self!r} is shut down; it takes no new work")
        task = _Task(func, args, kwargs, result)
        pending = self._pending
        if not pending:
            self._watcher.start(self._deliver)
            self._idle_event.clear()
            _busy_pools.add(self)   # results must arrive even if the caller drops the pool
        pending.add(task)
        with self._mutex:
            self._tasks.append(task)
            if self._idle:
                self._idle.pop().release()
            elif self._nthreads - self._trim < self._maxsize:
                self._start_thread()

    def apply(self, func: Callable[..., Any], args: Iterable[Any] = (), kwds: dict | None = None) -> Any:
        """Run ``func(*args, **kwds)`` in a thread and wait for its result
        (inline if already in a worker thread)."""
        if getattr(_worker_local, "pool", None) is not None:
            return func(*args, **(kwds or {}))
        return self.spawn(func, *args, **(kwds or {})).get()

    def apply_async(self, func: Callable[..., Any], args: Iterable[Any] = (), kwds: dict | None = None,
                    callback: Callable[[Any], Any] | None = None) -> AsyncResult:
        """Like ``spawn``; ``callback(value)`` then runs in a new greenlet on success."""
        result = self.spawn(func, *args, **(kwds or {}))
        if callback is not None:
            if not callable(callback):
                raise TypeError(f"callback must be callable, got {callback!r}")

            def on_done(r, callback=callback):
                if r.successful():
                    spawn(callback, r.value)
            result.rawlink(on_done)
        return result

    def apply_cb(self, func: Callable[..., Any], args: Iterable[Any] | None = None,
                 kwds: dict | None = None, callback: Callable[[Any], Any] | None = None) -> Any:
        """``apply(func, args, kwds)``, then ``callback(result)`` in this
        greenlet; returns the result (gevent's ``apply_cb``)."""
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        result = self.apply(func, args or (), kwds)
        if callback is not None:
            callback(result)
        return result

    def map_async(self, func: Callable[..., Any], iterable: Iterable[Any],
                  callback: Callable[[Any], Any] | None = None) -> Any:
        """A Greenlet computing ``map(func, iterable)`` in threads; its value is
        the list, and ``callback(list)`` runs when it succeeds."""
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        g = spawn(self.map, func, iterable)
        if callback is not None:
            g.link_value(lambda done: callback(done.value))
        return g

    def map(self, func: Callable[..., Any], *iterables: Iterable[Any]) -> list:
        """``list(map(func, *iterables))`` with the calls run in threads."""
        return list(self.imap(func, *iterables))

    def imap(self, func: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
        """Results in input order; all calls are submitted at once."""
        if getattr(_worker_local, "pool", None) is not None:
            return map(func, *iterables)
        results = [self.spawn(func, *a) for a in zip(*iterables)]
        return (r.get() for r in results)

    def imap_unordered(self, func: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
        """Results as they complete; a failed call raises when its turn comes."""
        if getattr(_worker_local, "pool", None) is not None:
            return map(func, *iterables)
        done: deque = deque()
        ready = Event()

        def collect(r):
            done.append(r)
            ready.set()

        results = [self.spawn(func, *a) for a in zip(*iterables)]
        for r in results:
            r.rawlink(collect)
        return _unordered(done, ready, len(results))

    # -- waiting and stopping --------------------------------------------------------

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every submitted task is delivered; False on timeout."""
        check_timeout(timeout)
        return self._idle_event.wait(timeout)

    def kill(self) -> None:
        """Stop all threads once the work already given is done, as gevent's
        ``kill()``: running and queued tasks still run and their results are
        delivered; then the threads exit. Does not wait. The pool stays
        usable: new work starts new threads."""
        self._kill(drop_queued=False)

    def _kill_dropping_queued(self) -> None:
        """``kill()`` for a hub being destroyed: queued tasks are not started
        (their results get a RuntimeError); running ones finish."""
        self._kill(drop_queued=True)

    def _kill(self, drop_queued: bool) -> None:
        with self._mutex:
            dropped = list(self._tasks) if drop_queued else []
            if drop_queued:
                self._tasks.clear()
            self._gen += 1
            # The killed threads no longer count: work submitted from now on
            # starts new ones at once (before, it could queue behind a thread
            # that was about to exit and never run). One still finishing its
            # task exits after it, outside maxsize.
            self._leaving += self._nthreads
            self._nthreads = 0
            self._trim = 0
            self._wake_all_idle()
        if dropped:
            self._fail(dropped, "the thread pool was killed before this task started")

    def _close_when_idle(self) -> None:
        """No new work; threads exit once the queue is empty."""
        with self._mutex:
            self._closing = True
            self._wake_all_idle()

    def _fail(self, tasks, message) -> None:
        for task in tasks:
            task.value = RuntimeError(message)
            task.ok = False
            self._deliver_one(task)
        self._check_idle()

    def _reset_after_fork(self) -> None:
        # In the child: the parent's threads are gone and may have held the mutex.
        self._mutex = _allocate_lock()
        self._idle = []
        self._nthreads = self._trim = self._leaving = 0
        self._gen += 1
        waiting = set(self._tasks)
        waiting.update(self._done)
        lost = [t for t in self._pending if t not in waiting]
        if self._done:
            self._send()
        self._fail(lost, "this task was running in a thread of the parent process when it forked")
        if self._tasks:
            self._start_for_queue()

    def __del__(self):
        # Only reached when no task is pending (the loop's watcher holds the
        # pool until then): let parked threads exit instead of leaking.
        try:
            self._closing = True
            with self._mutex:
                self._wake_all_idle()
        except Exception:
            pass

    def __repr__(self):
        return (f"<{type(self).__name__} at {id(self):#x} maxsize={self._maxsize} threads={self.size} "
                f"pending={len(self._pending)}>")

    # -- the hub side ----------------------------------------------------------------

    def _deliver(self) -> None:
        # Runs in the hub, once per batch of finished tasks.
        done = self._done
        pop = done.popleft
        deliver = self._deliver_one
        while done:
            deliver(pop())
        self._check_idle()

    def _deliver_one(self, task) -> None:
        self._pending.discard(task)
        result = task.result
        value = task.value
        task.value = task.args = task.kwargs = None
        if task.ok:
            result.set(value)
        else:
            result.set_exception(value)

    def _check_idle(self) -> None:
        if not self._pending:
            self._watcher.stop()
            self._idle_event.set()
            _busy_pools.discard(self)

    # -- the worker side (under _mutex unless noted) --------------------------------

    def _start_thread(self) -> None:
        self._nthreads += 1
        try:
            _start_new_thread(_worker, (_weakref(self), self._gen, self._WorkerGreenlet))
        except BaseException:
            self._nthreads -= 1
            raise

    def _start_for_queue(self) -> None:
        want = min(len(self._tasks) - len(self._idle), self._maxsize - (self._nthreads - self._trim))
        for _ in range(max(0, want)):
            self._start_thread()

    def _wake_all_idle(self) -> None:
        idle = self._idle
        while idle:
            idle.pop().release()


_get_thread_profile = _threading.getprofile   # the hooks threading.set* gives new threads
_get_thread_trace = _threading.gettrace


class _WorkerGreenlet(_RawGreenlet):  # type: ignore[misc]  # greenlet ships no stubs for subclassing
    """The greenlet a worker thread runs tasks in, as in gevent (a pool's
    ``_WorkerGreenlet`` may be a subclass). Raw threads miss
    ``threading.setprofile``/``settrace``: ``_before_run_task`` installs them
    per task, ``_after_run_task`` clears them; neither calls ``sys.set*``
    needlessly (each call is an audit event)."""

    def __init__(self, threadpool: ThreadPool) -> None:
        _RawGreenlet.__init__(self)
        self._thread_ident = _get_ident()
        self._hub = threadpool.hub
        self._stderr = _sys.stderr

    def run(self, pool_ref: Any, gen: int) -> None:
        _worker_loop(self, pool_ref, gen)

    def _before_run_task(self, func: Any, *args: Any, _sys: Any = _sys,
                         _get_thread_profile: Callable[[], Any] = _get_thread_profile,
                         _get_thread_trace: Callable[[], Any] = _get_thread_trace) -> None:
        profile = _get_thread_profile()
        if profile is not None:
            _sys.setprofile(profile)
        trace = _get_thread_trace()
        if trace is not None:
            _sys.settrace(trace)

    def _after_run_task(self, func: Any, *args: Any, _sys: Any = _sys) -> None:
        if _sys.getprofile() is not None:
            _sys.setprofile(None)
        if _sys.gettrace() is not None:
            _sys.settrace(None)

    def __repr__(self) -> str:
        return (f"<ThreadPoolWorker at {id(self):#x} thread_ident={self._thread_ident:#x} "
                f"threadpool-hub={self._hub!r}>")


ThreadPool._WorkerGreenlet = _WorkerGreenlet


def _worker(pool_ref, gen, worker_class) -> None:
    """A worker thread's main function: it runs the loop in a
    ``worker_class`` greenlet (the pool's ``_WorkerGreenlet``)."""
    pool = pool_ref()
    if pool is None:
        return
    try:
        g = worker_class(pool)
    except BaseException as exc:
        with pool._mutex:
            pool._nthreads -= 1
        print(f"coopshell.threadpool: could not start a worker of {pool!r}: {exc!r}",
              file=_sys.stderr)
        return
    pool = None
    g.switch(pool_ref, gen)


def _worker_loop(g, pool_ref, gen) -> None:
    """The loop of a worker greenlet ``g``. It holds its pool only weakly (and
    never while parked), so a pool nobody references is collected and its
    ``__del__`` sends the parked threads home."""
    _worker_local.pool = True
    wake = _allocate_lock()
    wake.acquire()
    while True:
        pool = pool_ref()
        if pool is None:
            return
        with pool._mutex:
            if gen != pool._gen:          # killed (kill() moved it to _leaving)
                if not pool._tasks:       # ...once the queue is drained
                    pool._leaving -= 1
                    return
                task = pool._tasks.popleft()
            elif pool._trim > 0 or pool._nthreads > pool._maxsize:
                if pool._trim > 0:
                    pool._trim -= 1
                pool._nthreads -= 1
                return
            elif pool._tasks:
                task = pool._tasks.popleft()
            elif pool._closing:
                pool._nthreads -= 1
                return
            else:
                pool._idle.append(wake)
                task = None
        done, send = pool._done, pool._send
        pool = None
        if task is None:
            wake.acquire()
            continue
        func, args, kwargs = task.func, task.args, task.kwargs
        try:
            # A failing _before_run_task fails this task (its caller gets the
            # error); the worker stays, so no slot is lost (gevent issue 2207).
            g._before_run_task(func, args, kwargs, task.result)
            try:
                task.value = func(*args, **kwargs)
                task.ok = True
            finally:
                g._after_run_task(func, args, kwargs, task.result)
        except BaseException as exc:  # delivered to the waiter, never printed here
            task.value = exc
            task.ok = False
        func = args = kwargs = None
        done.append(task)
        task = None
        send()


def _unordered(done, ready, n):
    while n:
        while not done:
            ready.clear()
            ready.wait()
        n -= 1
        yield done.popleft().get()


def _check_size(name, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    # maxsize=0 is gevent's "no threads yet": work queues until it is raised.
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def get_default_pool(hub=None) -> ThreadPool:
    """The hub's default pool (``coopshell.config.threadpool_size`` threads,
    default ``DEFAULT_MAXSIZE``), made on first use;
    ``Hub.threadpool`` returns the same object."""
    if hub is None:
        hub = get_hub()
    pool = hub._threadpool
    if pool is None:
        pool = hub._threadpool = ThreadPool(config.threadpool_size or DEFAULT_MAXSIZE, hub)
    return pool


set_threadpool_factory(get_default_pool)


def in_worker_thread() -> bool:
    """True in a thread-pool worker thread (where blocking is fine)."""
    return getattr(_worker_local, "pool", None) is not None


# -- concurrent.futures --------------------------------------------------------------

class Future(_cf.Future):
    """A ``concurrent.futures.Future`` whose ``result()`` and ``exception()``
    wait cooperatively when called in its pool's hub thread (and block
    normally in any other thread). Done callbacks run in the worker thread,
    as with the stdlib."""

    def __init__(self, hub=None):
        super().__init__()
        # The original lock type: a patched threading must not reach workers.
        self._condition = _Condition(_RLock())
        self._hub = get_hub() if hub is None else hub
        self._done_event = AsyncResult()
        self._done_event.hub = self._hub
        self._links_map: dict[Any, Callable[[Any], None]] = {}

    def _coop_wait(self, timeout):
        if self._state in _FINAL_STATES or _get_ident() != self._hub.thread_ident:
            return timeout
        if timeout is not None and timeout < 0:
            timeout = 0
        self._done_event.wait(timeout)
        return 0

    def result(self, timeout: float | None = None) -> Any:
        return super().result(self._coop_wait(timeout))

    def rawlink(self, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(self)`` in the hub once the future is done, so
        ``coopshell.wait()``/``iwait()`` accept futures (as gevent's do)."""
        if not callable(callback):
            raise TypeError(f"Expected callable: {callback!r}")
        links = self._links_map
        wrapper = links.get(callback)
        if wrapper is None:
            def wrapper(_event: Any, callback: Callable[[Any], Any] = callback) -> None:
                callback(self)
            links[callback] = wrapper
        self._done_event.rawlink(wrapper)

    def unlink(self, callback: Callable[[Any], Any]) -> None:
        wrapper = self._links_map.pop(callback, None)
        if wrapper is not None:
            self._done_event.unlink(wrapper)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return super().exception(self._coop_wait(timeout))

    def cancel(self) -> bool:
        cancelled = super().cancel()
        if cancelled:
            if _get_ident() == self._hub.thread_ident:
                self._done_event.set()
            else:
                self._hub.loop.run_callback_threadsafe(self._done_event.set)
        return cancelled


_FINAL_STATES = (_cf_base.CANCELLED, _cf_base.CANCELLED_AND_NOTIFIED, _cf_base.FINISHED)


class ThreadPoolExecutor(_cf.ThreadPoolExecutor):
    """``concurrent.futures.ThreadPoolExecutor`` on a coopshell ThreadPool.

    Differs from the stdlib: ``submit`` must be called from the thread whose
    hub owns the executor (the creating thread); ``Future.result()`` there
    waits cooperatively, and ``shutdown(wait=True)`` too. The module-level
    ``concurrent.futures.wait``/``as_completed`` still block the calling
    thread (they never deadlock: workers complete futures themselves).
    """

    def __init__(self, max_workers: int | None = None, thread_name_prefix: str = "",
                 initializer: Callable[..., Any] | None = None, initargs: tuple = ()):
        super().__init__(max_workers, thread_name_prefix, initializer, initargs)
        self._pool = ThreadPool(self._max_workers)
        self._coop_shutdown = False
        self._initialized = _ThreadLocal()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._broken:
            raise _cf.thread.BrokenThreadPool(self._broken)
        if self._coop_shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        if not callable(fn):
            raise TypeError(f"submit() expected a callable, got {fn!r}")
        fut = Future(self._pool.hub)
        self._pool._submit(self._run, (fut, fn, args, kwargs), {}, fut._done_event)
        return fut

    def _run(self, fut, fn, args, kwargs):
        # In a worker thread.
        if self._initializer is not None and not getattr(self._initialized, "done", False):
            try:
                self._initializer(*self._initargs)
            except BaseException:
                self._broken = "A thread initializer failed, the thread pool is not usable anymore"
            self._initialized.done = True
        if self._broken:
            if fut.set_running_or_notify_cancel():
                fut.set_exception(_cf.thread.BrokenThreadPool(self._broken))
            return
        if not fut.set_running_or_notify_cancel():
            return
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._coop_shutdown = True
        pool = self._pool
        if cancel_futures:
            with pool._mutex:
                dropped = list(pool._tasks)
                pool._tasks.clear()
            for task in dropped:
                task.args[0].cancel()
                task.ok, task.value = True, None
                pool._deliver_one(task)
            pool._check_idle()
        pool._close_when_idle()
        if wait and _get_ident() == pool.hub.thread_ident:
            pool.join()

    def kill(self, wait: bool = True) -> None:
        """gevent's ``kill``: shut down, cancel what has not started, and stop
        the threads; with ``wait``, wait for running calls to finish."""
        self.shutdown(wait=False, cancel_futures=True)
        self._pool.kill()
        if wait and _get_ident() == self._pool.hub.thread_ident:
            self._pool.join()

    def __repr__(self):
        return f"<{type(self).__name__} at {id(self):#x} max_workers={self._max_workers} {self._pool!r}>"


def _after_fork_in_child():
    for pool in list(_all_pools):
        pool._reset_after_fork()


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_after_fork_in_child)
