"""``import coopshell``: the public names load on first use and are the same
names, with the same values, as the modules that define them."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import coopshell


def _fresh(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize("name", coopshell.__all__)
def test_every_public_name_resolves_to_its_defining_module_s_object(name):
    value = getattr(coopshell, name)
    module = coopshell._LAZY.get(name)
    if module is not None:
        assert value is getattr(importlib.import_module(module), name)
    assert name in dir(coopshell)


def test_from_import_of_every_public_name_works_in_a_fresh_interpreter():
    names = ", ".join(coopshell.__all__)
    out = _fresh(f"from coopshell import {names}; import coopshell; "
                 f"print(sorted(set(coopshell.__all__) - set(dir(coopshell))))")
    assert out == "[]"


def test_star_import_gives_exactly_all():
    out = _fresh("ns = {}; exec('from coopshell import *', ns); ns.pop('__builtins__'); "
                 "print(sorted(ns))")
    assert out == repr(sorted(coopshell.__all__))


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        coopshell.no_such_name  # noqa: B018


def test_import_loads_the_engine_but_not_the_sync_layer_or_importlib_helpers():
    # ``import coopshell`` loads the hub (as ``import gevent`` does), and only
    # that: the sync and io layers load when a name from them is first used.
    out = _fresh("import sys; import coopshell; "
                 "print(sorted(m for m in ('coopshell._core.hub', 'coopshell.greenlet', "
                 "'coopshell.socket', 'coopshell.threadpool', 'coopshell.timeout') "
                 "if m in sys.modules))")
    assert out == "['coopshell._core.hub']"


def test_the_default_threadpool_works_after_a_bare_import():
    out = _fresh("import coopshell; pool = coopshell.get_hub().threadpool; "
                 "print(type(pool).__module__, pool.apply(pow, (2, 10)))")
    assert out == "coopshell.threadpool 1024"


def test_no_helper_names_leak_into_the_namespace():
    public = {n for n in dir(coopshell) if not n.startswith("_")}
    extra = public - set(coopshell.__all__) - {"load_ipython_extension", "unload_ipython_extension",
                                               "annotations"}   # the __future__ import
    # submodules already imported by this test session are attributes too
    extra = {n for n in extra if not isinstance(getattr(coopshell, n, None), type(sys))}
    assert extra == set()
