"""Waiting for a file descriptor to become readable or writable.

The one place where the I/O modules (socket, ssl, select, os...) park a
greenlet on an ``IOWatcher``. It follows the hub's rule: register the
greenlet's own ``switch`` as the watcher callback, switch to the hub, and
stop the watcher (and cancel the timeout timer) however the wait ends. No
``Timeout`` object and no waiter object is allocated per wait.

A watcher serves one waiting greenlet at a time: a second greenlet that
tries to wait on a busy watcher gets ``ConcurrentObjectUseError``, as in
gevent (two greenlets reading one socket interleave their data unpredictably).
"""

from __future__ import annotations

from errno import EBADF

from greenlet import getcurrent as _getcurrent

from .exceptions import BlockingSwitchOutError, ConcurrentObjectUseError
from .hub import BLOCKING_MESSAGE, TIMED_OUT

__all__ = ["wait_io", "cancel_wait_error", "CANCELLED_MESSAGE"]

CANCELLED_MESSAGE = "File descriptor was closed while another greenlet was waiting on it"


def cancel_wait_error() -> OSError:
    """A fresh ``OSError(EBADF)`` for a waiter whose fd was closed under it."""
    return OSError(EBADF, CANCELLED_MESSAGE)


def wait_io(hub, watcher, timeout=None, timeout_exc=None) -> None:
    """Park the current greenlet until ``watcher`` fires.

    ``timeout`` (seconds, or None for no limit) ends the wait by raising
    ``timeout_exc`` (an exception instance, or a callable returning one).
    If the loop gave up on the fd (closed behind our back) the wait ends
    normally and ``watcher.error`` holds the reason; callers retry their
    syscall, which then raises the real error.
    """
    if watcher.callback is not None:
        raise ConcurrentObjectUseError(
            f"This file descriptor (fd={watcher.fd}) is already used by another greenlet: "
            f"{watcher.callback!r}")
    cur = _getcurrent()
    if cur is hub:
        raise BlockingSwitchOutError(BLOCKING_MESSAGE)
    switch = cur.switch
    watcher.start(switch)
    if timeout is None:
        try:
            hub.switch()
        finally:
            watcher.stop()
        return
    loop = hub.loop
    entry = loop._add_timer(timeout, switch, (TIMED_OUT,))
    try:
        result = hub.switch()
    finally:
        watcher.stop()
        if entry[2] is not None:
            loop._cancel_timer(entry)
    if result is TIMED_OUT:
        if timeout_exc is None:
            raise TimeoutError("timed out")
        if isinstance(timeout_exc, BaseException):
            raise timeout_exc
        raise timeout_exc()
