"""The event loop: ready callbacks, a timer heap, I/O readiness, thread-safe wakeup.

One loop per thread, pure Python on ``select.epoll`` (any ``selectors`` class
elsewhere). The hub greenlet drives it; nothing here switches greenlets by
itself: a callback that is a greenlet's ``switch`` does that.

Design notes, because this is the hottest code in the project:

- Ready callbacks are ``(func, args)`` tuples in a deque. The loop drains it,
  including callbacks added while draining, and breaks out to poll I/O and
  run timers only once ``_MAX_RUN`` seconds have passed (checked every
  ``_CHECK_EVERY`` callbacks), so ``sleep(0)`` ping-pong costs no system call
  per switch while I/O still cannot starve.
- Timers are ``[when, seq, func, args, ref]`` lists on a heap; lists compare in
  C. Cancelling sets ``func`` to None (lazy); the heap is compacted when more
  than half of it is dead.
- epoll registrations change lazily: starting and stopping watchers only
  marks the fd dirty, and the wanted mask is applied once, just before
  polling. The usual "wait readable, read, wait again" cycle therefore costs
  no ``epoll_ctl`` at all. A registration that may be stale (its fd closed and
  the number reused) is verified when a watcher object is created for the
  fd, and ``closing_fd`` drops a registration at once.
- ``run_callback_threadsafe`` appends to a second deque and writes an eventfd
  only when no wakeup is already pending.
- The poll fd (``fileno()``) is readable whenever the loop has I/O to
  dispatch, so a host loop (asyncio, a prompt's input hook) can watch it.
"""

from __future__ import annotations

import os
import select
import signal as _signal
import sys
import threading
from collections import deque
from heapq import heapify, heappop, heappush
from itertools import count
from time import monotonic

__all__ = ["Loop", "READ", "WRITE", "Callback", "TimerHandle", "Watcher", "IOWatcher", "TimerWatcher",
           "AsyncWatcher", "SignalWatcher", "IdleWatcher", "PrepareWatcher"]

READ = 1
WRITE = 2

_CHECK_EVERY = 64      # callbacks between clock checks while draining the ready queue
_MAX_RUN = 0.005       # seconds of callbacks before I/O and timers get a turn
_COMPACT_MIN = 256     # dead timer entries tolerated before compaction is considered

_HAS_EPOLL = hasattr(select, "epoll")
if _HAS_EPOLL:
    _EPOLLIN = select.EPOLLIN
    _EPOLLOUT = select.EPOLLOUT
    _IN_MASK = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR | select.EPOLLPRI
    _OUT_MASK = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR
else:  # pragma: no cover - non-Linux: selectors reports READ=1, WRITE=2
    _IN_MASK = READ
    _OUT_MASK = WRITE

# Captured once, so monkey patching never turns the loop against itself.
_os_read = os.read
_os_write = os.write
_os_close = os.close
_signal_signal = _signal.signal
_get_ident = threading.get_ident
_main_thread = threading.main_thread
_epoll = getattr(select, "epoll", None)  # patch_select may remove select.epoll


class Callback:
    """Handle for a scheduled callback; ``stop()`` keeps it from running."""

    __slots__ = ("callback", "args")

    def __init__(self, callback, args):
        self.callback = callback
        self.args = args

    def _run(self):
        cb = self.callback
        if cb is not None:
            self.callback = None
            cb(*self.args)

    def stop(self) -> None:
        self.callback = self.args = None

    close = stop

    @property
    def pending(self) -> bool:
        return self.callback is not None

    def __repr__(self):
        return f"<Callback {self.callback!r} {'pending' if self.callback else 'done'}>"


class TimerHandle:
    """A scheduled timer: ``pending`` until it runs or is cancelled."""

    __slots__ = ("_loop", "_entry")

    def __init__(self, loop, entry):
        self._loop = loop
        self._entry = entry

    @property
    def pending(self) -> bool:
        return self._entry[2] is not None

    @property
    def when(self) -> float:
        """Monotonic time it is due."""
        return self._entry[0]

    def cancel(self) -> None:
        self._loop._cancel_timer(self._entry)


class _FdRecord:
    __slots__ = ("readers", "writers", "registered", "stale")

    def __init__(self):
        self.readers = []
        self.writers = []
        self.registered = 0   # mask as the kernel knows it
        self.stale = False    # registration may belong to a closed file


class Loop:
    """An event loop. Create one per thread; the hub owns it."""

    def __init__(self):
        self._ready = deque()
        self._threadsafe = deque()
        self._timers = []
        self._dead_timers = 0
        self._seq = count()
        self._fds = {}
        self._dirty = set()
        self._refs = 0            # active watchers that keep the loop alive
        self._wake_pending = False
        self._stopping = False
        self._closed = False
        self.nowait = False       # run() returns instead of blocking (Hub.run_nowait)
        self._prepare = []        # callables run before every poll
        self._signal_watchers = {}
        self.thread_ident = _get_ident()
        self._open_poller()

    # -- setup and teardown ---------------------------------------------------

    def _open_poller(self):
        if _HAS_EPOLL:
            self._epoll = _epoll()
            self._selector = None
        else:  # pragma: no cover - non-Linux
            import selectors
            self._epoll = None
            self._selector = selectors.DefaultSelector()
        if hasattr(os, "eventfd"):
            self._wake_r = self._wake_w = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
        if self._epoll is not None:
            self._epoll.register(self._wake_r, _EPOLLIN)
        else:  # pragma: no cover
            import selectors
            self._selector.register(self._wake_r, selectors.EVENT_READ)

    def fileno(self) -> int:
        """The poll fd: readable when the loop has I/O to dispatch."""
        if self._epoll is not None:
            return self._epoll.fileno()
        return self._selector.fileno()  # pragma: no cover

    def reinit(self) -> None:
        """Rebuild kernel objects after ``fork()``: a new epoll and wakeup fd,
        every watched fd registered again."""
        old_fds = {self._wake_r, self._wake_w}
        poller = self._epoll or self._selector
        self._open_poller()
        try:
            poller.close()
        except OSError:
            pass
        for fd in old_fds:
            try:
                _os_close(fd)
            except OSError:
                pass
        self._wake_pending = False
        self.thread_ident = _get_ident()
        for fd, rec in self._fds.items():
            rec.registered = 0
            rec.stale = False
            self._dirty.add(fd)

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
        (self._epoll or self._selector).close()
        for fd in {self._wake_r, self._wake_w}:
            try:
                _os_close(fd)
            except OSError:
                pass
        self._ready.clear()
        self._timers.clear()
        self._fds.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- callbacks -----------------------------------------------------------

    def run_callback(self, func, *args) -> Callback:
        """Run ``func(*args)`` soon, in the hub, in FIFO order."""
        cb = Callback(func, args)
        self._ready.append((cb._run, ()))
        return cb

    def run_callback_threadsafe(self, func, *args) -> None:
        """Like ``run_callback``, callable from any thread or signal handler."""
        self._threadsafe.append((func, args))
        if not self._wake_pending:
            self._wake_pending = True
            try:
                _os_write(self._wake_w, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:  # full pipe or closed loop: a wakeup is pending anyway
                pass

    # -- the doors: the names code outside _core uses to touch the loop ---------
    # (contract fixed first; the engine refactor may change what is behind them)

    def schedule(self, func, *args) -> None:
        """Run ``func(*args)`` soon, in the hub, in FIFO order (no handle)."""
        self._ready.append((func, args))

    def schedule_first(self, func, *args) -> None:
        """Run ``func(*args)`` before everything already scheduled."""
        self._ready.appendleft((func, args))

    def unschedule(self, func, *args) -> bool:
        """Take back a ``schedule(func, *args)`` that has not run; True if it was queued."""
        try:
            self._ready.remove((func, args))
        except ValueError:
            return False
        return True

    def add_timer(self, delay, func, *args, ref=True) -> TimerHandle:
        """Run ``func(*args)`` after ``delay`` seconds; ``ref=False`` does not keep
        the loop alive. The handle has ``.pending`` and ``.cancel()``."""
        return TimerHandle(self, self._add_timer(delay, func, args, ref))

    def has_pending_work(self) -> bool:
        """True when callbacks, cross-thread callbacks or fd changes wait for a pass."""
        return bool(self._ready or self._threadsafe or self._dirty)

    def statistics(self) -> dict:
        """Counts for ``%greenlets`` and the watchdog."""
        return {"ready": len(self._ready), "threadsafe": len(self._threadsafe),
                "timers": len(self._timers) - self._dead_timers, "fds": len(self._fds),
                "refs": self._refs}

    def _drain_wakeup(self):
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

    # -- timers ----------------------------------------------------------------

    def _add_timer(self, delay, func, args=(), ref=True):
        """Schedule ``func(*args)`` after ``delay`` seconds; returns the entry
        for ``_cancel_timer``."""
        entry = [monotonic() + delay, next(self._seq), func, args, ref]
        heappush(self._timers, entry)
        if ref:
            self._refs += 1
        return entry

    def _cancel_timer(self, entry):
        if entry[2] is not None:
            entry[2] = None
            if entry[4]:
                self._refs -= 1
            self._dead_timers += 1
            if self._dead_timers > _COMPACT_MIN and self._dead_timers * 2 > len(self._timers):
                self._compact_timers()

    def _compact_timers(self):
        live = [e for e in self._timers if e[2] is not None]
        heapify(live)
        self._timers[:] = live
        self._dead_timers = 0

    def now(self) -> float:
        return monotonic()

    def update_now(self) -> None:
        """Kept for gevent compatibility; this loop reads the clock directly."""

    def next_deadline(self):
        """Monotonic time of the next live timer, or None."""
        timers = self._timers
        while timers and timers[0][2] is None:
            heappop(timers)
            self._dead_timers -= 1
        return timers[0][0] if timers else None

    # -- I/O -------------------------------------------------------------------

    def _apply_fd(self, fd, rec):
        want = (READ if rec.readers else 0) | (WRITE if rec.writers else 0)
        have = rec.registered
        if want == have and not rec.stale:
            if not want:
                del self._fds[fd]
            return
        ep = self._epoll
        if ep is None:  # pragma: no cover
            return self._apply_fd_selector(fd, rec, want, have)
        mask = (_EPOLLIN if want & READ else 0) | (_EPOLLOUT if want & WRITE else 0)
        try:
            if not want:
                if have:
                    try:
                        ep.unregister(fd)
                    except (OSError, ValueError):
                        pass
                del self._fds[fd]
                return
            if have or rec.stale:
                try:
                    ep.modify(fd, mask)
                except FileNotFoundError:
                    ep.register(fd, mask)
            else:
                try:
                    ep.register(fd, mask)
                except FileExistsError:
                    ep.modify(fd, mask)
        except (OSError, ValueError) as exc:
            self._fail_fd(fd, rec, exc)
            return
        rec.registered = want
        rec.stale = False

    def _apply_fd_selector(self, fd, rec, want, have):  # pragma: no cover - non-Linux
        import selectors
        sel = self._selector
        ev = (selectors.EVENT_READ if want & READ else 0) | (selectors.EVENT_WRITE if want & WRITE else 0)
        try:
            if have:
                sel.unregister(fd)
            if want:
                sel.register(fd, ev)
            else:
                del self._fds[fd]
        except (OSError, ValueError, KeyError) as exc:
            self._fail_fd(fd, rec, exc)
            return
        rec.registered = want
        rec.stale = False

    def _fail_fd(self, fd, rec, exc):
        """The kernel refused the fd (closed, or a regular file): wake every
        watcher, with the error recorded on it, instead of leaving it hung."""
        watchers = rec.readers + rec.writers
        self._fds.pop(fd, None)
        for w in watchers:
            w._error = exc
            try:
                w._dispatch()
            except BaseException:
                self.handle_error(w, *sys.exc_info())

    def closing_fd(self, fd: int) -> None:
        """Forget ``fd``'s registration now, before its owner closes it."""
        rec = self._fds.get(fd)
        if rec is None:
            return
        if rec.registered:
            self._forget_fd(fd)
        rec.registered = 0
        rec.stale = False
        self._dirty.add(fd)

    def _forget_fd(self, fd):
        try:
            if self._epoll is not None:
                self._epoll.unregister(fd)
            else:  # pragma: no cover
                self._selector.unregister(fd)
        except (OSError, ValueError, KeyError):
            pass

    # -- running ---------------------------------------------------------------

    def has_work(self) -> bool:
        """True while something could still wake a waiter: queued callbacks,
        or active watchers that hold a reference."""
        return bool(self._ready or self._threadsafe or self._refs > 0)

    def run(self) -> None:
        """Run until no callbacks are queued and no referencing watcher is
        active, or ``stop()`` is called. With ``nowait`` set, return as soon
        as nothing is ready instead of blocking."""
        self._stopping = False
        ready = self._ready
        polled = False
        spins = 0
        while not self._stopping:
            if ready or self._threadsafe:
                self._run_ready()
                if self._stopping:
                    break
            if self._timers:
                self._run_timers()
            if self._prepare:
                for func in self._prepare:
                    func()
            if self._dirty:
                self._apply_dirty()
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
            if self._refs <= 0 or self._stopping:
                break
            deadline = self.next_deadline()
            if deadline is None:
                self._poll(-1)
            else:
                delay = deadline - monotonic()
                self._poll(delay if delay > 0 else 0)
        self._stopping = False

    def stop(self) -> None:
        """Make ``run()`` return after the current callback."""
        self._stopping = True

    def _run_ready(self):
        ready = self._ready
        popleft = ready.popleft
        if self._threadsafe:
            self._drain_wakeup()
        n = 0
        deadline = None
        while ready:
            func, args = popleft()
            try:
                func(*args)
            except BaseException:
                self.handle_error(func, *sys.exc_info())
            n += 1
            if n == _CHECK_EVERY:
                n = 0
                if self._stopping:
                    break
                if deadline is None:
                    deadline = monotonic() + _MAX_RUN
                elif monotonic() > deadline:
                    break

    def _run_timers(self):
        timers = self._timers
        now = monotonic()
        while timers and timers[0][0] <= now:
            entry = heappop(timers)
            func = entry[2]
            if func is None:
                self._dead_timers -= 1
                continue
            entry[2] = None
            if entry[4]:
                self._refs -= 1
            try:
                func(*entry[3])
            except BaseException:
                self.handle_error(func, *sys.exc_info())

    def _apply_dirty(self):
        dirty = self._dirty
        fds = self._fds
        while dirty:
            fd = dirty.pop()
            rec = fds.get(fd)
            if rec is not None:
                self._apply_fd(fd, rec)

    def _poll(self, timeout):
        if self._epoll is not None:
            events = self._epoll.poll(timeout)
        else:  # pragma: no cover
            events = [(k.fd, ev) for k, ev in self._selector.select(None if timeout < 0 else timeout)]
        if not events:
            return
        fds = self._fds
        wake = self._wake_r
        for fd, ev in events:
            if fd == wake:
                self._drain_wakeup()
                continue
            rec = fds.get(fd)
            if rec is None:
                self._forget_fd(fd)  # left registered by a watcher long gone
                continue
            hit = False
            if ev & _IN_MASK and rec.readers:
                hit = True
                readers = rec.readers
                if len(readers) == 1:
                    readers[0]._dispatch()
                else:
                    for w in tuple(readers):
                        w._dispatch()
            if ev & _OUT_MASK and rec.writers:
                hit = True
                writers = rec.writers
                if len(writers) == 1:
                    writers[0]._dispatch()
                else:
                    for w in tuple(writers):
                        w._dispatch()
            if not hit:
                # Readiness nobody waits for any more: narrow the registration
                # now, or level-triggered epoll would report it forever.
                self._apply_fd(fd, rec)

    def handle_error(self, context, type, value, tb):
        """Called for an exception escaping a callback; the hub replaces it."""
        import traceback
        traceback.print_exception(type, value, tb)

    # -- watchers (gevent's loop API) ------------------------------------------

    def io(self, fd: int, events: int, ref: bool = True, priority=None) -> IOWatcher:
        return IOWatcher(self, fd, events, ref)

    def timer(self, after: float = 0.0, repeat: float = 0.0, ref: bool = True, priority=None) -> TimerWatcher:
        return TimerWatcher(self, after, repeat, ref)

    def async_(self, ref: bool = True, priority=None) -> AsyncWatcher:
        return AsyncWatcher(self, ref)

    def signal(self, signum: int, ref: bool = False, priority=None) -> SignalWatcher:
        return SignalWatcher(self, signum, ref)

    def idle(self, ref: bool = True, priority=None) -> IdleWatcher:
        return IdleWatcher(self, ref)

    def prepare(self, ref: bool = True, priority=None) -> PrepareWatcher:
        return PrepareWatcher(self, ref)

    check = prepare

    @property
    def pendingcnt(self) -> int:
        return len(self._ready) + len(self._threadsafe)

    @property
    def activecnt(self) -> int:
        return self._refs

    def __repr__(self):
        if self._closed:
            return f"<{type(self).__name__} at {id(self):#x} closed>"
        return (f"<{type(self).__name__} at {id(self):#x} fd={self.fileno()} ready={len(self._ready)} "
                f"timers={len(self._timers) - self._dead_timers} fds={len(self._fds)} refs={self._refs}>")


# -- watcher objects -----------------------------------------------------------

class Watcher:
    """Start/stop/ref/close behaviour common to gevent-style watchers."""

    __slots__ = ("loop", "callback", "args", "_ref", "_active", "__weakref__")

    def __init__(self, loop, ref):
        self.loop = loop
        self.callback = None
        self.args = ()
        self._ref = bool(ref)
        self._active = False

    @property
    def active(self) -> bool:
        return self._active

    @property
    def ref(self) -> bool:
        return self._ref

    @ref.setter
    def ref(self, value):
        value = bool(value)
        if value != self._ref:
            if self._active:
                self.loop._refs += 1 if value else -1
            self._ref = value

    @property
    def pending(self) -> bool:
        return False

    def _set_active(self, callback, args):
        if not callable(callback):
            raise TypeError(f"watcher callback must be callable, got {callback!r}")
        self.callback = callback
        self.args = args
        if not self._active:
            self._active = True
            if self._ref:
                self.loop._refs += 1

    def _set_inactive(self):
        if self._active:
            self._active = False
            if self._ref:
                self.loop._refs -= 1
        self.callback = None
        self.args = ()

    def close(self) -> None:
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "active" if self._active else "stopped"
        return f"<{type(self).__name__} at {id(self):#x} {state}{'' if self._ref else ' unref'}>"


class IOWatcher(Watcher):
    """Calls back whenever ``fd`` is ready for ``events`` (READ, WRITE or both)
    until stopped. Several watchers may watch one fd; all are called."""

    __slots__ = ("fd", "events", "_error")

    def __init__(self, loop, fd, events, ref=True):
        if not isinstance(fd, int) or isinstance(fd, bool):
            raise TypeError(f"fd must be an int, got {type(fd).__name__}")
        if fd < 0:
            raise ValueError(f"fd must be >= 0, got {fd}")
        if events not in (READ, WRITE, READ | WRITE):
            raise ValueError(f"events must be READ (1), WRITE (2) or both (3), got {events!r}")
        super().__init__(loop, ref)
        self.fd = fd
        self.events = events
        self._error = None
        rec = loop._fds.get(fd)
        if rec is not None and rec.registered and not (rec.readers or rec.writers):
            # Left registered by a lazily stopped watcher; the fd number may
            # have been closed and reused since, so verify on next apply.
            rec.stale = True
            loop._dirty.add(fd)

    def start(self, callback, *args, pass_events=False) -> None:
        if pass_events:
            args = (self.events,) + args
        was_active = self._active
        self._set_active(callback, args)
        self._error = None
        if not was_active:
            loop = self.loop
            rec = loop._fds.get(self.fd)
            if rec is None:
                rec = loop._fds[self.fd] = _FdRecord()
            if self.events & READ:
                rec.readers.append(self)
            if self.events & WRITE:
                rec.writers.append(self)
            loop._dirty.add(self.fd)

    def stop(self) -> None:
        if self._active:
            loop = self.loop
            rec = loop._fds.get(self.fd)
            if rec is not None:
                if self.events & READ and self in rec.readers:
                    rec.readers.remove(self)
                if self.events & WRITE and self in rec.writers:
                    rec.writers.remove(self)
                loop._dirty.add(self.fd)
        self._set_inactive()

    def _dispatch(self):
        cb = self.callback
        if cb is not None:
            cb(*self.args)

    @property
    def error(self):
        """The OSError that made the loop give up on this fd, if any."""
        return self._error

    def __repr__(self):
        ev = {READ: "READ", WRITE: "WRITE", READ | WRITE: "READ|WRITE"}[self.events]
        return f"{super().__repr__()[:-1]} fd={self.fd} events={ev}>"


class TimerWatcher(Watcher):
    """Calls back once after ``after`` seconds, then every ``repeat`` seconds
    while ``repeat`` is positive."""

    __slots__ = ("after", "repeat", "_entry")

    def __init__(self, loop, after=0.0, repeat=0.0, ref=True):
        try:
            bad = not (after >= 0 and repeat >= 0)
        except TypeError:
            bad = True
        if bad:
            raise ValueError(f"timer delays must be numbers >= 0, got after={after!r} repeat={repeat!r}")
        super().__init__(loop, ref)
        self.after = after
        self.repeat = repeat
        self._entry = None

    def start(self, callback, *args, update=None) -> None:
        self._stop_entry()
        self._set_active(callback, args)
        self._schedule(self.after)

    def _schedule(self, delay):
        # The watcher's ref is counted by _set_active; the heap entry is unref'd.
        self._entry = self.loop._add_timer(delay, self._fire, (), False)

    def _fire(self):
        self._entry = None
        cb, args = self.callback, self.args
        if self.repeat > 0:
            self._schedule(self.repeat)
        else:
            self._set_inactive()
        if cb is not None:
            cb(*args)

    def again(self, callback, *args, update=None) -> None:
        """Restart with ``repeat`` as the delay (``after`` if no repeat)."""
        self._stop_entry()
        self._set_active(callback, args)
        self._schedule(self.repeat or self.after)

    def _stop_entry(self):
        if self._entry is not None:
            self.loop._cancel_timer(self._entry)
            self._entry = None

    def stop(self) -> None:
        self._stop_entry()
        self._set_inactive()

    @property
    def at(self) -> float:
        return self._entry[0] if self._entry is not None else 0.0


class AsyncWatcher(Watcher):
    """Wakes the loop from any thread: ``send()`` runs the callback in the hub."""

    __slots__ = ("_pending",)

    def __init__(self, loop, ref=True):
        super().__init__(loop, ref)
        self._pending = False

    def start(self, callback, *args) -> None:
        self._set_active(callback, args)

    def stop(self) -> None:
        self._set_inactive()

    def send(self) -> None:
        if not self._pending:
            self._pending = True
            self.loop.run_callback_threadsafe(self._fire)

    send_ignoring_arg = send

    def _fire(self):
        self._pending = False
        cb = self.callback
        if cb is not None:
            cb(*self.args)

    @property
    def pending(self) -> bool:
        return self._pending


class SignalWatcher(Watcher):
    """Runs the callback in the hub when ``signum`` arrives (main thread only).
    The previous Python-level handler is restored when the last watcher of
    that signal stops."""

    __slots__ = ("signum",)

    def __init__(self, loop, signum, ref=False):
        if not isinstance(signum, int) or not 0 < signum < _signal.NSIG:
            raise ValueError(f"signum must be a signal number from 1 to {_signal.NSIG - 1}, got {signum!r}")
        super().__init__(loop, ref)
        self.signum = signum

    def start(self, callback, *args) -> None:
        if _get_ident() != _main_thread().ident:
            raise ValueError("signal watchers can only be started in the main thread")
        loop = self.loop
        self._set_active(callback, args)
        watchers = loop._signal_watchers.get(self.signum)
        if watchers is None:
            def on_signal(signum, frame, loop=loop):
                loop.run_callback_threadsafe(_deliver_signal, loop, signum)
            previous = _signal_signal(self.signum, on_signal)
            watchers = loop._signal_watchers[self.signum] = [previous]  # slot 0: handler to restore
        if self not in watchers:
            watchers.append(self)

    def stop(self) -> None:
        loop = self.loop
        watchers = loop._signal_watchers.get(self.signum)
        if watchers is not None and self in watchers:
            watchers.remove(self)
            if len(watchers) == 1:
                del loop._signal_watchers[self.signum]
                previous = watchers[0]
                try:
                    _signal_signal(self.signum, previous if previous is not None else _signal.SIG_DFL)
                except (ValueError, TypeError, OSError):
                    pass
        self._set_inactive()


def _deliver_signal(loop, signum):
    watchers = loop._signal_watchers.get(signum)
    if watchers:
        for w in watchers[1:]:
            cb = w.callback
            if cb is not None:
                cb(*w.args)


class PrepareWatcher(Watcher):
    """Calls back once per loop iteration, just before polling."""

    __slots__ = ("_hook",)

    def __init__(self, loop, ref=True):
        super().__init__(loop, ref)
        self._hook = None

    def start(self, callback, *args) -> None:
        self._set_active(callback, args)
        if self._hook is None:
            self._hook = self._fire
            self.loop._prepare.append(self._hook)

    def _fire(self):
        cb = self.callback
        if cb is not None:
            cb(*self.args)

    def stop(self) -> None:
        if self._hook is not None:
            if self._hook in self.loop._prepare:
                self.loop._prepare.remove(self._hook)
            self._hook = None
        self._set_inactive()


class IdleWatcher(Watcher):
    """Calls back when the loop has nothing else ready, repeatedly until
    stopped (an active idle watcher keeps the loop from blocking)."""

    __slots__ = ("_entry",)

    def __init__(self, loop, ref=True):
        super().__init__(loop, ref)
        self._entry = None

    def start(self, callback, *args) -> None:
        self._set_active(callback, args)
        if self._entry is None:
            self._schedule()

    def _schedule(self):
        self._entry = self.loop._add_timer(0, self._fire, (), False)

    def _fire(self):
        self._entry = None
        if not self._active:
            return
        self._schedule()
        loop = self.loop
        if not (loop._ready or loop._threadsafe):
            self.callback(*self.args)

    def stop(self) -> None:
        if self._entry is not None:
            self.loop._cancel_timer(self._entry)
            self._entry = None
        self._set_inactive()
