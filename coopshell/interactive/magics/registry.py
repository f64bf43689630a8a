"""The registry of the session's greenlets, behind ``%greenlets`` and ``%kill``.

:func:`enable_tracking` adds one spawn observer
(``coopshell.greenlet.add_spawn_observer``), which ``Greenlet.__init__``
calls only when some observer is registered: zero cost when no front end
tracks. The observer gives each greenlet its ``minimal_ident`` at spawn, so
IDs follow spawn order. The registry holds the greenlets strongly (so
``%greenlets -a`` can show finished ones) and drops finished ones beyond the
newest :data:`KEEP_FINISHED`, amortised over spawns. Without tracking,
``%greenlets`` falls back to ``coopshell.util.all_greenlets`` (a scan of ``gc``).
"""

from __future__ import annotations

from ... import greenlet as _greenlet_mod
from ...greenlet import Greenlet
from ...util import all_greenlets

__all__ = ["enable_tracking", "disable_tracking", "tracking_enabled", "tracked", "live_greenlets",
           "KEEP_FINISHED"]

#: Finished greenlets kept for ``%greenlets -a``.
KEEP_FINISHED = 1000
_PRUNE_EVERY = 1024

_registry: dict[int, Greenlet] = {}
_added = 0


def _observe(g: Greenlet) -> None:
    global _added
    g.minimal_ident      # given out now: IDs in spawn order
    _registry[id(g)] = g
    _added += 1
    if _added >= _PRUNE_EVERY:
        _added = 0
        _prune()


def _prune() -> None:
    dead = [k for k, g in _registry.items() if g.dead]
    for k in dead[:max(0, len(dead) - KEEP_FINISHED)]:           # dict order: oldest first
        del _registry[k]


def enable_tracking() -> None:
    """Record every Greenlet created from now on (for ``%greenlets``)."""
    _greenlet_mod.add_spawn_observer(_observe)


def tracking_enabled() -> bool:
    """True while new Greenlets are recorded for ``%greenlets``."""
    return _greenlet_mod.has_spawn_observer(_observe)


def disable_tracking() -> None:
    """Stop recording new Greenlets and forget the recorded ones."""
    _greenlet_mod.remove_spawn_observer(_observe)
    _registry.clear()


def tracked(include_finished: bool = False) -> list[Greenlet]:
    """Greenlets of the session, oldest first (from the registry, else from gc)."""
    if not tracking_enabled():
        return all_greenlets(include_finished)
    gs = list(_registry.values())
    if not include_finished:
        gs = [g for g in gs if not g.dead]
    return gs


def live_greenlets() -> list[Greenlet]:
    """Greenlets of the session not finished yet."""
    return tracked(False)
