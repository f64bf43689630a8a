"""coopshell: cooperative concurrency on greenlets, at home in interactive sessions.

The API follows gevent's names and semantics, so ``import coopshell as gevent``
runs ordinary gevent code::

    import coopshell as co
    jobs = [co.spawn(pow, 2, n) for n in range(10)]
    co.joinall(jobs, timeout=2)
    print([j.value for j in jobs])

The names below are loaded on first use (a module ``__getattr__``), so that
``import coopshell._core.loop`` loads the engine alone, without the sync layer.
"""

from __future__ import annotations

import sys as _sys

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: ``typing`` costs ~9 ms of a cold import
    from typing import Any
del TYPE_CHECKING

__version__ = "0.1.0"

#: gevent's ``version_info`` shape: (major, minor, micro, releaselevel, serial).
version_info = (0, 1, 0, "final", 0)

#: Public name -> the module that defines it.
_LAZY = {
    "Greenlet": "coopshell.greenlet", "spawn": "coopshell.greenlet", "spawn_later": "coopshell.greenlet",
    "spawn_raw": "coopshell.greenlet", "joinall": "coopshell.greenlet", "killall": "coopshell.greenlet",
    "kill": "coopshell.greenlet", "wait": "coopshell.greenlet", "iwait": "coopshell.greenlet",
    "getcurrent": "coopshell.greenlet",
    "Timeout": "coopshell.timeout", "with_timeout": "coopshell.timeout",
    "sleep": "coopshell._core.hub", "idle": "coopshell._core.hub", "get_hub": "coopshell._core.hub",
    "reinit": "coopshell._core.hub",
    "GreenletExit": "coopshell._core.exceptions", "LoopExit": "coopshell._core.exceptions",
    "BlockingSwitchOutError": "coopshell._core.exceptions",
    "config": "coopshell._config", "fork": "coopshell.os",
    "getswitchinterval": "sys", "setswitchinterval": "sys",
}

__all__ = ["Greenlet", "GreenletExit", "spawn", "spawn_later", "spawn_raw", "joinall", "killall",
           "kill", "wait", "iwait", "sleep", "idle", "getcurrent", "get_hub", "Timeout",
           "with_timeout", "LoopExit", "BlockingSwitchOutError", "signal_handler", "reinit",
           "config", "fork", "getswitchinterval", "setswitchinterval", "version_info",
           "__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'coopshell' has no attribute {name!r}")
    __import__(module)     # not importlib: it is one more module on the import path
    value = getattr(_sys.modules[module], name)
    globals()[name] = value   # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def _default_threadpool(hub: Any) -> Any:
    # The hub's default pool lives in the io layer; the core only calls the
    # factory registered with it. Registered here, at the package root (above
    # every layer), so ``get_hub().threadpool`` works after ``import coopshell``
    # as in gevent, while the pool's module loads only on first use.
    __import__("coopshell.threadpool")
    return _sys.modules["coopshell.threadpool"].get_default_pool(hub)


from ._core import hub as _hub  # noqa: E402  (the core alone: no sync layer)

_hub.set_threadpool_factory(_default_threadpool)


def signal_handler(signalnum: int, handler: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``handler(*args, **kwargs)`` in a new greenlet each time
    ``signalnum`` arrives. Returns the watcher; ``.cancel()`` stops it."""
    from .signal import signal_handler as _impl
    return _impl(signalnum, handler, *args, **kwargs)


# -- IPython extension hooks (``%load_ext coopshell``); imports IPython lazily ----------

def load_ipython_extension(ip: Any) -> None:
    """``%load_ext coopshell``: run the hub while IPython is idle, add the magics."""
    from .interactive.ipython_ext import load_ipython_extension as _load
    _load(ip)


def unload_ipython_extension(ip: Any) -> None:
    """``%unload_ext coopshell``: undo :func:`load_ipython_extension`."""
    from .interactive.ipython_ext import unload_ipython_extension as _unload
    _unload(ip)
