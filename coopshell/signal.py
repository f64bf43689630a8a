"""Signals handled in greenlets: ``signal_handler(signum, handler)``.

The handler runs in a new greenlet in the hub's thread, so it may block,
unlike a stdlib signal handler. Other names of the stdlib module are
re-exported unchanged.
"""

from __future__ import annotations

import signal as _signal
from signal import *  # noqa: F401,F403  (the stdlib names, re-exported)
from typing import Any, Callable

from ._core.hub import get_hub
from .greenlet import spawn

__all__ = [n for n in dir(_signal) if not n.startswith("_")] + ["signal_handler", "SignalHandle"]


class SignalHandle:
    """A running ``signal_handler``; ``cancel()`` restores the previous handler."""

    def __init__(self, signalnum: int, handler: Callable[..., Any], args, kwargs):
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {handler!r}")
        self.signalnum = signalnum
        self.handler = handler
        self.args = args
        self.kwargs = kwargs
        self._watcher = get_hub().loop.signal(signalnum)
        self._watcher.start(self._fire)

    def _fire(self):
        spawn(self.handler, *self.args, **self.kwargs)

    def cancel(self) -> None:
        self._watcher.stop()

    @property
    def active(self) -> bool:
        return self._watcher.active

    def __repr__(self):
        return f"<SignalHandle {_signal.Signals(self.signalnum).name} -> {self.handler!r}>"


def signal_handler(signalnum: int, handler: Callable[..., Any], *args: Any, **kwargs: Any) -> SignalHandle:
    """Call ``handler(*args, **kwargs)`` in a new greenlet whenever
    ``signalnum`` is delivered (main thread only)."""
    return SignalHandle(signalnum, handler, args, kwargs)
