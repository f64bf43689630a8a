"""Undo patching: put back the very same original objects.

``unpatch("socket")`` restores every attribute saved for the patch's stdlib
modules, runs their undo hooks (logging locks, pinned methods), and rebinds
the stale references that were fixed back to the originals.
"""

from __future__ import annotations

import sys
import threading as _threading
import warnings

from . import state
from .stale import unfix
from .state import MonkeyPatchWarning
from .table import modules_of

__all__ = ["unpatch", "unpatch_all"]

# Captured at import: the bookkeeping of the real threading module.
_active = _threading._active  # type: ignore[attr-defined]


def unpatch(*names: str) -> list[str]:
    """Restore the originals of the given patches (``"socket"``, ``"thread"``,
    ``"time"``…, or stdlib module names such as ``"threading"``), including the
    stale references that were rebound. Returns the modules restored."""
    state.check_thread()
    modules: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"unpatch() takes patch names as str, got {name!r}")
        mods = (name,) if name in state.saved else modules_of(name)
        modules.extend(m for m in mods if m not in modules)
    if "threading" in modules and "threading" in state.saved:
        _detach_greenlet_threads()
    restored = []
    for mod_name in modules:
        items = state.saved.pop(mod_name, None)
        for hook in reversed(state.undo_hooks.pop(mod_name, [])):
            hook()
        if not items:
            continue
        module = sys.modules.get(mod_name)
        originals = {id(v): v for v in items.values() if v is not state.MISSING}
        if module is not None:
            for attr, original in items.items():
                if original is state.MISSING:
                    module.__dict__.pop(attr, None)
                else:
                    setattr(module, attr, original)
        unfix(originals)
        restored.append(mod_name)
    return restored


def unpatch_all() -> list[str]:
    """Restore every patched module; returns the modules restored. The
    record of earlier ``patch_all`` flags goes too (patching again is new)."""
    restored = unpatch(*[m for m in state.saved if m != state.SETTINGS_KEY])
    state.saved.pop(state.SETTINGS_KEY, None)
    return restored


def _detach_greenlet_threads() -> None:
    """Greenlet threads still running finish as greenlets, and must not
    unregister the real threads on their way out."""
    from .._monkey.thread import detach, is_greenlet_thread
    alive = [t for t in list(_active.values()) if is_greenlet_thread(t) and t.is_alive()]
    if alive:
        detach(alive)
        warnings.warn(f"unpatching threading while {len(alive)} greenlet thread(s) still run "
                      f"({', '.join(t.name for t in alive[:5])}): they finish as greenlets, "
                      f"with greenlet locks", MonkeyPatchWarning, stacklevel=3)
