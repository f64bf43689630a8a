"""Cooperative replacement for the stdlib ``select`` module.

``select()`` and ``poll()`` have the stdlib's signatures, return values and
errors; waiting switches to the hub.

Differs from the stdlib:

- Arguments are validated, and ready fds collected, by the original
  ``select``/``poll`` called with a zero timeout, so results are exactly the
  stdlib's. Only the waiting in between is cooperative.
- ``xlist`` of ``select()``, and ``POLLPRI``-only registrations of ``poll``,
  are checked at every wake-up but do not wake the wait by themselves.
- ``epoll`` (and ``devpoll``/``kqueue`` where they exist) are the originals:
  their ``poll()`` blocks the thread. Use ``poll`` or ``coopshell.selectors``.
"""

from __future__ import annotations

import select as _std
from typing import Any, Iterable

from ._core.exceptions import TIMED_OUT, check_can_block
from ._core.hub import get_hub, sleep
from ._core.loop import READ, WRITE
from ._core.waiter import park

#: Stdlib names this module rewrites to cooperate.
__implements__ = ["select", "poll"]
#: Names only coopshell has.
__extensions__: list[str] = []
#: Stdlib callables passed through after review. ``epoll`` & co. are kept
#: as the originals on purpose (see the module docstring).
_REVIEWED = {"epoll", "devpoll", "kqueue", "kevent"}


def _std_public(mod) -> list[str]:
    return [n for n in dir(mod) if not n.startswith("_")]


def _is_constant_or_exception(obj) -> bool:
    return not callable(obj) or (isinstance(obj, type) and issubclass(obj, BaseException))


__imports__ = [n for n in _std_public(_std) if n not in __implements__
               and (n in _REVIEWED or _is_constant_or_exception(getattr(_std, n)))]
globals().update({n: getattr(_std, n) for n in __imports__})

__all__ = __implements__ + __imports__ + __extensions__

_original_select = _std.select  # gevent's name: tests patch it to simulate readiness
_std_poll = _std.poll
_POLLIN, _POLLOUT = _std.POLLIN, _std.POLLOUT
_READ_MASK = _std.POLLIN | getattr(_std, "POLLRDNORM", 0) | getattr(_std, "POLLRDHUP", 0)
_WRITE_MASK = _std.POLLOUT | getattr(_std, "POLLWRNORM", 0)


def select(rlist: Iterable[Any], wlist: Iterable[Any], xlist: Iterable[Any],
           timeout: float | None = None) -> tuple[list, list, list]:
    """Wait until some of the objects are ready; the stdlib's ``select.select``."""
    timeout = _check_select_timeout(timeout)
    try:
        rlist = rlist if type(rlist) is list else list(rlist)
        wlist = wlist if type(wlist) is list else list(wlist)
        xlist = xlist if type(xlist) is list else list(xlist)
    except TypeError:
        return _original_select(rlist, wlist, xlist, 0)  # raises the stdlib's error
    result = _original_select(rlist, wlist, xlist, 0)
    if result[0] or result[1] or result[2] or timeout == 0:
        return result
    fds = {}
    for obj in rlist:
        fd = obj if isinstance(obj, int) else obj.fileno()
        fds[fd] = fds.get(fd, 0) | READ
    for obj in wlist:
        fd = obj if isinstance(obj, int) else obj.fileno()
        fds[fd] = fds.get(fd, 0) | WRITE
    return _wait_ready(fds, timeout, lambda: _original_select(rlist, wlist, xlist, 0),
                       lambda r: r[0] or r[1] or r[2], ([], [], []))


class poll:
    """The stdlib's ``select.poll`` object, with a cooperative ``poll()``."""

    def __init__(self):
        self._poll = _std_poll()
        self._masks: dict[int, int] = {}

    def register(self, fd: Any, eventmask: int = _POLLIN | _std.POLLPRI | _POLLOUT) -> None:
        self._poll.register(fd, eventmask)
        self._masks[fd if isinstance(fd, int) else fd.fileno()] = eventmask

    def modify(self, fd: Any, eventmask: int) -> None:
        self._poll.modify(fd, eventmask)
        self._masks[fd if isinstance(fd, int) else fd.fileno()] = eventmask

    def unregister(self, fd: Any) -> None:
        self._poll.unregister(fd)
        del self._masks[fd if isinstance(fd, int) else fd.fileno()]

    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]:
        """Wait up to ``timeout`` milliseconds (None or negative: no limit)."""
        if timeout is not None:
            if not isinstance(timeout, (int, float)):
                raise TypeError("timeout must be an integer or None")
            if timeout != timeout:
                raise ValueError("Invalid value NaN (not a number)")
            timeout = None if timeout < 0 else timeout / 1000.0
        result = self._poll.poll(0)
        if result or timeout == 0:
            return result
        fds = {}
        for fd, mask in self._masks.items():
            events = (READ if mask & _READ_MASK else 0) | (WRITE if mask & _WRITE_MASK else 0)
            if events:
                fds[fd] = events
        return _wait_ready(fds, timeout, lambda: self._poll.poll(0), bool, [])


# -- helpers ------------------------------------------------------------------------

class _Wakeup:
    """Watcher callback shared by all the fds of one wait: schedules one
    switch into the waiting greenlet, however many fds fire."""

    __slots__ = ("loop", "switch", "fired")

    def __init__(self, loop, switch):
        self.loop = loop
        self.switch = switch
        self.fired = False

    def __call__(self):
        if not self.fired:
            self.fired = True
            self.loop.schedule(self.switch, self)


def _wait_ready(fds: dict, timeout, probe, ready, expired):
    """Wait on ``fds`` (fd -> READ|WRITE) until ``probe()`` gives a result
    that is ``ready``, and return it; return ``expired`` once ``timeout``
    seconds (None: no limit) have passed. Other objects (``xlist``, POLLPRI)
    are only seen by ``probe``, on each wake-up."""
    deadline = None
    while True:
        hub = get_hub()
        if timeout is not None:
            now = hub.loop.now()
            if deadline is None:
                deadline = now + timeout
            left = deadline - now
            if left <= 0:
                return expired
        else:
            left = None
        if not fds:  # nothing to watch: the stdlib would just sleep
            sleep(left if left is not None else 2 ** 31)
            return probe()
        if not _wait_fds(hub, fds, left):
            return probe()
        result = probe()
        if ready(result):
            return result


def _wait_fds(hub, fds: dict, timeout) -> bool:
    """Wait until one of ``fds`` (fd -> READ|WRITE) is ready: True; or
    ``timeout`` passes: False."""
    cur = check_can_block(hub)
    loop = hub.loop
    switch = cur.switch
    wake = _Wakeup(loop, switch)
    watchers = []
    result = None
    try:
        for fd, events in fds.items():
            w = loop.io(fd, events)
            w.start(wake)
            watchers.append(w)
        result = park(hub, cur, timeout)
    finally:
        for w in watchers:
            w.stop()
        if wake.fired and result is not wake:
            loop.unschedule(switch, wake)  # fired, but the switch has not run
        wake.fired = True
    return result is not TIMED_OUT


def _check_select_timeout(timeout):
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a float or None")
    if timeout != timeout:
        raise ValueError("Invalid value NaN (not a number)")
    if timeout < 0:
        raise ValueError("timeout must be non-negative")
    return timeout
