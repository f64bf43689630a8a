"""Greenlet-local storage: ``threading.local`` where each greenlet is a thread.

``local()`` objects hold a separate attribute dict per greenlet, created on
the greenlet's first access; a subclass's ``__init__`` runs again, with the
constructor's arguments, in each greenlet that touches the object.

Differs from the stdlib (and from a naive port):

- The key is ``coopshell.getcurrent()``: the Greenlet, not the worker
  greenlet running it (workers run Greenlet after Greenlet, and each must
  start with empty locals). The main greenlet and the hub have their own.
- A Greenlet's dicts are dropped as soon as it finishes (by a link), not
  when its handle is garbage collected; other greenlets' dicts go with the
  greenlet (a weak reference). A dropped ``local`` frees every greenlet's dict.
"""

from __future__ import annotations

from typing import Any, NoReturn
from weakref import ref as _weakref

from greenlet import getcurrent as _getcurrent

from ._worker import Worker as _Worker
from .greenlet import Greenlet

__all__ = ["local", "all_local_dicts_for_greenlet"]

_oga = object.__getattribute__
_osa = object.__setattr__
_oda = object.__delattr__


class _LocalImpl:
    """The per-greenlet dicts of one ``local`` object.

    ``dicts`` maps ``id(key)`` to ``(weakref to key, dict)``. An entry leaves
    when its key finishes (Greenlet link) or dies (weakref callback): the id
    cannot be reused before either happens.
    """

    __slots__ = ("dicts", "args", "kwargs", "wrlocal", "__weakref__")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.dicts: dict[int, tuple[Any, dict[str, Any]]] = {}
        self.args = args
        self.kwargs = kwargs
        self.wrlocal: Any = None   # weakref to the ``local`` (set by local.__new__)

    def create_dict(self, key: Any) -> dict[str, Any]:
        """A new, empty dict for ``key``, cleaned up when ``key`` is done;
        a Greenlet's link is removed again if this local dies first (a
        running greenlet that makes many locals must not pile up links)."""
        d: dict[str, Any] = {}
        idk = id(key)
        is_glet = isinstance(key, Greenlet)
        linked: list[Any] = []

        def impl_gone(_r: Any) -> None:
            k = wrkey() if wrkey is not None else None
            if k is not None and linked:
                k.unlink(linked.pop())

        wrimpl = _weakref(self, impl_gone) if is_glet else _weakref(self)

        def drop(_ignored: Any, idk: int = idk, wrimpl: Any = wrimpl) -> None:
            impl = wrimpl()
            if impl is not None:
                entry = impl.dicts.pop(idk, None)
                loc = impl.wrlocal() if impl.wrlocal is not None else None
                if entry is not None and loc is not None and _get_raw_dict(loc) is entry[1]:
                    # The finished greenlet's dict is still installed as the
                    # object's __dict__: let it go now (gevent issue 387).
                    _set_dict(loc, {})

        try:
            wrkey: Any = _weakref(key, drop)
        except TypeError:  # pragma: no cover - every greenlet type supports weakrefs
            wrkey = None
        self.dicts[idk] = (wrkey, d)
        if is_glet:
            linked.append(drop)
            key.rawlink(drop)
        return d


def all_local_dicts_for_greenlet(greenlet: Any) -> list[tuple[tuple[type, int], dict[str, Any]]]:
    """Debug helper (gevent's): ``[((type, id), dict), ...]`` for every live
    ``local`` that has a dict for ``greenlet``. Walks the GC's objects: slow,
    for inspection only."""
    import gc
    result = []
    for obj in gc.get_objects():
        if isinstance(obj, local):
            entry = _oga(obj, "_local__impl").dicts.get(id(greenlet))
            if entry is not None and entry[0] is not None and entry[0]() is greenlet:
                result.append(((type(obj), id(obj)), entry[1]))
    return result


def _current_key() -> Any:
    g = _getcurrent()
    if type(g) is _Worker:
        task = g.task
        if task is not None:
            return task
    return g


def _get_dict(self: local) -> dict[str, Any]:
    """The calling greenlet's dict, installed as ``self.__dict__``; created
    (and ``__init__`` run) on first use."""
    impl: _LocalImpl = _oga(self, "_local__impl")
    key = _current_key()
    entry = impl.dicts.get(id(key))
    if entry is not None:
        d = entry[1]
        _set_dict(self, d)
        return d
    d = impl.create_dict(key)
    _set_dict(self, d)
    cls = type(self)
    if cls.__init__ is not object.__init__:
        cls.__init__(self, *impl.args, **impl.kwargs)
    return d


class local:
    """An object whose attributes are separate in each greenlet."""

    __slots__ = ("_local__impl", "__dict__", "__weakref__")

    def __new__(cls, /, *args: Any, **kwargs: Any) -> local:
        if (args or kwargs) and cls.__init__ is object.__init__:
            raise TypeError("Initialization arguments are not supported: local() takes none "
                            "unless a subclass defines __init__")
        self = object.__new__(cls)
        impl = _LocalImpl(args, kwargs)
        impl.wrlocal = _weakref(self)
        _osa(self, "_local__impl", impl)
        # The creating greenlet's dict; Python calls __init__ on it next.
        _set_dict(self, impl.create_dict(_current_key()))
        return self

    def __getattribute__(self, name: str) -> Any:
        # _get_dict's lookup, inlined: every attribute access comes here.
        g = _getcurrent()
        if type(g) is _Worker and g.task is not None:
            g = g.task
        entry = _oga(self, "_local__impl").dicts.get(id(g))
        if entry is None:
            _get_dict(self)
        else:
            _set_dict(self, entry[1])
        return _oga(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "__dict__":
            raise AttributeError(f"{type(self).__name__!r} object attribute '__dict__' is read-only")
        _get_dict(self)
        _osa(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name == "__dict__":
            raise AttributeError(f"{type(self).__name__!r} object attribute '__dict__' is read-only")
        _get_dict(self)
        _oda(self, name)

    def __copy__(self) -> local:
        """A new local of the same type (made with the same arguments) whose
        dict in the calling greenlet is a shallow copy of this one's (gevent)."""
        impl = _oga(self, "_local__impl")
        current = dict(_get_dict(self))
        new = type(self)(*impl.args, **impl.kwargs)
        d = _get_dict(new)
        d.clear()
        d.update(current)
        return new

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"cannot pickle {type(self).__name__!r} object (greenlet-local)")


_set_dict = local.__dict__["__dict__"].__set__
_get_raw_dict = local.__dict__["__dict__"].__get__
