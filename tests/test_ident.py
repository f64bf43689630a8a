"""coopshell._ident: small reusable idents (gevent._ident.IdentRegistry)."""

from __future__ import annotations

import gc

import pytest

from coopshell._ident import IdentRegistry


class Target:
    pass


def test_idents_are_small_stable_and_reused_after_death():
    reg = IdentRegistry()
    a, b = Target(), Target()
    assert [reg.get_ident(a), reg.get_ident(b), reg.get_ident(a)] == [0, 1, 0]
    assert len(reg) == 2
    del a
    gc.collect()
    assert len(reg) == 1
    c = Target()
    assert (reg.get_ident(c), reg.get_ident(b)) == (0, 1)


def test_churn_keeps_idents_bounded():
    reg = IdentRegistry()
    keep = [None] * 3
    for i in range(1000):
        t = Target()
        keep[i % 3] = t
        assert reg.get_ident(t) <= 3
    del t


def test_objects_without_weakrefs_are_refused_clearly():
    with pytest.raises(TypeError, match="weak references, got int"):
        IdentRegistry().get_ident(5)
