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
import sys as _sys
import threading as _std_threading
import time as _time
from typing import Any, Callable

from greenlet import getcurrent as _getcurrent

from .._core.exceptions import BlockingSwitchOutError
from .._core.hub import BLOCKING_MESSAGE, get_hub_if_exists
from .._core.hub import sleep as _hub_sleep
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
            self._yield_after_failed_try()
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

    @staticmethod
    def _yield_after_failed_try() -> None:
        """A failed ``acquire(False)`` in a greenlet lets the others run once
        (as gevent does): a spin loop ``while not lock.acquire(False)`` would
        otherwise keep the holder from ever running to release it."""
        # threading's own non-blocking probes (is_alive's tstate-lock check,
        # shutdown's bookkeeping) ask about state: they must not switch.
        if _sys._getframe(2).f_globals.get("__name__") == "threading":
            return
        hub = get_hub_if_exists()
        if hub is not None and _getcurrent() is not hub:  # never switch the hub out of itself
            _hub_sleep(0)

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


def start_new_thread(function: Callable[..., Any], args: tuple = (), kwargs: dict | None = None) -> int:
    """Run ``function(*args, **kwargs)`` in a new greenlet; returns its ident
    (``args`` defaults to ``()``, as in gevent)."""
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
        if _registered and me is not None:
            _reregister(id(me))


# Real ident -> the Thread registered under it when threading was unpatched
# while greenlet threads still ran (see detach).
_registered: dict[int, _std_threading.Thread] = {}


def detach(threads: list[_std_threading.Thread]) -> None:
    """``threading`` is being unpatched while these greenlet threads run:
    they finish as greenlets. When they end, ``threading`` removes
    ``_active[get_ident()]``, and ``get_ident`` is then the real one (the
    main thread's): keep the real registrations and drop theirs."""
    with _active_limbo_lock:
        for ident, t in _active.items():
            if not is_greenlet_thread(t):
                _registered.setdefault(ident, t)
    for t in threads:
        def _delete(t: _std_threading.Thread = t) -> None:
            with _active_limbo_lock:
                _active.pop(t._ident, None)
        t._delete = _delete  # Python >= 3.11 calls it; 3.10 deletes inline


def _reregister(ident: int) -> None:
    with _active_limbo_lock:
        _active.pop(ident, None)
        for real, t in _registered.items():
            if t.is_alive():
                _active.setdefault(real, t)


class ThreadHandle:
    """``_thread._ThreadHandle`` for a greenlet thread (the joinable
    threads of Python 3.13's ``threading``): ``ident``, ``is_done()``,
    ``join(timeout=None)``. Joining waits cooperatively in a greenlet and
    blocks a real OS thread for real."""

    __slots__ = ("ident", "_running", "__weakref__")

    def __init__(self, ident: int | None = None) -> None:
        self.ident = ident
        self._running = LockType()
        self._running.acquire()

    def is_done(self) -> bool:
        return not self._running.locked()

    def _set_done(self) -> None:
        if self._running.locked():
            self._running.release()

    def join(self, timeout: float | None = None) -> None:
        if self.ident is not None and self.ident == get_ident() and not self.is_done():
            raise RuntimeError("Cannot join current thread")
        if timeout is None:
            timeout = -1
        elif timeout < 0:
            timeout = 0
        if self._running.acquire(True, timeout):
            self._running.release()

    def __repr__(self) -> str:
        state = "done" if self.is_done() else "running"
        return f"<coopshell thread handle ident={self.ident} {state}>"


def _make_thread_handle(ident: int) -> ThreadHandle:
    """A handle for a thread that already runs (``threading._DummyThread``)."""
    return ThreadHandle(ident)


# The handles of the non-daemon greenlet threads: waited for at exit.
_non_daemon: set[ThreadHandle] = set()
_real_shutdown = getattr(_std_thread, "_shutdown", None)


def start_joinable_thread(function: Callable[[], Any], handle: ThreadHandle | None = None,
                          daemon: bool = True) -> ThreadHandle:
    """Run ``function()`` in a new greenlet; returns its handle (Python 3.13's
    ``_thread.start_joinable_thread``)."""
    if not callable(function):
        raise TypeError(f"thread function must be callable, got {function!r}")
    if handle is None:
        handle = ThreadHandle()
    elif not isinstance(handle, ThreadHandle):
        raise TypeError(f"handle must be a thread handle made after patching, got {handle!r}")
    elif handle.ident is not None:
        raise RuntimeError("thread already started")
    g = Greenlet(_joinable_main, function, handle)
    handle.ident = id(g)
    if not daemon:
        _non_daemon.add(handle)
    g.start()
    return handle


def _joinable_main(function: Callable[[], Any], handle: ThreadHandle) -> None:
    try:
        function()
    except SystemExit:
        pass
    finally:
        _non_daemon.discard(handle)
        handle._set_done()


def _shutdown() -> None:
    """``threading``'s last step at exit: wait for the non-daemon greenlet
    threads, then for the real ones."""
    while _non_daemon:
        next(iter(_non_daemon)).join()
    if _real_shutdown is not None:
        _real_shutdown()


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
        if not self._started.is_set():
            return False
        handle = getattr(self, "_handle", None)
        if isinstance(handle, ThreadHandle):  # Python >= 3.13
            return not handle.is_done()
        return not getattr(self, "_is_stopped", False)

    def join(self, timeout: float | None = None) -> None:
        raise RuntimeError("cannot join a greenlet's dummy thread")


_active = _std_threading._active
_active_limbo_lock = _std_threading._active_limbo_lock


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
    as a greenlet (and that must finish as one). Never the main thread: its
    ``_tstate_lock`` is a greenlet lock only while threading is patched."""
    if thread is _std_threading.main_thread():
        return False
    return (isinstance(getattr(thread, "_tstate_lock", None), LockType)
            or isinstance(getattr(thread, "_handle", None), ThreadHandle))


currentThread = current_thread
start_new = _start_new_thread = start_new_thread
allocate = _allocate_lock = Lock = allocate_lock
# None makes threading.RLock() build the pure-Python RLock on the patched
# Lock and get_ident, so it is greenlet-aware.
_CRLock = None
_local = local
_ThreadHandle = ThreadHandle
_start_joinable_thread = start_joinable_thread
_thread_shutdown = _shutdown

# What patch_thread installs, per stdlib module: the names the running
# Python's modules have (computed, never a version check).
__implements__ = {
    "_thread": [n for n in ("start_new_thread", "start_new", "allocate_lock", "allocate",
                            "get_ident", "_set_sentinel", "_local", "start_joinable_thread",
                            "_ThreadHandle", "_make_thread_handle") if hasattr(_std_thread, n)],
    "threading": [n for n in ("_start_new_thread", "_allocate_lock", "Lock", "get_ident",
                              "_set_sentinel", "current_thread", "currentThread", "local",
                              "_start_joinable_thread", "_ThreadHandle", "_make_thread_handle",
                              "_thread_shutdown")
                  if hasattr(_std_threading, n)] + ["_CRLock"],
    "_threading_local": ["local"],
}
if local is None:  # pragma: no cover - coopshell.local is part of the sync layer
    for _names in __implements__.values():
        for _n in ("local", "_local"):
            if _n in _names:
                _names.remove(_n)
if not (hasattr(_std_threading, "_set_sentinel") or hasattr(_std_threading, "_ThreadHandle")):
    __unavailable__ = ("this Python's threading has neither _set_sentinel (3.10-3.12) nor "
                       "_ThreadHandle (3.13+): patch_thread does not know its internals")
