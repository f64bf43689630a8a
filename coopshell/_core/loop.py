"""The event loop: ready callbacks, timers, I/O readiness, thread-safe wakeup.

One loop per thread, pure Python on ``select.epoll`` (any ``selectors`` class
elsewhere). The hub greenlet drives it; nothing here switches greenlets by
itself: a callback that is a greenlet's ``switch`` does that.

This module is the only one that writes loop state. Everything else comes in
through the doors: ``schedule``/``schedule_first``/``unschedule``,
``scheduler`` (a prepared, frame-free ``schedule`` for hot paths),
``add_timer`` (a :class:`~._timers.TimerHandle` with ``pending``, ``when``
and ``cancel()``), ``run_callback``/``run_callback_threadsafe``,
``has_pending_work``, ``next_deadline`` and ``statistics``. The timer heap is
``_timers.Timers``; the fd records, the poll backend and ``IOWatcher`` are in
``_poll``; the other watchers in ``watchers``.

Design notes, because this is the hottest code in the project:

- Ready callbacks are ``(func, args)`` tuples in a deque. The loop drains it,
  including callbacks added while draining, and breaks out to run timers as
  soon as one is due and to poll I/O once ``_MAX_RUN`` seconds have passed;
  the clock is read after a stride of callbacks that grows while they are
  fast and shrinks to one when they are slow. So ``sleep(0)`` ping-pong
  costs no system call per switch and one clock read per 16, while neither
  I/O nor timers starve, not even behind a greenlet that blocks and yields.
- While ``run()`` runs, full garbage collections wait for idle moments
  (``_gc``): a 100 ms pause with 100k greenlets alive would make every timer
  due meanwhile that late.
- ``set_poll_hooks`` is the observer door of the blocked-hub detector.
- ``run_callback_threadsafe`` appends to a second deque and writes an eventfd
  only when no wakeup is already pending. It is also what a signal handler
  uses, so it must stay correct when it interrupts itself.
- The poll fd (``fileno()``) is readable whenever the loop has I/O to
  dispatch, so a host loop (asyncio, a prompt's input hook) can watch it.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from functools import partial
from time import monotonic

from . import _gc
from ._poll import READ, WRITE, IOWatcher, Poller
from ._timers import TimerHandle, Timers
from .watchers import (AsyncWatcher, Callback, IdleWatcher, PrepareWatcher, SignalWatcher, TimerWatcher,
                       Watcher)

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: ``typing`` costs ~9 ms of a cold import
    from typing import Any, Callable, Optional, Tuple

    #: ``(enter_idle, leave_idle)`` or None: see ``Loop.set_poll_hooks``.
    PollHooks = Optional[Tuple[Callable[[], None], Callable[[], None]]]
    from collections import deque
else:   # the same type, without importing the Python half of collections
    from _collections import deque

__all__ = ["Loop", "READ", "WRITE", "Callback", "TimerHandle", "Watcher", "IOWatcher", "TimerWatcher",
           "AsyncWatcher", "SignalWatcher", "IdleWatcher", "PrepareWatcher"]

_CHECK_EVERY = 16      # most callbacks between two clock reads while draining
_FAST_STRIDE = 0.0005  # a stride of callbacks faster than this doubles the next one
_IO_AFTER = 64         # callbacks a drain runs at least before it yields to I/O
_MAX_RUN = 0.005       # seconds of callbacks before I/O and timers get a turn

# Captured once, so monkey patching never turns the loop against itself.
_os_read = os.read
_os_write = os.write
_os_close = os.close
_get_ident = threading.get_ident
_gc_count = gc.get_count

_WAKE = b"\x01\x00\x00\x00\x00\x00\x00\x00"


class Loop:
    """An event loop. Create one per thread; the hub owns it."""

    #: ``add_timer(delay, func, *args, ref=True) -> TimerHandle``: run
    #: ``func(*args)`` after ``delay`` seconds (at once if <= 0); ``ref=False``
    #: does not keep the loop alive. Bound to ``Timers.add`` per instance, so
    #: the door costs no extra call.
    add_timer: Callable[..., TimerHandle]

    def __init__(self) -> None:
        self._ready: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._threadsafe: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._timers = Timers()
        self.add_timer = self._timers.add
        self._io = Poller()
        self._refs = 0            # active watchers that keep the loop alive
        self._wake_pending = False
        self._stopping = False
        self._closed = False
        self.nowait = False       # run() returns instead of blocking (Hub.run_nowait)
        self._prepare: list[Callable[[], None]] = []        # callables run before every poll
        self._poll_hooks: PollHooks = None                  # set_poll_hooks
        self._signal_watchers: dict[int, list[Any]] = {}
        self.thread_ident = _get_ident()
        self._open_wakeup()

    # -- setup and teardown ---------------------------------------------------

    def _open_wakeup(self) -> None:
        if hasattr(os, "eventfd"):
            self._wake_r = self._wake_w = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
        self._io.register_wakeup(self._wake_r)

    def fileno(self) -> int:
        """The poll fd: readable when the loop has I/O to dispatch."""
        return self._io.fileno()

    def reinit(self) -> None:
        """Rebuild kernel objects after ``fork()``: a new poller and wakeup fd,
        every watched fd registered again."""
        old_fds = {self._wake_r, self._wake_w}
        old = self._io.reopen()
        self._open_wakeup()
        try:
            old.close()
        except OSError:
            pass
        for fd in old_fds:
            try:
                _os_close(fd)
            except OSError:
                pass
        self._wake_pending = False
        self.thread_ident = _get_ident()

    def destroy(self) -> None:
        """Close the poller and the wakeup fd. The loop is unusable afterwards."""
        if self._closed:
            return
        self._closed = True
        # Never write the wakeup fd again: its number may be reused by then.
        self._wake_pending = True
        for watchers in list(self._signal_watchers.values()):
            for w in list(watchers[1:]):
                w.stop()
        self._io.close()
        for fd in {self._wake_r, self._wake_w}:
            try:
                _os_close(fd)
            except OSError:
                pass
        self._ready.clear()
        self._timers.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the doors: callbacks --------------------------------------------------

    def schedule(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` soon, in the hub, in FIFO order (no handle)."""
        self._ready.append((func, args))

    def schedule_first(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` before everything already scheduled."""
        self._ready.appendleft((func, args))

    def scheduler(self, func: Callable[..., Any], *args: Any) -> Callable[[], None]:
        """A callable that does ``schedule(func, *args)`` each time it is called.

        For hot paths that schedule the same callback again and again (a
        queue's wakeup): calling it runs no Python frame and allocates
        nothing, where ``schedule`` costs a method call and a tuple. Only
        from the loop's own thread, like ``schedule``.
        """
        return partial(self._ready.append, (func, args))

    def unschedule(self, func: Callable[..., Any], *args: Any) -> bool:
        """Take back a ``schedule(func, *args)`` that has not run; True if it was queued."""
        try:
            self._ready.remove((func, args))
        except ValueError:
            return False
        return True

    def run_callback(self, func: Callable[..., Any], *args: Any) -> Callback:
        """Run ``func(*args)`` soon, in the hub, in FIFO order; the handle can stop it."""
        cb = Callback(func, args)
        self._ready.append((cb._run, ()))
        return cb

    def run_callback_threadsafe(self, func: Callable[..., Any], *args: Any) -> None:
        """Like ``schedule``, callable from any thread or signal handler."""
        self._threadsafe.append((func, args))
        if not self._wake_pending:
            self._wake_pending = True
            try:
                _os_write(self._wake_w, _WAKE)
            except OSError:  # full pipe or closed loop: a wakeup is pending anyway
                pass

    def has_pending_work(self) -> bool:
        """True when callbacks, cross-thread callbacks or fd changes wait for a pass."""
        return bool(self._ready or self._threadsafe or self._io.dirty)

    def has_ready_callbacks(self) -> bool:
        """True when callbacks (local or cross-thread) wait to run."""
        return bool(self._ready or self._threadsafe)

    def next_deadline(self) -> float | None:
        """Monotonic time of the next live timer, or None."""
        return self._timers.next_deadline()

    def statistics(self) -> dict[str, int]:
        """Counts for ``%greenlets`` and the watchdog."""
        return {"ready": len(self._ready), "threadsafe": len(self._threadsafe),
                "timers": len(self._timers), "fds": len(self._io.fds),
                "refs": self._refs + self._timers.refs}

    def closing_fd(self, fd: int) -> None:
        """Forget ``fd``'s registration now, before its owner closes it."""
        self._io.closing_fd(fd)

    def now(self) -> float:
        return monotonic()

    def update_now(self) -> None:
        """Kept for gevent compatibility; this loop reads the clock directly."""

    def _drain_wakeup(self) -> None:
        # Clear the flag before draining: a thread that appends after the
        # drain sees it clear and writes a new wakeup.
        self._wake_pending = False
        try:
            _os_read(self._wake_r, 8)
        except OSError:
            pass
        ts = self._threadsafe
        append = self._ready.append
        pop = ts.popleft
        while ts:
            append(pop())

    # -- running ---------------------------------------------------------------

    def has_work(self) -> bool:
        """True while something could still wake a waiter: queued callbacks,
        or active watchers and timers that hold a reference."""
        return bool(self._ready or self._threadsafe or self._refs > 0 or self._timers.refs > 0)

    def run(self) -> None:
        """Run until no callbacks are queued and no referencing watcher or
        timer is active, or ``stop()`` is called. With ``nowait`` set, return
        as soon as nothing is ready instead of blocking.

        While it runs, full garbage collections wait for the loop's idle
        moments (``_gc``); the thresholds are restored when it returns."""
        self._stopping = False
        _gc.enter()
        try:
            self._run()
        finally:
            _gc.leave()
            self._stopping = False

    def _run(self) -> None:
        ready = self._ready
        timers = self._timers
        io = self._io
        gc_count = _gc_count
        polled = False
        spins = 0
        while not self._stopping:
            if ready or self._threadsafe:
                if self._run_ready():
                    break
            if timers:
                timers.expire(self.handle_error)
            if self._prepare:
                for func in self._prepare:
                    func()
            if io.dirty:
                io.apply_dirty(self.handle_error)
            if ready or self._threadsafe:
                if self.nowait:
                    # A bounded pass: a greenlet spinning on sleep(0) must not
                    # keep a host loop (the asyncio bridge) out for ever.
                    spins += 1
                    if spins > 2:
                        break
                self._poll(0)
                polled = True
                continue
            if self.nowait:
                if polled:
                    break
                self._poll(0)
                polled = True
                continue
            if (self._refs <= 0 and timers.refs <= 0) or self._stopping:
                break
            deadline = timers.next_deadline()
            gap = None if deadline is None else deadline - monotonic()
            if gc_count()[2] >= _gc.full_due and _gc.collect_if_idle(gap):
                continue   # finalizers may have scheduled callbacks: look again
            if gap is None:
                self._poll(-1)
            else:
                self._poll(gap if gap > 0 else 0)

    def stop(self) -> None:
        """Make ``run()`` return after the current callback."""
        self._stopping = True

    def _run_ready(self) -> bool:
        """Run ready callbacks until none is left, a timer is due, or
        ``_MAX_RUN`` has passed and at least ``_IO_AFTER`` callbacks ran
        (as before: a burst of spawns starts before I/O is polled). Returns
        True if ``stop()`` was called.

        The clock is read after the first callback, then after a stride of
        callbacks that doubles (up to ``_CHECK_EVERY``) while they are fast
        (the last stride took under ``_FAST_STRIDE`` seconds) and falls back
        to 1 when they are not. Fast callbacks (a ``sleep(0)`` ping-pong) cost
        a clock read per 16 of them; a greenlet that blocks the thread and
        then yields is followed by a read every time, so a due timer runs
        right after it. Never a clock read per fast callback. The price: right
        after a burst of fast callbacks, up to ``_CHECK_EVERY`` slow ones may
        run before the clock notices.
        """
        ready = self._ready
        popleft = ready.popleft
        if self._threadsafe:
            self._drain_wakeup()
        heap = self._timers.heap
        stride = left = 1
        ran = 0              # callbacks run before the last clock read
        last = deadline = 0.0
        while ready:
            func, args = popleft()
            try:
                func(*args)
            except BaseException:
                self.handle_error(func, *sys.exc_info())
            left -= 1
            if left:
                continue
            if self._stopping:
                break
            now = monotonic()
            if heap and heap[0][0] <= now:
                break    # a timer is due (or a cancelled entry to drop)
            ran += stride
            if not deadline:
                deadline = now + _MAX_RUN
            elif now > deadline and ran >= _IO_AFTER:
                break    # I/O's turn (a short burst, e.g. spawns, finishes first)
            if now - last < _FAST_STRIDE:
                if stride < _CHECK_EVERY:
                    stride += stride
            else:
                stride = 1
            last = now
            left = stride
        return self._stopping

    # -- the poll, and its observer door -----------------------------------------

    def set_poll_hooks(self, enter_idle: Callable[[], None] | None,
                       leave_idle: Callable[[], None] | None) -> PollHooks:
        """Watch this loop's polls (the blocked-hub detector does).

        ``enter_idle()`` runs just before the loop blocks in its poll (any
        timeout but 0), ``leave_idle()`` after every poll returns, the
        non-blocking ones between callbacks included, so "polled lately"
        means "not stuck in one callback". Both None removes the hooks.
        Returns the previous pair, to restore. Costs one attribute test per
        poll while unset, nothing per callback or switch.
        """
        if (enter_idle is None) != (leave_idle is None):
            raise TypeError("set_poll_hooks() takes two callables or two Nones, got "
                            f"{enter_idle!r} and {leave_idle!r}")
        for hook in (enter_idle, leave_idle):
            if hook is not None and not callable(hook):
                raise TypeError(f"set_poll_hooks() expected a callable, got {hook!r}")
        previous = self._poll_hooks
        if enter_idle is None or leave_idle is None:
            self._poll_hooks = None
        else:
            self._poll_hooks = (enter_idle, leave_idle)
        return previous

    @property
    def poll_hooks(self) -> PollHooks:
        """The ``(enter_idle, leave_idle)`` pair set by ``set_poll_hooks``, or None."""
        return self._poll_hooks

    def _poll(self, timeout: float) -> None:
        io = self._io
        hooks = self._poll_hooks
        if hooks is None:
            events = io.backend.poll(timeout)
        else:
            if timeout != 0:
                hooks[0]()
            try:
                events = io.backend.poll(timeout)
            finally:
                hooks[1]()
        if events:
            io.dispatch(events, self._wake_r, self._drain_wakeup, self.handle_error)

    def handle_error(self, context: Any, type: Any, value: Any, tb: Any) -> None:
        """Called for an exception escaping a callback; the hub replaces it."""
        import traceback
        traceback.print_exception(type, value, tb)

    # -- watchers (gevent's loop API) ------------------------------------------

    def io(self, fd: int, events: int, ref: bool = True, priority: Any = None) -> IOWatcher:
        return IOWatcher(self, fd, events, ref)

    def timer(self, after: float = 0.0, repeat: float = 0.0, ref: bool = True,
              priority: Any = None) -> TimerWatcher:
        return TimerWatcher(self, after, repeat, ref)

    def async_(self, ref: bool = True, priority: Any = None) -> AsyncWatcher:
        return AsyncWatcher(self, ref)

    def signal(self, signum: int, ref: bool = False, priority: Any = None) -> SignalWatcher:
        return SignalWatcher(self, signum, ref)

    def idle(self, ref: bool = True, priority: Any = None) -> IdleWatcher:
        return IdleWatcher(self, ref)

    def prepare(self, ref: bool = True, priority: Any = None) -> PrepareWatcher:
        return PrepareWatcher(self, ref)

    check = prepare

    @property
    def pendingcnt(self) -> int:
        return len(self._ready) + len(self._threadsafe)

    @property
    def activecnt(self) -> int:
        return self._refs + self._timers.refs

    def __repr__(self) -> str:
        if self._closed:
            return f"<{type(self).__name__} at {id(self):#x} closed>"
        return (f"<{type(self).__name__} at {id(self):#x} fd={self.fileno()} ready={len(self._ready)} "
                f"timers={len(self._timers)} fds={len(self._io.fds)} refs={self.activecnt}>")
