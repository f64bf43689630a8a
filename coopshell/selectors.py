"""Cooperative replacement for the stdlib ``selectors`` module.

``DefaultSelector`` is a ``selectors.BaseSelector`` whose ``select()``
waits in the hub (on ``coopshell.select.poll``); everything else is the
stdlib's.

Differs from the stdlib:

- ``DefaultSelector``, ``SelectSelector`` and ``PollSelector`` are all the
  one cooperative selector (gevent's ``GeventSelector``, under that name too). ``EpollSelector`` is not provided (it would
  block the thread); code that names it keeps the stdlib's.
"""

from __future__ import annotations

import math as _math
from os import fstat as _fstat
import selectors as _std
from typing import Any

from .select import poll as _poll

#: Stdlib names this module rewrites to cooperate.
__implements__ = ["DefaultSelector", "SelectSelector", "PollSelector"]
#: Names beyond the stdlib's: gevent's name for the cooperative selector.
__extensions__: list[str] = ["GeventSelector"]
#: Stdlib callables passed through after review (abstract base, key type).
_REVIEWED = {"BaseSelector", "SelectorKey"}
#: Stdlib names left out on purpose.
_NOT_IMPLEMENTED = {"EpollSelector": "blocks the thread; DefaultSelector replaces it",
                    "KqueueSelector": "blocks the thread; DefaultSelector replaces it",
                    "DevpollSelector": "blocks the thread; DefaultSelector replaces it"}

__imports__ = ["BaseSelector", "SelectorKey", "EVENT_READ", "EVENT_WRITE"]
globals().update({n: getattr(_std, n) for n in __imports__})

__all__ = __implements__ + __imports__ + __extensions__

_EVENT_READ = _std.EVENT_READ
_EVENT_WRITE = _std.EVENT_WRITE
_POLLIN = 0x001
_POLLOUT = 0x004


class DefaultSelector(_std._BaseSelectorImpl):
    """A selector whose ``select()`` lets other greenlets run while it waits."""

    def __init__(self):
        super().__init__()
        self._poller = _poll()

    def register(self, fileobj: Any, events: int, data: Any = None) -> _std.SelectorKey:
        key = super().register(fileobj, events, data)
        mask = (_POLLIN if events & _EVENT_READ else 0) | (_POLLOUT if events & _EVENT_WRITE else 0)
        try:
            try:
                _fstat(key.fd)
            except OSError as exc:  # closed under a live object: fail now, as gevent's
                raise ValueError(f"Invalid file descriptor {key.fd} for {fileobj!r}: "
                                 f"{exc.strerror} (was it closed?)") from None
            self._poller.register(key.fd, mask)
        except BaseException:
            super().unregister(fileobj)
            raise
        return key

    def unregister(self, fileobj: Any) -> _std.SelectorKey:
        key = super().unregister(fileobj)
        try:
            self._poller.unregister(key.fd)
        except (KeyError, OSError, ValueError):
            pass  # the fd may already be closed
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> _std.SelectorKey:
        try:
            key = self._fd_to_key[self._fileobj_lookup(fileobj)]
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        if events == key.events:
            if data is not key.data:
                key = key._replace(data=data)
                self._fd_to_key[key.fd] = key
            return key
        mask = (_POLLIN if events & _EVENT_READ else 0) | (_POLLOUT if events & _EVENT_WRITE else 0)
        if not events or events & ~(_EVENT_READ | _EVENT_WRITE):
            raise ValueError(f"Invalid events: {events!r}")
        self._poller.modify(key.fd, mask)
        key = key._replace(events=events, data=data)
        self._fd_to_key[key.fd] = key
        return key

    def select(self, timeout: float | None = None) -> list[tuple[_std.SelectorKey, int]]:
        """Wait up to ``timeout`` seconds (None: no limit; <= 0: just check)."""
        if timeout is None:
            ms = None
        elif timeout <= 0:
            ms = 0
        else:
            ms = _math.ceil(timeout * 1e3)
        ready = []
        try:
            fd_events = self._poller.poll(ms)
        except InterruptedError:
            return ready
        fd_to_key = self._fd_to_key
        for fd, ev in fd_events:
            key = fd_to_key.get(fd)
            if key is None:
                continue
            events = 0
            if ev & ~_POLLIN:
                events |= _EVENT_WRITE
            if ev & ~_POLLOUT:
                events |= _EVENT_READ
            events &= key.events
            if events:
                ready.append((key, events))
        return ready

    def close(self) -> None:
        self._poller = None
        super().close()


SelectSelector = DefaultSelector
PollSelector = DefaultSelector
#: gevent's name for it (``gevent.selectors.GeventSelector``)
GeventSelector = DefaultSelector
