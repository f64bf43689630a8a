"""``_thread`` with greenlets: gevent's ``gevent.thread``.

The public face of what ``patch_thread`` installs in ``_thread``: the very
same objects as :mod:`coopshell._monkey.thread` (``LockType``,
``start_new_thread``, ``get_ident``…), plus the rest of ``_thread``'s API as
gevent gives it: ``exit()`` ends the running greenlet, ``stack_size()``
never shrinks the stack other greenlets run on, and the names with no
greenlet meaning (``error``, ``TIMEOUT_MAX``, ``interrupt_main``,
``get_native_id``…) are the interpreter's own.

Like gevent's module, it is a helper for monkey patching: to run code
concurrently, prefer :func:`coopshell.spawn`.
"""

from __future__ import annotations

import _thread as _std_thread

from greenlet import GreenletExit as _GreenletExit

from ._monkey.thread import (LockType, ThreadHandle, _make_thread_handle, get_ident,
                             start_joinable_thread, start_new_thread)
from ._monkey.thread import local as _local

#: The stdlib names gevent's module implements (present on this Python).
__implements__ = ["allocate_lock", "get_ident", "exit", "LockType", "stack_size",
                  "start_new_thread", "_local"]
if hasattr(_std_thread, "start_joinable_thread"):  # Python >= 3.13
    __implements__ += ["start_joinable_thread", "lock", "_ThreadHandle", "_make_thread_handle"]

#: ``_thread``'s names that mean the same with greenlets: passed through.
__imports__ = [n for n in ("error", "TIMEOUT_MAX", "allocate", "exit_thread", "interrupt_main",
                           "start_new", "get_native_id", "daemon_threads_allowed", "RLock",
                           "set_name") if hasattr(_std_thread, n)]
globals().update({n: getattr(_std_thread, n) for n in __imports__})

allocate_lock = lock = LockType
_ThreadHandle = ThreadHandle
_original_stack_size = _std_thread.stack_size
_MIN_STACK = 32_768  # the documented minimum of threading.stack_size


def exit() -> None:  # noqa: A001 - the stdlib name
    """End the running greenlet-thread (``_thread.exit`` raises SystemExit in a thread)."""
    raise _GreenletExit


def stack_size(size: int | None = None) -> int:
    """``_thread.stack_size``: read it, or grow it for new real threads.

    Greenlets of this thread share its stack, so a request to shrink it is
    accepted and ignored (returns the current size); 0 means the default;
    below the documented minimum (32 KiB) is a ValueError, as in the stdlib."""
    current = _original_stack_size()
    if size is None:
        return current
    if not isinstance(size, int):
        raise TypeError(f"stack_size() takes an int (bytes), got {size!r}")
    if size == 0:
        return 0
    if size < _MIN_STACK:
        raise ValueError(f"size not valid: {size} bytes (at least {_MIN_STACK}, or 0 for the "
                         f"default)")
    if size > current:
        return _original_stack_size(size)
    return current


__all__ = [n for n in __implements__ if n != "_local"] + __imports__
