"""``import gevent`` resolves to coopshell: an alias for unmodified gevent code.

:func:`alias_gevent` puts a finder first on ``sys.meta_path``. ``gevent``
is the ``coopshell`` package and ``gevent.X`` is ``coopshell.X``: the very
same module objects, with their own ``__name__`` and ``__spec__``, so
``gevent.socket is coopshell.socket`` and nothing is imported twice. A
gevent module that coopshell lacks raises an ImportError that says so.

``passthrough`` names subpackages (``"gevent.testing"``) that are loaded
from the files of a real, installed gevent distribution, as submodules of
the alias: gevent's test helpers then run against coopshell.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any, Iterable, Sequence

from .state import MonkeyPatchError

__all__ = ["alias_gevent", "unalias_gevent", "GeventAliasFinder"]

ALIAS = "gevent"
TARGET = "coopshell"


class GeventAliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``gevent`` and ``gevent.X`` as coopshell's modules."""

    def __init__(self, passthrough: Sequence[str], real_path: list[str] | None) -> None:
        self.passthrough = tuple(passthrough)
        self.real_path = real_path

    def _passed(self, fullname: str) -> str | None:
        for name in self.passthrough:
            if fullname == name or fullname.startswith(name + "."):
                return name
        return None

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        passed = self._passed(fullname)
        if passed is not None:
            if fullname != passed:
                return None  # a child: the path finder looks in the parent's real __path__
            parent, _, _ = fullname.rpartition(".")
            search = sys.modules[parent].__path__ if parent != ALIAS else self.real_path
            spec = importlib.machinery.PathFinder.find_spec(fullname, search)
            if spec is None:
                raise ImportError(f"{fullname} is not in the installed gevent distribution "
                                  f"({', '.join(self.real_path or ())}); passthrough names "
                                  f"must be gevent's own subpackages", name=fullname)
            return spec
        real_name = TARGET + fullname[len(ALIAS):]
        try:
            module = importlib.import_module(real_name)
        except ModuleNotFoundError as exc:
            if exc.name != real_name:
                raise
            raise ImportError(f"No module named {fullname!r}: the gevent alias maps {fullname} to "
                              f"{real_name}, and coopshell has no such module", name=fullname) from None
        return importlib.machinery.ModuleSpec(fullname, _SameModule(module),
                                              is_package=hasattr(module, "__path__"))


class _SameModule(importlib.abc.Loader):
    """Hands out an already imported module, and gives it back its own spec."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self.module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self.spec  # the import system set the alias's spec on it

    # runpy (``python -m gevent.monkey``) asks the loader for the code: the real module's
    def _real_loader(self, what: str) -> Any:
        loader = getattr(self.spec, "loader", None)
        if loader is None or not hasattr(loader, what):
            raise ImportError(f"{self.spec.name if self.spec else self.module.__name__} has no "
                              f"loader that gives its {what.partition('_')[2]}",
                              name=self.module.__name__)
        return getattr(loader, what)

    def get_code(self, fullname: str) -> Any:
        return self._real_loader("get_code")(self.spec.name)

    def get_source(self, fullname: str) -> str | None:
        return self._real_loader("get_source")(self.spec.name)

    def is_package(self, fullname: str) -> bool:
        return hasattr(self.module, "__path__")

    def get_filename(self, fullname: str) -> str:
        return self._real_loader("get_filename")(self.spec.name)


_finder: GeventAliasFinder | None = None


def alias_gevent(*, shadow_installed: bool = False, passthrough: Iterable[str] = ()) -> None:
    """Make ``import gevent`` and ``import gevent.X`` give coopshell's modules.

    An installed real gevent is shadowed only with ``shadow_installed=True``;
    otherwise finding one (imported or not) raises :class:`MonkeyPatchError`
    saying what to do. ``passthrough`` lists dotted subpackages of gevent
    (``"gevent.testing"``) loaded from the installed distribution's files
    instead. Calling it again replaces the previous alias."""
    global _finder
    passthrough = tuple(passthrough)
    for name in passthrough:
        if not isinstance(name, str) or not name.startswith(ALIAS + "."):
            raise TypeError(f"passthrough names must be dotted names under gevent "
                            f"(e.g. 'gevent.testing'), got {name!r}")
    real = _installed_gevent()
    _check_real(real, shadow_installed)
    if passthrough and real is None:
        raise MonkeyPatchError(f"passthrough {', '.join(passthrough)} needs an installed gevent "
                               f"distribution to load from, and none was found on sys.path")
    if "gevent" in sys.modules and sys.modules["gevent"] is not importlib.import_module(TARGET):
        for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + ".")]:
            del sys.modules[name]  # shadow_installed=True: forget the real one
    unalias_gevent()
    _finder = GeventAliasFinder(passthrough, real)
    sys.meta_path.insert(0, _finder)


def unalias_gevent() -> None:
    """Remove the alias (modules already imported through it stay in use)."""
    global _finder
    if _finder is not None and _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + ".")]:
        module = sys.modules[name]
        if getattr(module.__spec__, "name", "").partition(".")[0] == TARGET:
            del sys.modules[name]
    _finder = None


def _installed_gevent() -> list[str] | None:
    """The search path of a real gevent on sys.path, or None."""
    for finder in sys.meta_path:
        if isinstance(finder, GeventAliasFinder):
            continue
        find = getattr(finder, "find_spec", None)
        spec = find(ALIAS, None) if find is not None else None
        if spec is not None and spec.submodule_search_locations is not None:
            return list(spec.submodule_search_locations)
    return None


def _check_real(real: list[str] | None, shadow_installed: bool) -> None:
    if shadow_installed:
        return
    imported = sys.modules.get(ALIAS)
    if imported is not None and getattr(imported.__spec__, "name", ALIAS).partition(".")[0] != TARGET:
        raise MonkeyPatchError(
            f"the real gevent is already imported (from {getattr(imported, '__file__', '?')}): "
            f"call alias_gevent() before anything imports gevent, or pass shadow_installed=True "
            f"(modules that already hold the real gevent keep it)")
    if real is not None:
        raise MonkeyPatchError(
            f"a real gevent is installed ({', '.join(real)}): alias_gevent(shadow_installed=True) "
            f"makes `import gevent` load coopshell anyway")
