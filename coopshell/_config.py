"""``coopshell.config``: gevent's ``gevent.config``, runtime settings by name.

    import coopshell
    coopshell.config.threadpool_size = 20

Each setting has a default, can be read and assigned as an attribute, and can
also come from the environment (``COOPSHELL_THREADPOOL_SIZE=20`` or gevent's
``GEVENT_THREADPOOL_SIZE``). Unknown names raise ``AttributeError`` naming the
known ones, so a typo is never ignored.

Differs from gevent: coopshell acts on ``threadpool_size`` (the size of each
hub's default pool; None: ``threadpool.DEFAULT_MAXSIZE``). The other names are
accepted so that gevent code that sets them runs, and are listed in
``Config.STORED_ONLY``: coopshell has one loop and one hub implementation.
"""

from __future__ import annotations

import os
from typing import Any, Callable

__all__ = ["Config", "config"]


def _int(value: Any) -> int:
    v = int(value)
    if v < 0:
        raise ValueError(f"must be >= 0, got {v}")
    return v


def _float(value: Any) -> float:
    return float(value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _str(value: Any) -> Any:
    return value


#: name -> (default, converter)
_SETTINGS: dict[str, tuple[Any, Callable[[Any], Any]]] = {
    "threadpool_size": (None, _int),
    "resolver": ("thread", _str),
    "resolver_nameservers": (None, _str),
    "resolver_timeout": (None, _str),
    "threadpool": ("coopshell.threadpool.ThreadPool", _str),
    "threadpool_idle_task_timeout": (5.0, _float),
    "hub": ("coopshell._core.hub.Hub", _str),
    "loop": ("coopshell._core.loop.Loop", _str),
    "format_context": ("pprint.saferepr", _str),
    "file_object": ("posix", _str),
    "monitor_thread": (False, _bool),
    "max_blocking_time": (0.1, _float),
    "memory_monitor_period": (5.0, _float),
    "max_memory_usage": (None, _str),
    "track_greenlet_tree": (True, _bool),
    "disable_watch_children": (False, _bool),
}


class Config:
    """Runtime settings, by attribute name (gevent's ``Config``)."""

    #: Names accepted for gevent compatibility that coopshell does not act on.
    STORED_ONLY = frozenset(_SETTINGS) - {"threadpool_size"}

    def __init__(self) -> None:
        object.__setattr__(self, "_values", {})

    def __getattr__(self, name: str) -> Any:
        try:
            default, convert = _SETTINGS[name]
        except KeyError:
            raise AttributeError(f"coopshell.config has no setting {name!r}; known settings: "
                                 f"{', '.join(sorted(_SETTINGS))}") from None
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        env = os.environ.get(f"COOPSHELL_{name.upper()}", os.environ.get(f"GEVENT_{name.upper()}"))
        return default if env is None else convert(env)

    def __setattr__(self, name: str, value: Any) -> None:
        self.set(name, value)

    def set(self, name: str, value: Any) -> None:
        """Set ``name`` (validated as its default's type)."""
        if name not in _SETTINGS:
            raise AttributeError(f"coopshell.config has no setting {name!r}; known settings: "
                                 f"{', '.join(sorted(_SETTINGS))}")
        convert = _SETTINGS[name][1]
        try:
            converted = value if value is None else convert(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad value for coopshell.config.{name}: {value!r} ({exc})") from None
        object.__getattribute__(self, "_values")[name] = converted

    @property
    def settings(self) -> dict[str, Any]:
        """Every setting and its current value."""
        return {name: getattr(self, name) for name in _SETTINGS}

    def __dir__(self) -> list[str]:
        return sorted(set(_SETTINGS) | {"set", "settings", "STORED_ONLY"})

    def __repr__(self) -> str:
        return f"<coopshell.config {self.settings!r}>"


#: The process-wide settings object.
config = Config()
