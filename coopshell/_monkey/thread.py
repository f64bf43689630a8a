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
from .._core.hub import BLOCKING_MESSAGE, get_hub_if_exists
from .._core.waiter import Linkable
from ..greenlet import Greenlet

__all__ = ["LockType", "allocate_lock", "start_new_thread", "get_ident", "current_thread", "local"]

# Originals, captured before any patching.
_real_get_ident = _std_thread.get_ident
_real_allocate_lock = _std_thread.allocate_lock
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
    """``_thread.LockType`` for greenlets: ``acquire(blocking=True, timeout=-1)``.

    The lock state is a real ``_thread`` lock, so taking it is atomic across
    OS threads. A greenlet waits in its hub; a real OS thread with no hub
    (a thread-pool worker importing a module under importlib's per-module
    lock), or one whose hub is not the lock's, blocks for real on it. Either
    way the release wakes it: never a LoopExit, never a spin."""

    __slots__ = ("_block",)

    def __init__(self) -> None:
        Linkable.__init__(self)
        self._block = _real_allocate_lock()

    def ready(self) -> bool:
        return not self._block.locked()

    def locked(self) -> bool:
        return self._block.locked()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._block.acquire(False):
            return True
        if not blocking:
            if timeout != -1:
                raise ValueError("can't specify a timeout for a non-blocking call")
            return False
        if timeout != -1 and timeout < 0:
            raise ValueError("timeout value must be a non-negative number")
        mine = get_hub_if_exists()
        hub = self.hub
        if mine is None or (hub is not None and hub is not mine):
            return self._block.acquire(True, timeout)  # a real thread: block it for real
        if hub is None:
            self.hub = mine
        if _getcurrent() is mine:
            raise BlockingSwitchOutError(BLOCKING_MESSAGE)
        deadline = None if timeout == -1 else _monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - _monotonic()
            if remaining is not None and remaining <= 0:
                return self._block.acquire(False)
            self._wait(remaining)
            if self._block.acquire(False):
                return True

    def release(self) -> None:
        try:
            self._block.release()
        except RuntimeError:
            raise RuntimeError("release unlocked lock") from None
        hub = self.hub
        if hub is None:
            return
        if hub.thread_ident == _real_get_ident():
            if self._links:
                self._schedule_notify()
        else:
            # Always, even with no waiter yet: one may be between its failed
            # try and parking; the hub runs this after it parked.
            hub.loop.run_callback_threadsafe(self._schedule_notify)

    def _at_fork_reinit(self) -> None:
        self._block = _real_allocate_lock()
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
        state = "locked" if self.locked() else "unlocked"
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


def is_greenlet_thread(thread: _std_threading.Thread) -> bool:
    """True for a ``threading.Thread`` that the patched ``_thread`` started
    as a greenlet (and that must finish as one)."""
    return isinstance(getattr(thread, "_tstate_lock", None), LockType)


currentThread = current_thread
start_new = _start_new_thread = start_new_thread
allocate = _allocate_lock = Lock = allocate_lock
# None makes threading.RLock() build the pure-Python RLock on the patched
# Lock and get_ident, so it is greenlet-aware.
_CRLock = None
_local = local

# What patch_thread installs, per stdlib module: the names the running
# Python's modules have (computed, never a version check).
__implements__ = {
    "_thread": [n for n in ("start_new_thread", "start_new", "allocate_lock", "allocate",
                            "get_ident", "_set_sentinel", "_local") if hasattr(_std_thread, n)],
    "threading": [n for n in ("_start_new_thread", "_allocate_lock", "Lock", "get_ident",
                              "_set_sentinel", "current_thread", "currentThread", "local")
                  if hasattr(_std_threading, n)] + ["_CRLock"],
    "_threading_local": ["local"],
}
if local is None:  # pragma: no cover - coopshell.local is part of the sync layer
    for _names in __implements__.values():
        for _n in ("local", "_local"):
            if _n in _names:
                _names.remove(_n)
if not hasattr(_std_threading, "_set_sentinel"):  # pragma: no cover - Python >= 3.13
    __unavailable__ = ("this Python's threading has no _set_sentinel; patch_thread supports the "
                       "threading internals of Python 3.10 to 3.12")
