"""``park``: the one timed wait of the runtime, and ``discard``, its cleanup helper.

Kept apart from ``waiter`` (which re-exports both) so that the hub can use
them without importing ``waiter``, which imports the hub.
"""

from __future__ import annotations

from .exceptions import TIMED_OUT, check_can_block

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: ``typing`` costs ~9 ms of a cold import
    from typing import Any

__all__ = ["park", "discard"]


def park(hub: Any, cur: Any, timeout: float | None = None, ref: bool = True) -> Any:
    """Switch from ``cur`` (the current greenlet) to ``hub`` until woken; return
    what woke it. The one timed wait of the runtime.

    The caller has registered ``cur.switch`` (or something that calls it) as
    its wakeup, and removes it however this returns. With ``timeout`` (seconds;
    <= 0 means at once, after other ready callbacks), a timer switches
    ``TIMED_OUT`` in; the timer is cancelled however the wait ends. ``ref=False``
    keeps the timer from holding the loop alive. Raises
    ``BlockingSwitchOutError`` if ``cur`` is the hub.
    """
    if cur is hub:
        check_can_block(hub, cur)
    if timeout is None:
        return hub.switch()
    timer = hub.loop.add_timer(timeout, cur.switch, TIMED_OUT, ref=ref)
    try:
        return hub.switch()
    finally:
        timer.cancel()


def discard(links: Any, item: Any) -> None:
    """``links.remove(item)`` if it is there (a wait ending some other way)."""
    try:
        links.remove(item)
    except ValueError:
        pass
