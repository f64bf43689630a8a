"""I/O readiness: the per-fd records, the poll backend, and ``IOWatcher``.

This module owns the fd records, so everything that touches them is here:
``IOWatcher.start``/``stop``, and ``wait_io``, the socket fast path that arms
and disarms a watcher inline (the hottest wait in the runtime).

- The backend is chosen once, at import: ``select.epoll`` on Linux, any
  ``selectors`` class elsewhere. Both have the same four methods
  (``apply``, ``forget``, ``poll``, ``fileno``), so no code tests which one
  it has.
- Registrations change lazily: starting and stopping watchers only marks the
  fd dirty, and the wanted mask is applied once, just before polling. The
  usual "wait readable, read, wait again" cycle therefore costs no
  ``epoll_ctl``. A registration that may be stale (its fd closed and the
  number reused) is verified when a watcher is created for the fd, and
  ``closing_fd`` drops a registration at once.
"""

from __future__ import annotations

import select
import sys

from greenlet import getcurrent as _getcurrent

from .exceptions import TIMED_OUT, ConcurrentObjectUseError, InvalidSwitchError, check_can_block
from .watchers import Watcher

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable
    from .loop import Loop

__all__ = ["READ", "WRITE", "FdRecord", "Poller", "IOWatcher", "wait_io", "BACKEND"]

READ = 1
WRITE = 2

_epoll = getattr(select, "epoll", None)  # captured: patch_select may remove select.epoll


class FdRecord:
    """What the loop knows about one fd: its watchers and its registration."""

    __slots__ = ("readers", "writers", "registered", "stale")

    def __init__(self) -> None:
        self.readers: list[IOWatcher] = []
        self.writers: list[IOWatcher] = []
        self.registered = 0   # mask (READ|WRITE) as the kernel knows it
        self.stale = False    # registration may belong to a closed file


class _EpollBackend:
    """``select.epoll``; events are translated to READ/WRITE hits by mask."""

    name = "epoll"
    if _epoll is not None:
        IN_MASK = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR | select.EPOLLPRI
        OUT_MASK = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR

    def __init__(self) -> None:
        assert _epoll is not None
        self._ep = _epoll()
        self.poll = self._ep.poll

    def fileno(self) -> int:
        fd: int = self._ep.fileno()
        return fd

    def close(self) -> None:
        self._ep.close()

    def apply(self, fd: int, want: int, have: int, stale: bool) -> None:
        ep = self._ep
        if not want:
            try:
                ep.unregister(fd)
            except (OSError, ValueError):
                pass
            return
        mask = (select.EPOLLIN if want & READ else 0) | (select.EPOLLOUT if want & WRITE else 0)
        if have or stale:
            try:
                ep.modify(fd, mask)
            except FileNotFoundError:
                ep.register(fd, mask)
        else:
            try:
                ep.register(fd, mask)
            except FileExistsError:
                ep.modify(fd, mask)

    def forget(self, fd: int) -> None:
        try:
            self._ep.unregister(fd)
        except (OSError, ValueError):
            pass


class _SelectorBackend:  # pragma: no cover - non-Linux
    """Any ``selectors`` class, made to look like the epoll backend."""

    name = "selectors"
    IN_MASK = READ
    OUT_MASK = WRITE

    def __init__(self) -> None:
        import selectors
        self._sel = selectors.DefaultSelector()

    def fileno(self) -> int:
        return self._sel.fileno()

    def close(self) -> None:
        self._sel.close()

    def apply(self, fd: int, want: int, have: int, stale: bool) -> None:
        try:
            if have or stale:
                self._sel.unregister(fd)
        except KeyError:
            pass
        if want:
            self._sel.register(fd, want)  # READ/WRITE equal EVENT_READ/EVENT_WRITE

    def forget(self, fd: int) -> None:
        try:
            self._sel.unregister(fd)
        except (KeyError, ValueError, OSError):
            pass

    def poll(self, timeout: float = -1) -> list[tuple[int, int]]:
        return [(k.fd, ev) for k, ev in self._sel.select(None if timeout < 0 else timeout)]


#: The backend class, chosen once.
BACKEND: type[_EpollBackend] | type[_SelectorBackend] = _EpollBackend if _epoll is not None else _SelectorBackend


class Poller:
    """The fd records of one loop and its backend."""

    __slots__ = ("fds", "dirty", "backend")

    def __init__(self) -> None:
        self.fds: dict[int, FdRecord] = {}
        self.dirty: set[int] = set()
        self.backend: Any = BACKEND()

    def fileno(self) -> int:
        return self.backend.fileno()  # type: ignore[no-any-return]

    def register_wakeup(self, fd: int) -> None:
        self.backend.apply(fd, READ, 0, False)

    def reopen(self) -> Any:
        """A new backend (after fork); every watched fd is registered again.
        Returns the old backend for the caller to close."""
        old = self.backend
        self.backend = BACKEND()
        for fd, rec in self.fds.items():
            rec.registered = 0
            rec.stale = False
            self.dirty.add(fd)
        return old

    def close(self) -> None:
        self.backend.close()
        self.fds.clear()
        self.dirty.clear()

    def apply_dirty(self, handle_error: Callable[..., Any]) -> None:
        dirty = self.dirty
        fds = self.fds
        while dirty:
            fd = dirty.pop()
            rec = fds.get(fd)
            if rec is not None:
                self._apply(fd, rec, handle_error)

    def _apply(self, fd: int, rec: FdRecord, handle_error: Callable[..., Any]) -> None:
        want = (READ if rec.readers else 0) | (WRITE if rec.writers else 0)
        have = rec.registered
        if want == have and not rec.stale:
            if not want:
                del self.fds[fd]
            return
        if not want and not have:
            del self.fds[fd]
            return
        try:
            self.backend.apply(fd, want, have, rec.stale)
        except (OSError, ValueError, KeyError) as exc:
            self._fail(fd, rec, exc, handle_error)
            return
        if not want:
            del self.fds[fd]
            return
        rec.registered = want
        rec.stale = False

    def _fail(self, fd: int, rec: FdRecord, exc: BaseException, handle_error: Callable[..., Any]) -> None:
        """The kernel refused the fd (closed, or a regular file): wake every
        watcher, with the error recorded on it, instead of leaving it hung."""
        watchers = rec.readers + rec.writers
        self.fds.pop(fd, None)
        for w in watchers:
            w._error = exc
            try:
                w._dispatch()
            except BaseException:
                handle_error(w, *sys.exc_info())

    def closing_fd(self, fd: int) -> None:
        rec = self.fds.get(fd)
        if rec is None:
            return
        if rec.registered:
            self.backend.forget(fd)
        rec.registered = 0
        rec.stale = False
        self.dirty.add(fd)

    def dispatch(self, events: list[tuple[int, int]], wake_fd: int, on_wake: Callable[[], None],
                 handle_error: Callable[..., Any]) -> None:
        """Call the watchers of every fd in ``events``."""
        fds = self.fds
        in_mask = self.backend.IN_MASK
        out_mask = self.backend.OUT_MASK
        for fd, ev in events:
            if fd == wake_fd:
                on_wake()
                continue
            rec = fds.get(fd)
            if rec is None:
                self.backend.forget(fd)  # left registered by a watcher long gone
                continue
            hit = False
            if ev & in_mask and rec.readers:
                hit = True
                readers = rec.readers
                if len(readers) == 1:
                    readers[0]._dispatch()
                else:
                    for w in tuple(readers):
                        w._dispatch()
            if ev & out_mask and rec.writers:
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
                self._apply(fd, rec, handle_error)


class IOWatcher(Watcher):
    """Calls back whenever ``fd`` is ready for ``events`` (READ, WRITE or both)
    until stopped. Several watchers may watch one fd; all are called."""

    __slots__ = ("fd", "events", "_error")

    def __init__(self, loop: Loop, fd: int, events: int, ref: bool = True) -> None:
        if not isinstance(fd, int) or isinstance(fd, bool):
            raise TypeError(f"fd must be an int, got {type(fd).__name__}")
        if fd < 0:
            raise ValueError(f"fd must be >= 0, got {fd}")
        if events not in (READ, WRITE, READ | WRITE):
            raise ValueError(f"events must be READ (1), WRITE (2) or both (3), got {events!r}")
        super().__init__(loop, ref)
        self.fd = fd
        self.events = events
        self._error: BaseException | None = None
        io = loop._io
        rec = io.fds.get(fd)
        if rec is not None and rec.registered and not (rec.readers or rec.writers):
            # Left registered by a lazily stopped watcher; the fd number may
            # have been closed and reused since, so verify on next apply.
            rec.stale = True
            io.dirty.add(fd)

    def start(self, callback: Callable[..., Any], *args: Any, pass_events: bool = False) -> None:
        if pass_events:
            args = (self.events,) + args
        was_active = self._active
        self._set_active(callback, args)
        self._error = None
        if not was_active:
            io = self.loop._io
            rec = io.fds.get(self.fd)
            if rec is None:
                rec = io.fds[self.fd] = FdRecord()
            if self.events & READ:
                rec.readers.append(self)
            if self.events & WRITE:
                rec.writers.append(self)
            io.dirty.add(self.fd)

    def stop(self) -> None:
        if self._active:
            io = self.loop._io
            rec = io.fds.get(self.fd)
            if rec is not None:
                if self.events & READ and self in rec.readers:
                    rec.readers.remove(self)
                if self.events & WRITE and self in rec.writers:
                    rec.writers.remove(self)
                io.dirty.add(self.fd)
        self._set_inactive()

    def _dispatch(self) -> None:
        cb = self.callback
        if cb is not None:
            cb(*self.args)

    @property
    def error(self) -> BaseException | None:
        """The OSError that made the loop give up on this fd, if any."""
        return self._error

    def __repr__(self) -> str:
        ev = {READ: "READ", WRITE: "WRITE", READ | WRITE: "READ|WRITE"}[self.events]
        return f"{super().__repr__()[:-1]} fd={self.fd} events={ev}>"


# What a watcher's wake-up switches in: its callback is the greenlet's bare
# switch, called with no arguments (the empty tuple is a singleton).
_WOKEN: tuple[()] = ()


def wait_io(hub: Any, watcher: IOWatcher, timeout: float | None = None, timeout_exc: Any = None) -> None:
    """Park the current greenlet until ``watcher`` fires.

    ``timeout`` (seconds, or None for no limit) ends the wait by raising
    ``timeout_exc`` (an exception instance, or a callable returning one).
    If the wait was cancelled (``cancel_wait``: the socket was closed by
    another greenlet) or the loop gave up on the fd (closed behind our
    back), the error recorded on the watcher is raised.

    The socket fast path: it arms and disarms the watcher inline, on the fd
    record, instead of calling ``IOWatcher.start``/``stop`` (about 0.8 µs
    less per wait, ~5 % more TCP echo round trips/s), and keeps its timer
    inline too. Every other timed wait goes through ``waiter.park``.
    """
    if watcher.callback is not None:
        raise ConcurrentObjectUseError(
            f"This file descriptor (fd={watcher.fd}) is already used by another greenlet: "
            f"{watcher.callback!r}")
    cur = _getcurrent()
    if cur is hub:
        check_can_block(hub, cur)
    switch = cur.switch
    loop = hub.loop
    events = watcher.events
    if events == READ | WRITE or watcher._active:
        watcher.start(switch)
        timer = None
        try:
            if timeout is not None:
                timer = loop.add_timer(timeout, switch, TIMED_OUT)
            result = hub.switch()
        finally:
            watcher.stop()
            if timer is not None:
                timer.cancel()
    else:
        # -- IOWatcher.start, inline --
        fd = watcher.fd
        io = loop._io
        rec = io.fds.get(fd)
        if rec is None:
            rec = io.fds[fd] = FdRecord()
        waiters = rec.readers if events == READ else rec.writers
        watcher.callback = switch
        watcher._error = None
        watcher._active = True
        ref = watcher._ref
        if ref:
            loop._refs += 1
        waiters.append(watcher)
        io.dirty.add(fd)
        timer = None
        try:
            if timeout is not None:
                timer = loop.add_timer(timeout, switch, TIMED_OUT)
            result = hub.switch()
        finally:
            # -- IOWatcher.stop, inline (cancel_wait may have stopped it already) --
            if watcher._active:
                watcher._active = False
                if ref:
                    loop._refs -= 1
                try:
                    waiters.remove(watcher)
                except ValueError:
                    pass
                io.dirty.add(fd)
            watcher.callback = None
            if timer is not None:
                timer.cancel()
    if result is not _WOKEN:
        if result is TIMED_OUT and timer is not None:
            if timeout_exc is None:
                raise TimeoutError("timed out")
            if isinstance(timeout_exc, BaseException):
                raise timeout_exc
            raise timeout_exc()
        raise InvalidSwitchError(
            f"Invalid switch into {cur!r} while it waited on {watcher!r}: got {result!r} "
            f"(something called its switch() directly; only the fd being ready may wake it)")
    if watcher._error is not None:
        raise watcher._error
