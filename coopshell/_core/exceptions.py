"""Every exception the runtime raises on its own account, in one place, plus
the two markers every wait shares: ``TIMED_OUT`` and ``check_can_block``."""

from __future__ import annotations

from greenlet import GreenletExit, getcurrent as _getcurrent

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: ``typing`` costs ~9 ms of a cold import
    from typing import Any

__all__ = ["GreenletExit", "LoopExit", "BlockingSwitchOutError", "InvalidSwitchError",
           "ConcurrentObjectUseError", "InvalidThreadUseError", "HubDestroyed",
           "TIMED_OUT", "BLOCKING_MESSAGE", "check_can_block"]


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


class HubDestroyed(GreenletExit):  # type: ignore[misc]  # greenlet ships no type information
    """Thrown into the hub greenlet to end it when the hub is destroyed."""


class _TimedOut:
    """The value a timer switches into a waiting greenlet when its wait ends."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TIMED_OUT"


#: Passed to a waiting greenlet's switch by the timer that ends its wait.
TIMED_OUT: Any = _TimedOut()

#: gevent's wording first (code matches on it), then what to do instead.
BLOCKING_MESSAGE = ("Impossible to call blocking function in the event loop callback: "
                    "this code runs in the hub (a rawlink, watcher or loop callback), which "
                    "cannot wait. Do the blocking work in a greenlet instead, e.g. "
                    "coopshell.spawn(func, *args), or use a non-blocking variant (get_nowait, "
                    "block=False).")


def check_can_block(hub: Any, cur: Any = None) -> Any:
    """Return the current greenlet; raise ``BlockingSwitchOutError`` if it is
    ``hub`` (code running inside the hub must never wait)."""
    if cur is None:
        cur = _getcurrent()
    if cur is hub:
        raise BlockingSwitchOutError(BLOCKING_MESSAGE)
    return cur
