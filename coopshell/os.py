"""Cooperative parts of ``os``: waiting for children, fork, fd reads and writes.

Differs from the stdlib:

- ``waitpid(pid, options)`` waits cooperatively: on Linux it watches a
  pidfd (``os.pidfd_open``) with the loop, so waiting costs no polling and
  no thread. Without pidfd it waits for ``SIGCHLD`` (main thread) or in a
  pool thread. ``pid <= 0`` and ``WUNTRACED``/``WCONTINUED`` wait in a pool
  thread. ``WNOHANG`` calls go straight to the stdlib.
- ``fork()`` is the stdlib's: the core registers ``os.register_at_fork`` so
  that after ANY fork the child's loop gets a fresh epoll and wakeup fd and
  its thread pools forget the parent's threads. Greenlets of the parent
  still exist in the child, parked as they were.
- ``read``/``write`` wait for readiness instead of blocking the thread (on
  a non-blocking fd: retry on EAGAIN; on a blocking pipe, tty or socket:
  wait, then call). Regular files are always ready and just read. They are
  not patched into ``os`` by ``coopshell.monkey`` (that would change every
  read in the process); call them from here.
- ``close(fd)`` tells the loop first, so a watcher left on ``fd`` cannot see
  a later file that reuses the number.

Extensions (gevent's names): ``make_nonblocking``, ``nb_read``, ``nb_write``,
``tp_read``, ``tp_write`` (in a pool thread), ``fork_and_watch``,
``fork_gevent``, ``forkpty_gevent``, ``forkpty_and_watch``.
"""

from __future__ import annotations

import errno as _errno
import os as _os
import signal as _signal
from typing import Any, Callable

from time import monotonic as _monotonic

from ._core.exceptions import TIMED_OUT, check_can_block
from ._core.hub import get_hub, get_hub_if_exists
from ._core.io_wait import wait_io
from ._core.loop import READ, WRITE
from ._core.waiter import park
from .event import Event

# The originals, whatever monkey patching does later.
_read = _os.read
_write = _os.write
_close = _os.close
_fork = _os.fork
_waitpid = _os.waitpid
_waitid = getattr(_os, "waitid", None)
_get_blocking = _os.get_blocking
_set_blocking = _os.set_blocking
_pidfd_open = getattr(_os, "pidfd_open", None)
_forkpty = getattr(_os, "forkpty", None)
_WNOHANG = _os.WNOHANG
_STOP_FLAGS = getattr(_os, "WUNTRACED", 0) | getattr(_os, "WCONTINUED", 0)

#: Use pidfds to wait for children (Linux >= 5.3); the fallbacks run if False.
USE_PIDFD = _pidfd_open is not None

__implements__ = ["fork", "waitpid", "close"] + (["forkpty"] if _forkpty is not None else [])
# Cooperative versions of stdlib names that monkey patching leaves alone.
__cooperative__ = ["read", "write"]
__extensions__ = ["make_nonblocking", "nb_read", "nb_write", "tp_read", "tp_write", "fork_gevent",
                  "fork_and_watch", "ChildWatcher"]
if _forkpty is not None:
    __extensions__ += ["forkpty_gevent", "forkpty_and_watch"]
__imports__: list[str] = []
__all__ = __implements__ + __cooperative__ + __extensions__ + __imports__


# -- file descriptors --------------------------------------------------------------

def make_nonblocking(fd: int) -> bool:
    """Put ``fd`` in non-blocking mode; True if it was blocking before."""
    if _get_blocking(fd):
        _set_blocking(fd, False)
        return True
    return False


def nb_read(fd: int, n: int) -> bytes:
    """Read up to ``n`` bytes from a non-blocking ``fd``, waiting cooperatively
    while it has nothing (EAGAIN)."""
    return _nb_io(_read, fd, n, READ)


def nb_write(fd: int, data: bytes) -> int:
    """Write to a non-blocking ``fd``, waiting cooperatively while it is full;
    returns the number of bytes written (maybe fewer than ``len(data)``)."""
    return _nb_io(_write, fd, data, WRITE)


def _nb_io(func: Callable[[int, Any], Any], fd: int, arg: Any, events: int) -> Any:
    """Call ``func(fd, arg)`` until it does not say "try again" (EAGAIN or
    EINTR), waiting for ``fd`` in between on one watcher, which is closed
    however the call ends (a result or an error)."""
    hub = watcher = None
    try:
        while True:
            try:
                return func(fd, arg)
            except OSError as exc:
                if exc.errno not in _RETRY_ERRNOS:
                    raise
            if watcher is None:
                hub = get_hub()
                watcher = hub.loop.io(fd, events)
            hub.wait(watcher)
    finally:
        if watcher is not None:
            watcher.close()


_RETRY_ERRNOS = frozenset({_errno.EAGAIN, _errno.EWOULDBLOCK, _errno.EINTR})


def read(fd: int, n: int) -> bytes:
    """``os.read`` that waits for ``fd`` to be readable without blocking the thread."""
    if not _get_blocking(fd):
        return nb_read(fd, n)
    wait_fd(fd, READ)
    return _read(fd, n)


def write(fd: int, data: bytes) -> int:
    """``os.write`` that waits for ``fd`` to be writable without blocking the thread."""
    if not _get_blocking(fd):
        return nb_write(fd, data)
    wait_fd(fd, WRITE)
    return _write(fd, data)


def tp_read(fd: int, n: int) -> bytes:
    """``os.read`` run in the hub's thread pool (works for any fd)."""
    return get_hub().threadpool.apply(_read, (fd, n))


def tp_write(fd: int, data: bytes) -> int:
    """``os.write`` run in the hub's thread pool (works for any fd)."""
    return get_hub().threadpool.apply(_write, (fd, data))


def close(fd: int) -> None:
    """``os.close``, telling this thread's loop first."""
    hub = get_hub_if_exists()
    if hub is not None:
        hub.loop.closing_fd(fd)
    _close(fd)


def wait_fd(fd: int, events: int, timeout: float | None = None) -> bool:
    """Wait until ``fd`` is ready for ``events`` (READ=1, WRITE=2); False if
    ``timeout`` passed first. Files epoll refuses (regular files) count as
    ready: the read or write that follows reports any real error."""
    hub = get_hub()
    try:
        wait_io(hub, hub.loop.io(fd, events), timeout, _FdTimedOut)
    except _FdTimedOut:
        return False
    except OSError:
        return True
    return True


class _FdTimedOut(Exception):
    """Ends a ``wait_fd`` whose timeout passed (never escapes it)."""


# -- children ------------------------------------------------------------------------

def fork() -> int:
    """``os.fork()``; the child's hub and thread pools are reinitialized by
    the at-fork hooks the runtime registers (see the module docstring)."""
    return _fork()


fork_gevent = fork

if _forkpty is not None:
    def forkpty() -> tuple[int, int]:
        """``os.forkpty()``; the child is reinitialized as after ``fork()``."""
        return _forkpty()

    forkpty_gevent = forkpty


def waitpid(pid: int, options: int) -> tuple[int, int]:
    """``os.waitpid`` that waits cooperatively (see the module docstring)."""
    watcher = _watched.get(pid)
    if watcher is not None:
        if not watcher.ready:
            if options & _WNOHANG:
                return 0, 0
            watcher._event.wait()
        _watched.pop(pid, None)
        if watcher.rstatus is None:
            raise ChildProcessError(10, "No child processes")
        return watcher.rpid, watcher.rstatus
    if options & _WNOHANG:
        return _waitpid(pid, options)
    if pid <= 0 or options & _STOP_FLAGS:
        return get_hub().threadpool.apply(_waitpid, (pid, options))
    while True:
        rpid, status = _waitpid(pid, options | _WNOHANG)
        if rpid:
            return rpid, status
        wait_child(pid)


def wait_child(pid: int, timeout: float | None = None) -> bool:
    """Wait until child ``pid`` has exited, WITHOUT reaping it; False if
    ``timeout`` passed first. Uses a pidfd, else SIGCHLD (main thread), else
    a pool thread."""
    if USE_PIDFD:
        try:
            fd = _pidfd_open(pid)
        except ProcessLookupError:
            return True    # gone already: the caller's waitpid will say how
        except OSError:
            fd = None      # not supported here (ENOSYS, seccomp): fall back
        if fd is not None:
            try:
                return wait_fd(fd, READ, timeout)
            finally:
                close(fd)
    hub = get_hub()
    if _waitid is not None and _is_main_thread(hub):
        return _wait_child_sigchld(hub, pid, timeout)
    result = hub.threadpool.spawn(_wait_exit_blocking, pid)
    result.wait(timeout)
    return result.ready()


def _wait_exit_blocking(pid):
    # In a pool thread; WNOWAIT leaves the child for the caller to reap.
    if _waitid is not None:
        try:
            _waitid(_os.P_PID, pid, _os.WEXITED | _os.WNOWAIT)
        except ChildProcessError:
            pass
        return
    _waitpid(pid, 0)  # pragma: no cover - no waitid: this reaps


def _is_main_thread(hub) -> bool:
    import threading
    return hub.thread_ident == threading.main_thread().ident


def _child_exited(pid) -> bool:
    try:
        return _waitid(_os.P_PID, pid, _os.WEXITED | _os.WNOHANG | _os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _wait_child_sigchld(hub, pid, timeout):
    cur = check_can_block(hub)
    watcher = hub.loop.signal(_signal.SIGCHLD, ref=True)
    watcher.start(cur.switch, watcher)
    deadline = None if timeout is None else _monotonic() + timeout
    try:
        while not _child_exited(pid):   # checked after the watcher starts: no lost signal
            left = None if deadline is None else deadline - _monotonic()
            if park(hub, cur, left) is TIMED_OUT:
                return False
        return True
    finally:
        watcher.stop()


_watched: dict[int, ChildWatcher] = {}


class ChildWatcher:
    """Watches child ``pid``: reaps it when it exits, stores ``rpid`` and
    ``rstatus``, and calls ``callback(watcher, *args)`` in the hub.
    ``waitpid(pid, 0)`` afterwards returns the stored status."""

    def __init__(self, pid: int, ref: bool = False, hub=None):
        self.pid = pid
        self.rpid: int | None = None
        self.rstatus: int | None = None
        self.hub = get_hub() if hub is None else hub
        self._ref = ref
        self._event = Event()
        self._callback: tuple | None = None
        self._fd = None
        self._io = None

    @property
    def ready(self) -> bool:
        return self._event.is_set()

    def start(self, callback: Callable[..., Any] | None = None, *args: Any) -> None:
        self._callback = (callback, args) if callback is not None else None
        _watched[self.pid] = self
        loop = self.hub.loop
        if USE_PIDFD:
            try:
                self._fd = _pidfd_open(self.pid)
            except OSError:
                self._fd = None
        if self._fd is not None:
            self._io = loop.io(self._fd, READ, ref=self._ref)
            self._io.start(self._check)
        else:
            self.hub.threadpool.spawn(_wait_exit_blocking, self.pid).rawlink(lambda r: self._check())

    def _check(self) -> None:
        try:
            rpid, status = _waitpid(self.pid, _WNOHANG)
        except ChildProcessError:
            rpid, status = self.pid, None
        if rpid == 0:
            return
        self.rpid, self.rstatus = rpid, status
        self.stop()
        self._event.set()
        cb = self._callback
        if cb is not None:
            cb[0](self, *cb[1])

    def stop(self) -> None:
        if self._io is not None:
            self._io.stop()
            self._io = None
        if self._fd is not None:
            self.hub.loop.closing_fd(self._fd)
            _close(self._fd)
            self._fd = None

    def __repr__(self):
        state = f"rstatus={self.rstatus}" if self.ready else "running"
        return f"<ChildWatcher pid={self.pid} {state}>"


def fork_and_watch(callback: Callable[..., Any] | None = None, loop: Any = None, ref: bool = False,
                   fork: Callable[[], int] = fork) -> int:
    """Fork; in the parent, watch the child (``ChildWatcher``) so that
    ``callback(watcher)`` runs when it exits and ``waitpid`` returns its
    status. ``ref=False``: the watch alone does not keep the loop alive."""
    pid = fork()
    if pid:
        ChildWatcher(pid, ref).start(callback)
    return pid


if _forkpty is not None:
    def forkpty_and_watch(callback: Callable[..., Any] | None = None, loop: Any = None,
                          ref: bool = False, forkpty: Callable[[], tuple[int, int]] = forkpty
                          ) -> tuple[int, int]:
        """``forkpty()`` with the child watched as in ``fork_and_watch``."""
        pid, fd = forkpty()
        if pid:
            ChildWatcher(pid, ref).start(callback)
        return pid, fd


def _forget_watched_after_fork():
    _watched.clear()   # the parent's children are not the child's


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_forget_watched_after_fork)


#: The rest of ``os``, passed through unchanged (gevent's ``gevent.os`` has
#: every name of ``os``): ``gevent.os.pipe`` is ``os.pipe``.
__imports__ = [n for n in dir(_os)
               if (n == "_exit" or not n.startswith("_")) and n not in globals()
               and (n == "path" or not isinstance(getattr(_os, n), type(_os)))]
globals().update({n: getattr(_os, n) for n in __imports__})
__all__ = __implements__ + __cooperative__ + __extensions__ + __imports__
