"""coopshell: cooperative concurrency on greenlets, at home in interactive sessions.

The API follows gevent's names and semantics, so ``import coopshell as gevent``
runs ordinary gevent code::

    import coopshell as co
    jobs = [co.spawn(pow, 2, n) for n in range(10)]
    co.joinall(jobs, timeout=2)
    print([j.value for j in jobs])
"""

from __future__ import annotations

from ._core.exceptions import BlockingSwitchOutError, GreenletExit, LoopExit
from ._core.hub import get_hub, idle, reinit, sleep
from .greenlet import (Greenlet, getcurrent, iwait, joinall, kill, killall, spawn, spawn_later,
                       spawn_raw, wait)
from .timeout import Timeout, with_timeout

__version__ = "0.1.0"

__all__ = ["Greenlet", "GreenletExit", "spawn", "spawn_later", "spawn_raw", "joinall", "killall",
           "kill", "wait", "iwait", "sleep", "idle", "getcurrent", "get_hub", "Timeout",
           "with_timeout", "LoopExit", "BlockingSwitchOutError", "signal_handler", "reinit",
           "__version__"]


def signal_handler(signalnum: int, handler, *args, **kwargs):
    """Run ``handler(*args, **kwargs)`` in a new greenlet each time
    ``signalnum`` arrives. Returns the watcher; ``.cancel()`` stops it."""
    from .signal import signal_handler as _impl
    return _impl(signalnum, handler, *args, **kwargs)


# -- IPython extension hooks (``%load_ext coopshell``); imports IPython lazily ----------

def load_ipython_extension(ip) -> None:
    """``%load_ext coopshell``: run the hub while IPython is idle, add the magics."""
    from .interactive.ipython_ext import load_ipython_extension as _load
    _load(ip)


def unload_ipython_extension(ip) -> None:
    """``%unload_ext coopshell``: undo :func:`load_ipython_extension`."""
    from .interactive.ipython_ext import unload_ipython_extension as _unload
    _unload(ip)
