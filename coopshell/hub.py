"""gevent's ``gevent.hub`` names: the hub, waiting, and raw greenlets.

``from coopshell.hub import get_hub, getcurrent, sleep`` works as it does with
gevent. The hub itself is ``coopshell._core.hub.Hub``; this module only
gathers the public names in gevent's place for them.
"""

from __future__ import annotations

from typing import Any, Callable

from ._core.exceptions import BlockingSwitchOutError, ConcurrentObjectUseError, GreenletExit, LoopExit
from ._core.hub import Hub, get_hub, get_hub_if_exists, idle, reinit, set_hub, sleep
from ._core.waiter import Waiter
from .greenlet import getcurrent, iwait, kill, spawn_raw, wait
from .signal import SignalHandle

__all__ = ["getcurrent", "GreenletExit", "spawn_raw", "sleep", "kill", "signal", "reinit", "get_hub",
           "Hub", "Waiter", "idle", "iwait", "wait", "set_hub", "get_hub_if_exists", "LoopExit",
           "BlockingSwitchOutError", "ConcurrentObjectUseError"]

#: gevent's private spelling of get_hub_if_exists (its tests and some libraries use it)
_get_hub = get_hub_if_exists


class signal(SignalHandle):  # noqa: N801 - gevent's name
    """``signal(signalnum, handler, *args, **kwargs)``: call the handler in a
    new greenlet each time the signal arrives; ``cancel()`` stops it."""

    def __init__(self, signalnum: int, handler: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(signalnum, handler, args, kwargs)
