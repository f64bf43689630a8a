"""Low-level API: the event loop and its watchers (gevent's ``gevent.core``).

    loop = get_hub().loop
    t = loop.timer(0.5, repeat=0.5)
    t.start(print, "tick")

Watchers call back in the hub; a callback must not block. ``ref=False``
watchers do not keep the loop alive.
"""

from __future__ import annotations

from ._core.loop import (READ, WRITE, AsyncWatcher, Callback, IdleWatcher, IOWatcher, Loop,
                         PrepareWatcher, SignalWatcher, TimerWatcher, Watcher)

__all__ = ["loop", "Loop", "READ", "WRITE", "EVENTS", "Callback", "Watcher", "IOWatcher",
           "TimerWatcher", "AsyncWatcher", "SignalWatcher", "IdleWatcher", "PrepareWatcher",
           "io", "timer", "async_", "signal"]

loop = Loop
EVENTS = READ | WRITE

io = IOWatcher
timer = TimerWatcher
async_ = AsyncWatcher
signal = SignalWatcher
