"""Small, reusable integer idents for live objects: gevent's ``gevent._ident``.

``IdentRegistry().get_ident(obj)`` numbers objects 0, 1, 2… in the order
first asked; the number of an object that dies is free again, and the
smallest free number is handed out next. Readable ids for greenlets in
logs and reprs (``id()`` is a long address that the allocator reuses
without telling).
"""

from __future__ import annotations

import heapq
import weakref
from typing import Any

__all__ = ["IdentRegistry"]


class IdentRegistry:
    """Maps live objects (weakly referenceable ones) to small integers."""

    __slots__ = ("_registry", "_available", "__weakref__")

    def __init__(self) -> None:
        # weakref -> ident; the weakref's callback frees the ident
        self._registry: dict[weakref.ref, int] = {}
        self._available: list[int] = []  # a heap of freed idents

    def get_ident(self, obj: Any) -> int:
        """The ident of ``obj``: the one it already has, else the smallest free."""
        try:
            return self._registry[weakref.ref(obj)]
        except TypeError:
            raise TypeError(f"IdentRegistry needs an object that takes weak references, got "
                            f"{type(obj).__name__}") from None
        except KeyError:
            pass
        ident = heapq.heappop(self._available) if self._available else len(self._registry)
        self._registry[weakref.ref(obj, _Free(self))] = ident
        return ident

    def __len__(self) -> int:
        return len(self._registry)


class _Free:
    """A weakref callback that gives a dead object's ident back (holds the
    registry weakly, so a registry dropped first is no error)."""

    __slots__ = ("registry",)

    def __init__(self, registry: IdentRegistry) -> None:
        self.registry = weakref.ref(registry)

    def __call__(self, ref: weakref.ref) -> None:
        registry = self.registry()
        if registry is None:
            return
        ident = registry._registry.pop(ref, None)
        if ident is not None:
            heapq.heappush(registry._available, ident)
