"""Child-side bootstrap: ``import gevent`` resolves to coopshell, and gevent.testing loads.

Used only inside the throwaway venv's child processes (never by the package).
:func:`install` puts coopshell's own gevent alias in place
(``coopshell.monkey.alias_gevent``: ``gevent`` / ``gevent.X`` are the very
module objects of ``coopshell`` / ``coopshell.X``; ``passthrough``
subpackages load from the installed gevent's files). In front of it goes
:class:`AdaptFinder`, which carries the run-time adaptations listed in
``compat/README.md``: a few gevent names whose coopshell home has another
name, gevent's pure-Python private helpers that gevent.testing imports, and
stand-ins for gevent internals (loop backends, Cython, c-ares) that mean
nothing on coopshell. Every adaptation yields to coopshell as soon as
coopshell provides the module itself, so the harness never hides a real gap
for long.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types

__all__ = ["install", "AdaptFinder", "PASSTHROUGH", "REMAP", "REAL_PRIVATE",
           "STUBS", "alias_kind"]

ALIAS, TARGET = "gevent", "coopshell"
#: gevent's test helpers and tests, loaded from the installed gevent's files.
PASSTHROUGH = ("gevent.testing", "gevent.tests")
#: gevent public modules whose coopshell counterpart lives under another name.
REMAP = {
    "gevent.hub": "coopshell._core.hub",
    "gevent.exceptions": "coopshell._core.exceptions",
}
#: gevent's private pure-Python helpers that gevent.testing imports; they hold
#: no runtime state (compat shims, lazy descriptors, config validators).
REAL_PRIVATE = ("gevent._compat", "gevent._util", "gevent._config")
#: gevent internals with no meaning here, given as small stand-in modules.
STUBS = ("gevent._hub_local", "gevent.libuv", "gevent.libev", "gevent._ffi",
         "gevent._ffi.callback", "gevent._greenlet_primitives")

_alias_kind = "none"


def alias_kind() -> str:
    """Which alias is installed: 'coopshell.monkey.alias_gevent', or 'none' before install()."""
    return _alias_kind


def _real_gevent_path() -> list[str] | None:
    spec = importlib.machinery.PathFinder.find_spec(ALIAS)
    return list(spec.submodule_search_locations) if spec and spec.submodule_search_locations else None


def _coopshell_has(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


class _Same(importlib.abc.Loader):
    """Hands out an already imported module and gives it back its own spec."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module, self.spec = module, module.__spec__

    def create_module(self, spec):
        return self.module

    def exec_module(self, module) -> None:
        module.__spec__ = self.spec


def _same_spec(fullname: str, module: types.ModuleType) -> importlib.machinery.ModuleSpec:
    return importlib.machinery.ModuleSpec(fullname, _Same(module),
                                          is_package=hasattr(module, "__path__"))


class AdaptFinder(importlib.abc.MetaPathFinder):
    """The harness's run-time adaptations; sits in front of the alias."""

    def __init__(self, real_path: list[str] | None) -> None:
        self.real_path = real_path

    def find_spec(self, fullname, path=None, target=None):
        if fullname in REMAP and not _coopshell_has(TARGET + fullname[len(ALIAS):]):
            return _same_spec(fullname, importlib.import_module(REMAP[fullname]))
        if fullname in REAL_PRIVATE and self.real_path:
            return importlib.machinery.PathFinder.find_spec(fullname, self.real_path)
        if fullname in STUBS and not _coopshell_has(TARGET + fullname[len(ALIAS):]):
            return importlib.machinery.ModuleSpec(fullname, _StubLoader(),
                                                  is_package=fullname.count(".") == 1)
        return None


class _StubLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        name = module.__name__
        if name == "gevent._hub_local":
            from coopshell._core import hub
            module.get_hub_if_exists = hub.get_hub_if_exists
            module.get_hub = hub.get_hub
            module.get_hub_noargs = hub.get_hub
            module.get_hub_class = lambda: hub.Hub
            module.set_hub = hub.set_hub
        elif name in ("gevent.libuv", "gevent.libev"):
            module.__path__ = []  # no loop backends: `from gevent.libuv import _corecffi` fails
        elif name == "gevent._ffi":
            module.__path__ = []
        elif name == "gevent._ffi.callback":
            import coopshell.core as core
            module.callback = core.Callback
        elif name == "gevent._greenlet_primitives":
            # gevent's (Cython) switch helpers; tests use only its leak-check
            # helper: every live greenlet the GC can see.
            import gc
            from greenlet import greenlet

            def get_reachable_greenlets():
                return [x for x in gc.get_objects() if isinstance(x, greenlet)
                        and not getattr(x, "greenlet_tree_is_ignored", False)]
            module.get_reachable_greenlets = get_reachable_greenlets


def _adapt_testing() -> None:
    """Patch what gevent.testing expects of gevent's hub, then import it.

    ``gevent.testing`` calls ``gevent.hub.set_default_hub_class(QuietHub)`` at
    import; coopshell has no hub-class switch, so a no-op is present only while
    gevent.testing imports (the tests still see coopshell's hub module as is)."""
    from coopshell._core import hub
    gevent_hub = importlib.import_module("gevent.hub")
    added = []
    if not hasattr(gevent_hub, "set_default_hub_class"):
        gevent_hub.set_default_hub_class = lambda cls: None
        added.append("set_default_hub_class")
    try:
        for name in REAL_PRIVATE:  # `from gevent import _compat` looks the name up on coopshell
            importlib.import_module(name)
        # coopshell is pure Python: gevent's own skips for its pure-Python build apply.
        sys.modules["gevent._compat"].PURE_PYTHON = True
        importlib.import_module("gevent.testing")
        _adapt_testcase(importlib.import_module("gevent.testing.testcase"))
    except Exception:  # the test file's own import reports it, with its traceback
        if os.environ.get("COOPSHELL_COMPAT_DEBUG"):
            import traceback
            traceback.print_exc()
        for name in [n for n in sys.modules if n.startswith("gevent.testing")]:
            del sys.modules[name]
    finally:
        for attr in added:
            delattr(gevent_hub, attr)
    for attr, default in (("SYSTEM_ERROR", (KeyboardInterrupt, SystemExit, SystemError)),
                          ("NOT_ERROR", ())):
        if not hasattr(hub.Hub, attr):
            setattr(hub.Hub, attr, default)
    if not hasattr(hub.Hub, "ignoring_expected_test_error"):
        hub.Hub.ignoring_expected_test_error = _ignoring_expected_test_error
    if not hasattr(hub.Hub, "_normalize_exception"):
        def _normalize_exception(self, t, v, tb):
            if not isinstance(t, type):
                t = type(v) if v is not None else type(t)
            return t, v, tb
        hub.Hub._normalize_exception = _normalize_exception


def _events_module():
    try:
        return importlib.import_module("gevent.events")
    except ImportError:
        return None


def _adapt_testcase(testcase: types.ModuleType) -> None:
    """gevent's TestCase saves and restores ``gevent.events.subscribers`` around
    every case; while coopshell has no ``events`` module that is skipped (test
    files that use events themselves still fail on the missing module)."""
    if _events_module() is not None:
        return
    mixin = testcase.SubscriberCleanupMixin

    def setUp(self):
        super(mixin, self).setUp()

    def tearDown(self):
        super(mixin, self).tearDown()

    mixin.setUp, mixin.tearDown = setUp, tearDown


def install() -> None:
    """Install coopshell's gevent alias and the adaptations."""
    global _alias_kind
    real = _real_gevent_path()
    for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + ".")]:
        del sys.modules[name]
    from coopshell.monkey import alias_gevent
    alias_gevent(shadow_installed=True, passthrough=PASSTHROUGH)
    _alias_kind = "coopshell.monkey.alias_gevent"
    sys.meta_path.insert(0, AdaptFinder(real))
    _adapt_testing()
    os.environ.setdefault("COOPSHELL_COMPAT_ALIAS", "1")  # grandchildren get it via sitecustomize


def _ignoring_expected_test_error(hub):
    """QuietHub's switch (see README, adaptation 5): while active, an
    ``ExpectedException`` reported to this hub is dropped instead of being
    handled (and, under gevent.testing's fatal errors, thrown into main)."""
    import contextlib

    @contextlib.contextmanager
    def ignoring():
        from gevent.testing.exception import ExpectedException
        had = "handle_error" in vars(hub)
        outer = hub.handle_error

        def handle_error(context, t, v, tb):
            if isinstance(t, type) and issubclass(t, ExpectedException):
                return None
            return outer(context, t, v, tb)
        hub.handle_error = handle_error
        try:
            yield
        finally:
            if had:
                hub.handle_error = outer
            else:
                vars(hub).pop("handle_error", None)
    return ignoring()

