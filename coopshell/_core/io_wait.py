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
from .loop import READ, WRITE, _FdRecord, _get_ident  # the loop's thread_ident uses it

__all__ = ["wait_io", "cancel_wait", "cancel_wait_error", "CANCELLED_MESSAGE"]

CANCELLED_MESSAGE = "File descriptor was closed while another greenlet was waiting on it"


def cancel_wait_error() -> OSError:
    """A fresh ``OSError(EBADF)`` for a waiter whose fd was closed under it."""
    return OSError(EBADF, CANCELLED_MESSAGE)


def cancel_wait(watcher, error: BaseException) -> None:
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
        loop._ready.append((watcher._dispatch, ()))
    else:
        loop.run_callback_threadsafe(watcher._dispatch)


def wait_io(hub, watcher, timeout=None, timeout_exc=None) -> None:
    """Park the current greenlet until ``watcher`` fires.

    ``timeout`` (seconds, or None for no limit) ends the wait by raising
    ``timeout_exc`` (an exception instance, or a callable returning one).
    If the wait was cancelled (``cancel_wait``: the socket was closed by
    another greenlet) or the loop gave up on the fd (closed behind our
    back), the error recorded on the watcher is raised.

    This is the hottest wait in the runtime (every socket recv/send that
    would block), so it starts and stops the watcher inline, on the loop's
    fd records, instead of calling ``IOWatcher.start``/``stop``: about
    0.8 µs less per wait (TCP echo: ~5 % more round trips/s).
    """
    if watcher.callback is not None:
        raise ConcurrentObjectUseError(
            f"This file descriptor (fd={watcher.fd}) is already used by another greenlet: "
            f"{watcher.callback!r}")
    cur = _getcurrent()
    if cur is hub:
        raise BlockingSwitchOutError(BLOCKING_MESSAGE)
    switch = cur.switch
    loop = hub.loop
    events = watcher.events
    if events == READ | WRITE or watcher._active:
        return _wait_generic(hub, loop, watcher, switch, timeout, timeout_exc)
    # -- IOWatcher.start, inline --
    fd = watcher.fd
    rec = loop._fds.get(fd)
    if rec is None:
        rec = loop._fds[fd] = _FdRecord()
    waiters = rec.readers if events == READ else rec.writers
    watcher.callback = switch
    watcher._error = None
    watcher._active = True
    ref = watcher._ref
    if ref:
        loop._refs += 1
    waiters.append(watcher)
    loop._dirty.add(fd)
    entry = None
    try:
        if timeout is not None:
            entry = loop._add_timer(timeout, switch, (TIMED_OUT,))
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
            loop._dirty.add(fd)
        watcher.callback = None
        if entry is not None and entry[2] is not None:
            loop._cancel_timer(entry)
    if result is TIMED_OUT and entry is not None:
        _raise_timeout(timeout_exc)
    if watcher._error is not None:
        raise watcher._error


def _wait_generic(hub, loop, watcher, switch, timeout, timeout_exc):
    watcher.start(switch)
    entry = None
    try:
        if timeout is not None:
            entry = loop._add_timer(timeout, switch, (TIMED_OUT,))
        result = hub.switch()
    finally:
        watcher.stop()
        if entry is not None and entry[2] is not None:
            loop._cancel_timer(entry)
    if result is TIMED_OUT and entry is not None:
        _raise_timeout(timeout_exc)
    if watcher._error is not None:
        raise watcher._error


def _raise_timeout(timeout_exc):
    if timeout_exc is None:
        raise TimeoutError("timed out")
    if isinstance(timeout_exc, BaseException):
        raise timeout_exc
    raise timeout_exc()
