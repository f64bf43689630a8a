"""Waiting for a file descriptor to become readable or writable.

The one place where the I/O modules (socket, ssl, select, os...) park a
greenlet on an ``IOWatcher``. It follows the hub's rule: register the
greenlet's own ``switch`` as the watcher callback, switch to the hub, and
stop the watcher (and cancel the timeout timer) however the wait ends. No
``Timeout`` object and no waiter object is allocated per wait.

``wait_io`` itself lives in ``_poll``, next to the fd records its fast path
touches; it is re-exported here, the name the io layer uses.

A watcher serves one waiting greenlet at a time: a second greenlet that
tries to wait on a busy watcher gets ``ConcurrentObjectUseError``, as in
gevent (two greenlets reading one socket interleave their data unpredictably).
"""

from __future__ import annotations

import threading
from errno import EBADF

from ._poll import IOWatcher, wait_io

__all__ = ["wait_io", "cancel_wait", "cancel_wait_error", "CANCELLED_MESSAGE"]

CANCELLED_MESSAGE = "File descriptor was closed while another greenlet was waiting on it"

_get_ident = threading.get_ident  # the real one: patch_thread makes it per-greenlet


def cancel_wait_error() -> OSError:
    """A fresh ``OSError(EBADF)`` for a waiter whose fd was closed under it."""
    return OSError(EBADF, CANCELLED_MESSAGE)


def cancel_wait(watcher: IOWatcher, error: BaseException) -> None:
    """Make the greenlet waiting on ``watcher`` raise ``error`` from its wait.

    The wake-up is the watcher's own dispatch, queued on its loop: if the
    wait ends some other way first (its timeout fell due in the same loop
    pass), the watcher has no callback any more and the wake-up is a no-op,
    so the error can never land in a later, unrelated wait. Callable from
    any thread.
    """
    if watcher.callback is None:
        return
    watcher._error = error
    loop = watcher.loop
    if loop.thread_ident == _get_ident():
        loop.schedule(watcher._dispatch)
    else:
        loop.run_callback_threadsafe(watcher._dispatch)
