"""Each cooperative stand-in for a stdlib module follows STYLE.md's name lists.

``__implements__`` (stdlib names rewritten to cooperate), ``__extensions__``
(names only coopshell has) and ``__imports__`` (stdlib objects passed through,
computed from the running stdlib) add up to ``__all__``; every name the
running stdlib exports is in one of them or in ``_NOT_IMPLEMENTED`` below,
with the reason. A new stdlib name that is a callable therefore fails here
until someone files it under ``__implements__``, the module's ``_REVIEWED``
set, or ``_NOT_IMPLEMENTED``.

A module that has not adopted the lists yet (no ``__implements__``,
``__imports__``, ``__extensions__`` and ``_REVIEWED``) is skipped with the
module and its owner named; the checks turn on by themselves once it has them.
"""

from __future__ import annotations

import importlib
import types

import pytest

#: stdlib module -> (coopshell module, who owns it).
_MODULES = {
    "socket": ("coopshell.socket", "io/pyver"),
    "ssl": ("coopshell.ssl", "io/pyver"),
    "time": ("coopshell.time", "io/pyver"),
    "contextvars": ("coopshell.contextvars", "io/pyver"),
    "select": ("coopshell.select", "core"),
    "selectors": ("coopshell.selectors", "core"),
    "subprocess": ("coopshell.subprocess", "core"),
    "os": ("coopshell.os", "core"),
    "queue": ("coopshell.queue", "core"),
    "signal": ("coopshell.signal", "monkey"),
    "threading": ("coopshell.threading", "monkey"),
}

#: (stdlib module, name) -> why coopshell leaves that stdlib name out.
_NOT_IMPLEMENTED = {
    ("ssl", "socket"): "the stdlib socket class that ssl merely imports; use coopshell.socket",
    ("ssl", "create_connection"): "imported by ssl from socket; use coopshell.socket",
    ("ssl", "namedtuple"): "imported by ssl from collections; not part of ssl's API",
    # selectors has no __all__: its public attributes include what it imports.
    ("selectors", "ABCMeta"): "imported by selectors from abc; not part of its API",
    ("selectors", "abstractmethod"): "imported by selectors from abc; not part of its API",
    ("selectors", "Mapping"): "imported by selectors from collections.abc; not part of its API",
    ("selectors", "namedtuple"): "imported by selectors from collections; not part of its API",
    ("selectors", "EpollSelector"): "waits in a blocking epoll.poll(); coopshell's "
                                    "DefaultSelector cooperates instead",
    ("selectors", "DevpollSelector"): "blocking /dev/poll (Solaris); DefaultSelector cooperates",
    ("selectors", "KqueueSelector"): "blocking kqueue (BSD, macOS); DefaultSelector cooperates",
}

_LISTS = ("__implements__", "__imports__", "__extensions__", "_REVIEWED")


def _stdlib_names(std) -> list[str]:
    """The running stdlib's public names: ``__all__``, or (``ssl``, ``time``,
    which have none) its public attributes that are not modules."""
    names = getattr(std, "__all__", None)
    if names is not None:
        return list(names)
    return [n for n in dir(std)
            if not n.startswith("_") and not isinstance(getattr(std, n), types.ModuleType)]


def _pair(stdname):
    """(stdlib module, coopshell module), or skip naming what is missing."""
    std = importlib.import_module(stdname)
    modname, owner = _MODULES[stdname]
    try:
        ours = importlib.import_module(modname)
    except ImportError as exc:
        pytest.skip(f"{modname} does not exist yet (owner: {owner}): {exc}")
    missing = [n for n in _LISTS if not hasattr(ours, n)]
    if missing:
        pytest.skip(f"{modname} has not adopted STYLE.md's name lists yet (owner: {owner}); "
                    f"missing: {', '.join(missing)}")
    return std, ours


@pytest.fixture(params=sorted(_MODULES))
def modules(request):
    return (request.param,) + _pair(request.param)


def test_every_stdlib_name_is_exported_or_filed(modules):
    stdname, std, ours = modules
    missing = sorted(set(_stdlib_names(std)) - set(ours.__all__)
                     - {n for (m, n) in _NOT_IMPLEMENTED if m == stdname})
    assert not missing, (
        f"{ours.__name__} lacks names the running {stdname} exports: {missing}. File each "
        f"under __implements__, _REVIEWED (a callable checked never to block) or this test's "
        f"_NOT_IMPLEMENTED with the reason")


def test_imports_are_the_stdlib_objects(modules):
    stdname, std, ours = modules
    wrong = [n for n in ours.__imports__ if getattr(ours, n) is not getattr(std, n)]
    assert not wrong, f"{ours.__name__}.__imports__ entries that are not {stdname}'s: {wrong}"


def test_implements_are_ours_and_exist_in_the_stdlib(modules):
    stdname, std, ours = modules
    absent = [n for n in ours.__implements__ if not hasattr(std, n)]
    assert not absent, (f"{ours.__name__}.__implements__ names what the running {stdname} "
                        f"lacks: {absent} (compute the list with hasattr)")
    same = [n for n in ours.__implements__ if getattr(ours, n) is getattr(std, n)]
    assert not same, f"{ours.__name__}.__implements__ entries that are {stdname}'s own: {same}"


def test_extensions_are_not_in_the_stdlib(modules):
    stdname, std, ours = modules
    clash = [n for n in ours.__extensions__ if hasattr(std, n)]
    assert not clash, f"{ours.__name__}.__extensions__ entries {stdname} has: {clash}"
    undefined = [n for n in ours.__extensions__ if not hasattr(ours, n)]
    assert not undefined, f"{ours.__name__}.__extensions__ names it lacks: {undefined}"


def test_all_is_the_sum_and_star_import_gives_it(modules):
    stdname, std, ours = modules
    lists = list(ours.__implements__) + list(ours.__imports__) + list(ours.__extensions__)
    assert len(ours.__all__) == len(set(ours.__all__)), f"{ours.__name__}.__all__ has duplicates"
    assert set(ours.__all__) == {n for n in lists if not n.startswith("_")}
    ns: dict = {}
    exec(f"from {ours.__name__} import *", ns)
    assert set(ns) - {"__builtins__"} == set(ours.__all__)


def test_not_implemented_entries_are_not_exported():
    for (stdname, name), reason in _NOT_IMPLEMENTED.items():
        assert reason.strip(), (stdname, name)
        modname, _owner = _MODULES[stdname]
        try:
            ours = importlib.import_module(modname)
        except ImportError:
            continue
        assert name not in getattr(ours, "__all__", ()), (
            f"{modname} exports {name!r}: drop its _NOT_IMPLEMENTED entry")
