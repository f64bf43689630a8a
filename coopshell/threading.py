"""``threading``'s names with greenlets: gevent's ``gevent.threading``.

What ``patch_thread`` builds ``threading`` on, under threading's own names:
``Lock`` and ``_allocate_lock`` (the greenlet ``LockType``), ``RLock``
(:class:`coopshell.lock.RLock`, owned by the running greenlet),
``get_ident``, ``local`` (greenlet-local), ``current_thread`` and
``_DummyThread`` (a greenlet's stand-in Thread, never left in
``threading._active``), ``_start_new_thread``, ``_set_sentinel`` and
``_CRLock = None`` (so ``threading.RLock()`` is built on the patched lock).
``main_native_thread()`` is the real main thread.

Differs from gevent: ``Thread`` and ``Timer`` are the stdlib's classes
(passed through with the rest of ``threading``). After ``patch_thread`` they
start greenlets, because the ``_thread`` primitives under them are patched;
gevent subclasses ``Thread`` for a hook that the patched ``_set_sentinel``
already provides here.

Like gevent's module, it is a helper for monkey patching: to run code
concurrently, prefer :func:`coopshell.spawn`.
"""

from __future__ import annotations

import threading as _std

from ._monkey import thread as _green
from .lock import RLock

#: Stdlib names this module gives greenlet versions of.
__implements__ = ["get_ident", "Lock", "RLock", "local", "current_thread"]
#: Names only coopshell (and gevent) has.
__extensions__ = ["allocate_lock", "start_new_thread", "main_native_thread"]
#: Stdlib callables passed through after review: they cooperate once
#: ``patch_thread`` has patched the ``_thread`` primitives they are built on
#: (``Thread.start``, ``Condition.wait``, ``Event.wait``…), or never block.
_REVIEWED = {"active_count", "Condition", "enumerate", "main_thread", "Event", "Semaphore",
             "BoundedSemaphore", "Thread", "Barrier", "Timer", "setprofile", "settrace",
             "stack_size", "excepthook", "ExceptHookArgs", "gettrace", "getprofile",
             "get_native_id", "setprofile_all_threads", "settrace_all_threads"}

__imports__ = [n for n in _std.__all__ if n not in __implements__
               and (n in _REVIEWED or not callable(getattr(_std, n))
                    or (isinstance(getattr(_std, n), type)
                        and issubclass(getattr(_std, n), BaseException)))]
globals().update({n: getattr(_std, n) for n in __imports__})

__all__ = __implements__ + __imports__ + __extensions__

get_ident = _get_ident = _green.get_ident
Lock = allocate_lock = _allocate_lock = _green.LockType
local = _green.local
current_thread = _green.current_thread
start_new_thread = _green.start_new_thread
if hasattr(_std, "_start_new_thread"):  # Python < 3.13
    _start_new_thread = _green.start_new_thread
if hasattr(_std, "_set_sentinel"):  # Python < 3.13
    _set_sentinel = _green._set_sentinel
if hasattr(_std, "_start_joinable_thread"):  # Python >= 3.13
    _start_joinable_thread = _green.start_joinable_thread
    _ThreadHandle = _green.ThreadHandle
    _make_thread_handle = _green._make_thread_handle
_CRLock = None


class _DummyThread(_green._GreenletThread):
    """``threading._DummyThread`` for a greenlet: named ``Dummy-N`` like the
    stdlib's, but tied to the greenlet and never registered in
    ``threading._active`` (the stdlib's stays there for good)."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name if name is not None else _std._newname("Dummy-%d"))


def main_native_thread() -> _std.Thread:
    """The interpreter's real main thread (``threading.main_thread()``)."""
    return _std.main_thread()
