"""Stale references: module globals that still hold an original.

A module that did ``from socket import create_connection`` before patching
keeps calling the blocking original. :func:`stale_references` finds such
globals in every loaded module (one pass over ``sys.modules``),
:func:`fix_references_now` rebinds them to the patched object (and converts
``ssl.SSLContext`` objects made before patching), and :func:`unfix` puts the
originals back when the patch is undone.
"""

from __future__ import annotations

import gc
import sys
from typing import Any, Iterable

from . import state
from .report import CONVERTED_PREFIX, StaleReference
from .table import BACKENDS, KEEP_ORIGINALS

__all__ = ["stale_references", "split_internal", "fix_references_now", "unfix",
           "old_ssl_contexts", "holders"]

_STDLIB_NAMES = frozenset(getattr(sys, "stdlib_module_names", ())) - {"__main__"}


def stale_references() -> list[StaleReference]:
    """Module globals that still hold an original patched object, e.g. a
    module that did ``from socket import create_connection`` before
    patching. Calls through them stay blocking. Modules of runtimes that keep
    originals on purpose (coopshell, gevent…) are not listed."""
    return [StaleReference(m, n, t) for m, n, t, _o, _r in _scan()]


def split_internal(refs: Iterable[StaleReference], prefixes: Iterable[str]
                   ) -> tuple[list[StaleReference], list[StaleReference]]:
    """``(user's, internal)``: the references in modules under one of the
    dotted ``prefixes`` (a front end's own packages) go apart."""
    prefixes = tuple(prefixes)
    user, internal = [], []
    for ref in refs:
        inside = any(ref.module == p or ref.module.startswith(p + ".") for p in prefixes)
        (internal if inside else user).append(ref)
    return user, internal


def fix_references_now(stdlib_only: bool = False, exclude: Iterable[str] = ()
                       ) -> list[StaleReference]:
    """Rebind every stale reference to the current patched object (undone by
    ``unpatch``); with ``stdlib_only``, only those in stdlib modules (such as
    ``socketserver._ServerSelector``); never those in the packages named in
    ``exclude`` (a front end's own). Returns what was rebound."""
    state.check_thread()
    exclude = tuple(exclude)
    fixed = []
    for mod_name, name, target, original, replacement in _scan():
        module = sys.modules.get(mod_name)
        if module is None or replacement is state.MISSING or replacement is None:
            continue
        if stdlib_only and mod_name.partition(".")[0] not in _STDLIB_NAMES:
            continue
        if any(mod_name == p or mod_name.startswith(p + ".") for p in exclude):
            continue
        try:
            module.__dict__[name] = replacement
        except Exception:  # a read-only namespace: stays reported as stale
            continue
        state.fixed.append((mod_name, name, original, replacement))
        fixed.append(StaleReference(mod_name, name, target))
    if not stdlib_only:
        fixed.extend(_convert_ssl_contexts())
    return fixed


def _originals() -> dict[int, tuple[Any, str, Any]]:
    """id(original) -> (original, label, current replacement)."""
    found: dict[int, tuple[Any, str, Any]] = {}
    for mod_name, items in state.saved.items():
        if mod_name == state.SETTINGS_KEY:
            continue
        module = sys.modules.get(mod_name)
        for attr, original in items.items():
            if original is state.MISSING or original is None or isinstance(original, (int, str, bytes)):
                continue
            current = module.__dict__.get(attr, state.MISSING) if module is not None else state.MISSING
            if current is original:
                continue
            if current is None and f"{mod_name}.{attr}" == "threading._CRLock":
                current = module.RLock  # functools.RLock & co: rebind to the factory, not None
            label = f"{mod_name}.{attr}" + (" (removed by patching)" if current is state.MISSING else "")
            found.setdefault(id(original), (original, label, current))
    return found


def _scan() -> list[tuple[str, str, str, Any, Any]]:
    originals = _originals()
    if not originals:
        return []
    found = []
    seen = set()
    for mod_name, module in list(sys.modules.items()):
        if mod_name in BACKENDS or mod_name.partition(".")[0] in KEEP_ORIGINALS:
            continue
        if mod_name in state.saved or id(module) in seen:
            continue  # a patched module, or an alias (requests.packages.urllib3)
        seen.add(id(module))
        try:
            spec_name = getattr(getattr(module, "__spec__", None), "name", None) or ""
            if spec_name.partition(".")[0] in KEEP_ORIGINALS:
                continue  # e.g. the runner, coopshell.monkey.__main__, running as __main__
            namespace = module.__dict__
            if not isinstance(namespace, dict):
                continue
            entries = list(namespace.items())
        except Exception:  # a lazy module object that refuses __dict__
            continue
        for name, value in entries:
            hit = originals.get(id(value))
            if hit is not None and hit[0] is value:
                found.append((mod_name, name, hit[1], value, hit[2]))
    return found


def unfix(originals: dict[int, Any]) -> None:
    """Put back the rebound references to any of ``originals`` (by id)."""
    keep = []
    for entry in state.fixed:
        mod_name, name, original, replacement = entry
        if id(original) not in originals:
            keep.append(entry)
            continue
        if callable(mod_name):  # an undo callable recorded by _convert_ssl_contexts
            mod_name()
            continue
        module = sys.modules.get(mod_name)
        if module is not None and module.__dict__.get(name, state.MISSING) is replacement:
            module.__dict__[name] = original
    state.fixed[:] = keep


def old_ssl_contexts() -> list[Any]:
    """``ssl.SSLContext`` objects created before patching (they keep making
    blocking sockets)."""
    orig = state.saved.get("ssl", {}).get("SSLContext", state.MISSING)
    ssl = sys.modules.get("ssl")
    if orig is state.MISSING or ssl is None or ssl.SSLContext is orig:
        return []
    new = ssl.SSLContext
    return [o for o in gc.get_objects() if isinstance(o, orig) and not isinstance(o, new)]


def _convert_ssl_contexts() -> list[StaleReference]:
    contexts = old_ssl_contexts()
    if not contexts:
        return []
    orig = state.saved["ssl"]["SSLContext"]
    new = sys.modules["ssl"].SSLContext
    fixed = []
    for ctx in contexts:
        if type(ctx) is not orig or not issubclass(new, orig):
            continue
        try:
            ctx.__class__ = new
        except TypeError:  # a layout the patched class cannot take: stays as it is
            continue

        def undo(ctx: Any = ctx) -> None:
            if type(ctx) is new:
                ctx.__class__ = orig
        state.fixed.append((undo, "", orig, new))
        fixed.append(StaleReference(f"{CONVERTED_PREFIX}SSLContext at {id(ctx):#x}>", "__class__",
                                    "ssl.SSLContext"))
    return fixed


def holders(objs: Iterable[Any]) -> list[str]:
    """``module.name`` of every module global bound to one of ``objs``."""
    ids = {id(o) for o in objs}
    out = []
    for mod_name, module in list(sys.modules.items()):
        try:
            for name, value in list(module.__dict__.items()):
                if id(value) in ids:
                    out.append(f"{mod_name}.{name}")
        except Exception:  # a lazy module object that refuses __dict__
            continue
    return out
