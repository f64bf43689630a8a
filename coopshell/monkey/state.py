"""What patching has changed, and the primitives that change it.

Every replaced attribute goes through :func:`set_item`, which saves the
original the first time in :data:`saved` (``{module: {name: original}}``),
so unpatching can put back the very same object. Extra fix-ups that are not
module attributes (logging locks, pinned methods of original classes) leave
an undo callable in :data:`undo_hooks`.
"""

from __future__ import annotations

import importlib
import sys
import threading as _threading
import types
from typing import Any, Callable, Sequence

__all__ = [
    "MonkeyPatchError", "MonkeyPatchWarning", "MISSING", "SavedOriginals", "SETTINGS_KEY", "saved", "fixed",
    "undo_hooks", "preload_skipped", "set_item", "remove_item", "get_original", "check_thread", "check_name",
    "module_of", "is_interactive",
]

# Captured at import: patching must never turn this package against itself.
_get_ident = _threading.get_ident
_main_thread = _threading.main_thread
_current_thread = _threading.current_thread


class MonkeyPatchError(RuntimeError):
    """Raised when patching is impossible: wrong thread, a coopshell module
    that is missing, a module without ``__implements__``."""


class MonkeyPatchWarning(RuntimeWarning):
    """Warned about patching that works but may not do what was meant
    (gevent's name): a module patched while a thread runs inside it, a
    context created before patching, a greenlet thread left running."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


#: Saved for an attribute the stdlib module did not have before patching.
MISSING: Any = _Missing()

class SavedOriginals(dict):
    """``{stdlib module name: {attribute: original object, or MISSING}}``,
    live: gevent's ``monkey.saved`` dict. Calling it gives a copy without
    the modules that hold nothing (coopshell's older ``saved()``)."""

    def __call__(self) -> dict[str, dict[str, Any]]:
        return {mod: dict(items) for mod, items in self.items() if items and mod != SETTINGS_KEY}


#: gevent's key in ``monkey.saved`` for the flags of the patch_all calls so far
#: (not a module: every walk over the saved originals skips it)
SETTINGS_KEY = "_gevent_saved_patch_all_module_settings"


#: what patching replaced, for unpatching and get_original
saved: SavedOriginals = SavedOriginals()
#: (module name, global name, original, replacement) rebound by the stale fix;
#: (undo callable, "", original, replacement) for converted objects
fixed: list[tuple[Any, str, Any, Any]] = []
#: stdlib module name -> callables that undo extra fix-ups (logging locks, ...)
undo_hooks: dict[str, list[Callable[[], None]]] = {}
#: coopshell module -> why it could not be imported (a missing optional dependency)
preload_skipped: dict[str, str] = {}


def set_item(module: types.ModuleType, name: str, value: Any) -> bool:
    """Set ``module.name = value`` (MISSING deletes it), saving the first
    original. Returns False when it is already so (patching is idempotent)."""
    mod_saved = saved.setdefault(module.__name__, {})
    current = module.__dict__.get(name, MISSING)
    if name in mod_saved and current is value:
        return False
    if name not in mod_saved:
        mod_saved[name] = current
    if value is MISSING:
        if current is not MISSING:
            delattr(module, name)
    else:
        setattr(module, name, value)
    return True


def remove_item(module: types.ModuleType, name: str) -> bool:
    """Delete ``module.name`` (saved for unpatching); False if absent."""
    if name not in module.__dict__:
        return False
    return set_item(module, name, MISSING)


def get_original(mod_name: str, item_name: str | Sequence[str]) -> Any:
    """The original ``mod_name.item_name`` from before patching (the current
    attribute if it is not patched). With a list of names, a list of objects."""
    check_name(mod_name, "mod_name")
    if isinstance(item_name, str):
        return _originals(mod_name, (item_name,))[0]
    if not isinstance(item_name, (list, tuple)) or not all(isinstance(n, str) for n in item_name):
        raise TypeError(f"item_name must be a str or a list of str, got {item_name!r}")
    return _originals(mod_name, item_name)


def _originals(mod_name: str, names: Sequence[str]) -> list[Any]:
    mod_saved = saved.get(mod_name, {})
    result = []
    for name in names:
        if name in mod_saved:
            value = mod_saved[name]
            if value is MISSING:
                raise AttributeError(f"{mod_name} had no attribute {name!r} before patching")
        else:
            value = getattr(importlib.import_module(mod_name), name)
        result.append(value)
    return result


def check_name(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a module or attribute name (str), got {value!r}")
    return value


def module_of(module: types.ModuleType | str) -> types.ModuleType:
    """A module object from a module or its name."""
    if isinstance(module, types.ModuleType):
        return module
    if isinstance(module, str):
        return importlib.import_module(module)
    raise TypeError(f"expected a module or a module name, got {module!r}")


def is_interactive() -> bool:
    """True in a REPL, IPython, a Jupyter kernel, ``python -i``, or a front
    end that set ``coopshell.monkey.INTERACTIVE``."""
    package = sys.modules.get(__package__ or "coopshell.monkey")
    return bool(getattr(package, "INTERACTIVE", False) or sys.flags.interactive
                or hasattr(sys, "ps1") or "IPython" in sys.modules or "ipykernel" in sys.modules)


def check_thread() -> None:
    """Patching is process-wide: only from the main thread, and only once
    every runtime module captured its originals."""
    if _get_ident() != _main_thread().ident:
        raise MonkeyPatchError(
            f"monkey patching must be done from the main thread, not from "
            f"{_current_thread().name!r}: patching is process-wide and not thread-safe")
    if not _preloaded:
        _preload()


# Runtime modules that must not be imported by patching: the front ends pull
# in prompt_toolkit / IPython / ipykernel, and this package is already loaded.
_NO_PRELOAD = frozenset({"interactive", "kernel", "demo", "__main__", "monkey", "_monkey"})
_preloaded = False


def _preload() -> None:
    """Import every runtime module before the first patch: each captures the
    stdlib originals it needs at import time, which only works if it is
    imported while they are still the originals.

    Only an ImportError for a module outside coopshell (an optional
    third-party dependency) is tolerated, and remembered in
    :data:`preload_skipped`; any other error is a bug and propagates."""
    global _preloaded
    import pkgutil

    import coopshell
    for info in pkgutil.iter_modules(coopshell.__path__):
        if info.name in _NO_PRELOAD:
            continue
        name = f"coopshell.{info.name}"
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing = exc.name or ""
            if not missing or missing == "coopshell" or missing.startswith("coopshell."):
                raise
            preload_skipped[name] = f"needs {missing!r}, which is not installed ({exc})"
    importlib.import_module("coopshell._monkey.thread")
    _preloaded = True
