"""Keep the original classes of a patched module working.

Some stdlib methods find their own class through the module global, for
instance ``ssl.SSLContext``'s property setters call
``super(SSLContext, SSLContext).options.__set__(self, value)``. Once
patching makes ``ssl.SSLContext`` the coopshell subclass, that ``super``
lands back on the original property, and every context made before
patching (``urllib3`` and ``requests`` make one at import) dies with
``RecursionError`` on its first setter call.

The fix needs no flag: each method of an original class whose code names
a patched global gets a copy of itself whose globals are the module's with
the patched names bound to the originals, which is exactly what the method
saw before patching. The copy behaves the same for instances of the
patched subclass (the ``super`` then skips to the C base class, as the
subclass's own overrides do). Unpatching puts the very same methods back.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from . import state

__all__ = ["pin_original_classes"]


def pin_original_classes(mod_name: str) -> int:
    """Pin the methods of ``mod_name``'s original, now-replaced classes;
    returns how many were pinned (undone with the module's unpatch)."""
    module = sys.modules[mod_name]
    originals = {n: o for n, o in state.saved.get(mod_name, {}).items()
                 if o is not state.MISSING and module.__dict__.get(n, state.MISSING) is not o}
    classes = [o for o in originals.values()
               if isinstance(o, type) and o.__module__ == mod_name and not _is_pinned(o)]
    if not classes:
        return 0
    names = frozenset(originals)
    namespace = dict(module.__dict__)
    namespace.update(originals)
    undo: list[tuple[type, str, Any]] = []
    for cls in classes:
        for attr, value in list(vars(cls).items()):
            pinned = _pinned(value, names, namespace)
            if pinned is not None:
                setattr(cls, attr, pinned)
                undo.append((cls, attr, value))
        setattr(cls, _MARK, True)
        undo.append((cls, _MARK, state.MISSING))

    def unpin() -> None:
        for cls, attr, value in reversed(undo):
            if value is state.MISSING:
                delattr(cls, attr)
            else:
                setattr(cls, attr, value)
    state.undo_hooks.setdefault(mod_name, []).append(unpin)
    return sum(1 for _cls, attr, _v in undo if attr != _MARK)


_MARK = "_coopshell_pinned"


def _is_pinned(cls: type) -> bool:
    return _MARK in vars(cls)


def _pinned(value: Any, names: frozenset[str], namespace: dict[str, Any]) -> Any:
    """A copy of ``value`` (function, classmethod, staticmethod or property)
    bound to ``namespace``, or None when it names none of ``names``."""
    if isinstance(value, types.FunctionType):
        return _copy(value, namespace) if _names_any(value.__code__, names) else None
    if isinstance(value, (classmethod, staticmethod)):
        inner = _pinned(value.__func__, names, namespace)
        return None if inner is None else type(value)(inner)
    if isinstance(value, property):
        parts = [value.fget, value.fset, value.fdel]
        new = [_pinned(p, names, namespace) if p is not None else None for p in parts]
        if all(n is None for n in new):
            return None
        fget, fset, fdel = (n if n is not None else p for n, p in zip(new, parts))
        return property(fget, fset, fdel, value.__doc__)
    return None


def _names_any(code: types.CodeType, names: frozenset[str]) -> bool:
    if not names.isdisjoint(code.co_names):
        return True
    return any(isinstance(c, types.CodeType) and _names_any(c, names) for c in code.co_consts)


def _copy(func: types.FunctionType, namespace: dict[str, Any]) -> types.FunctionType:
    new = types.FunctionType(func.__code__, namespace, func.__name__, func.__defaults__,
                             func.__closure__)
    new.__kwdefaults__ = func.__kwdefaults__
    new.__qualname__ = func.__qualname__
    new.__doc__ = func.__doc__
    new.__module__ = func.__module__
    new.__dict__.update(func.__dict__)
    new.__wrapped_original__ = func  # type: ignore[attr-defined]
    return new
