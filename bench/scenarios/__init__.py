"""The benchmark scenarios, one module each (see :mod:`bench.common` for the
module contract). Adding a scenario means adding a module here: the runner
finds it by name, in the order of ``ORDER`` and then alphabetically."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["ORDER", "names", "load"]

#: Core scenarios first, in the order the table shows them.
ORDER = ["spawn_join", "sleep0_pingpong", "event_pingpong", "queue_pingpong", "timers",
         "rss_parked", "idle_cpu"]


def names() -> list[str]:
    """All scenario module names."""
    found = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def load(name: str) -> ModuleType:
    """Import scenario ``name`` (its module imports no implementation)."""
    return importlib.import_module(f"{__name__}.{name}")
