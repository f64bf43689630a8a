"""Greenlet stand-ins for ``_thread``, installed by ``patch_thread``.

After patching, ``threading.Thread.start()`` spawns a greenlet, and the
locks ``threading`` builds everything on (``Lock``, the Python ``RLock``,
``Condition``, ``Event``, ``Semaphore``, ``Barrier``) wait cooperatively.

Differs from ``_thread``:

- ``get_ident()`` returns the real thread ident in a thread's main
  greenlet (so ``threading.main_thread()`` and threads that already run keep
  their identity), and a per-greenlet ident inside spawned greenlets.
- A ``LockType`` belongs to the hub of the first thread that waits on it;
  waiting from another real thread polls (with a short back-off) instead of
  switching, and releasing from another thread wakes the owner hub safely.
"""

from __future__ import annotations

import _thread as _std_thread
import threading as _std_threading
import time as _time
from typing import Any, Callable

from greenlet import getcurrent as _getcurrent

from .._core.exceptions import BlockingSwitchOutError
from .._core.hub import BLOCKING_MESSAGE, get_hub
from .._core.waiter import Linkable
from ..greenlet import Greenlet

__all__ = ["LockType", "allocate_lock", "start_new_thread", "get_ident", "current_thread", "local"]

# Originals, captured before any patching.
_real_get_ident = _std_thread.get_ident
_real_sleep = _time.sleep
_monotonic = _time.monotonic
TIMEOUT_MAX = _std_thread.TIMEOUT_MAX

try:  # greenlet-local storage, when coopshell.local exists
    from ..local import local
except ImportError:  # pragma: no cover - depends on coopshell.local landing
    local = None  # type: ignore[assignment,misc]


def get_ident() -> int:
    """The real thread ident in a thread's main greenlet, else an ident
    unique to the running greenlet (its Greenlet handle while it lives)."""
    g = _getcurrent()
    if g.parent is None:
        return _real_get_ident()
    task = getattr(g, "task", None)
    return id(g if task is None else task)


class LockType(Linkable):
    """``_thread.LockType`` for greenlets: ``acquire(blocking=True, timeout=-1)``."""

    __slots__ = ("_locked",)

    def __init__(self) -> None:
        Linkable.__init__(self)
        self._locked = False

    def ready(self) -> bool:
        return not self._locked

    def locked(self) -> bool:
        return self._locked

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._locked:
            self._locked = True
            return True
        if not blocking:
            if timeout != -1:
                raise ValueError("can't specify a timeout for a non-blocking call")
            return False
        if timeout == -1:
            timeout = None
        elif timeout < 0:
            raise ValueError("timeout value must be a non-negative number")
        hub = self.hub
        if hub is not None and hub.thread_ident != _real_get_ident():
            return self._acquire_foreign(timeout)
        if hub is None:
            self.hub = hub = get_hub()
        if _getcurrent() is hub:
            raise BlockingSwitchOutError(BLOCKING_MESSAGE)
        deadline = None if timeout is None else _monotonic() + timeout
        while self._locked:
            if deadline is None:
                self._wait(None)
            else:
                remaining = deadline - _monotonic()
                if remaining <= 0 or not self._wait(remaining):
                    if self._locked:
                        return False
        self._locked = True
        return True

    def _acquire_foreign(self, timeout):
        # Another real thread owns this lock's wait queue: poll, never hang.
        deadline = None if timeout is None else _monotonic() + timeout
        delay = 0.0005
        while self._locked:
            if deadline is not None and _monotonic() >= deadline:
                return False
            _real_sleep(delay)
            delay = min(delay * 2, 0.005)
        self._locked = True
        return True

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        self._locked = False
        if self._links:
            hub = self.hub
            if hub.thread_ident == _real_get_ident():
                self._schedule_notify()
            else:
                hub.loop.run_callback_threadsafe(self._schedule_notify)

    def _at_fork_reinit(self) -> None:
        self._locked = False
        self._links.clear()
        self._notify_pending = False
        self.hub = None

    __enter__ = acquire

    def __exit__(self, *exc: Any) -> None:
        self.release()

    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __repr__(self) -> str:
        state = "locked" if self._locked else "unlocked"
        return f"<{state} coopshell lock object at {id(self):#x} waiters={len(self._links)}>"


allocate_lock = LockType


def start_new_thread(function: Callable[..., Any], args: tuple, kwargs: dict | None = None) -> int:
    """Run ``function(*args, **kwargs)`` in a new greenlet; returns its ident."""
    if not callable(function):
        raise TypeError(f"first arg must be callable, got {function!r}")
    if not isinstance(args, tuple):
        raise TypeError(f"2nd arg must be a tuple, got {args!r}")
    if kwargs is None:
        kwargs = {}
    elif not isinstance(kwargs, dict):
        raise TypeError(f"optional 3rd arg must be a dictionary, got {kwargs!r}")
    g = Greenlet(_thread_main, function, args, kwargs)
    g.start()
    return id(g)


def _thread_main(function, args, kwargs):
    try:
        function(*args, **kwargs)
    except SystemExit:
        pass
    finally:
        me = getattr(_getcurrent(), "task", None)
        sentinels = me.__dict__.pop("_thread_sentinels", ()) if me is not None else ()
        for lock in sentinels:
            if lock.locked():
                lock.release()


class _GreenletThread(_std_threading._DummyThread):
    """What ``threading.current_thread()`` returns in a greenlet that is
    not a ``threading.Thread``: kept on the Greenlet, never in
    ``threading._active``, so it dies with the greenlet (the stdlib's
    ``_DummyThread`` would stay registered forever)."""

    def __init__(self, name: str) -> None:
        _std_threading.Thread.__init__(self, name=name, daemon=True)
        self._started.set()
        self._set_ident()
        self._set_native_id()

    def is_alive(self) -> bool:
        return not self._is_stopped and self._started.is_set()

    def join(self, timeout: float | None = None) -> None:
        raise RuntimeError("cannot join a greenlet's dummy thread")


_active = _std_threading._active


def current_thread() -> _std_threading.Thread:
    """``threading.current_thread()`` for greenlets: the Thread object of a
    thread or greenlet-thread, else a dummy tied to the running greenlet."""
    try:
        return _active[get_ident()]
    except KeyError:
        pass
    g = _getcurrent()
    owner = getattr(g, "task", None) or g
    try:
        return owner.__dict__["_coopshell_thread"]
    except (KeyError, AttributeError):
        pass
    name = getattr(owner, "name", None) or f"Dummy-{id(owner):#x}"
    dummy = _GreenletThread(name)
    try:
        owner.__dict__["_coopshell_thread"] = dummy
    except AttributeError:  # a raw greenlet without __dict__: not cached
        pass
    return dummy


def _set_sentinel() -> LockType:
    """A lock released when the current greenlet-thread ends (``threading``
    waits on it in ``Thread.join()`` and at interpreter exit)."""
    lock = LockType()
    me = getattr(_getcurrent(), "task", None)
    if me is not None:
        me.__dict__.setdefault("_thread_sentinels", []).append(lock)
    return lock


# What patch_thread installs, per stdlib module.
__implements_thread__ = ["start_new_thread", "start_new", "allocate_lock", "allocate",
                         "get_ident", "_set_sentinel"]
__implements_threading__ = ["_start_new_thread", "_allocate_lock", "Lock", "get_ident",
                            "_set_sentinel", "_CRLock", "current_thread", "currentThread"]
currentThread = current_thread
__implements_threading__ = [n for n in __implements_threading__
                            if n == "_CRLock" or hasattr(_std_threading, n)]
if not hasattr(_std_threading, "_set_sentinel"):  # pragma: no cover - Python >= 3.13
    __unavailable__ = ("this Python's threading has no _set_sentinel; patch_thread supports the "
                       "threading internals of Python 3.10 to 3.12")
start_new = _start_new_thread = start_new_thread
allocate = _allocate_lock = Lock = allocate_lock
# None makes threading.RLock() build the pure-Python RLock on the patched
# Lock and get_ident, so it is greenlet-aware.
_CRLock = None
if local is not None:
    __implements_thread__.append("_local")
    __implements_threading__.append("local")
    _local = local
