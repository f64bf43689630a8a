"""Every exception the runtime raises on its own account, in one place."""

from __future__ import annotations

from greenlet import GreenletExit

__all__ = ["GreenletExit", "LoopExit", "BlockingSwitchOutError", "InvalidSwitchError",
           "ConcurrentObjectUseError", "InvalidThreadUseError", "HubDestroyed"]


class LoopExit(Exception):
    """Raised in a greenlet that waits when nothing left in the loop could
    ever wake it: no callbacks, no active timers, no I/O watchers."""


class BlockingSwitchOutError(AssertionError):
    """Raised when blocking is attempted inside the hub (a ``rawlink``
    callback, a watcher callback), where switching out is impossible."""


class InvalidSwitchError(AssertionError):
    """Raised when a greenlet is woken by something it was not waiting for."""


class ConcurrentObjectUseError(AssertionError):
    """Raised when two greenlets use an object that allows one at a time,
    such as two readers of one socket."""


class InvalidThreadUseError(RuntimeError):
    """Raised when a hub-bound object is used from another thread."""


class HubDestroyed(GreenletExit):
    """Thrown into the hub greenlet to end it when the hub is destroyed."""
