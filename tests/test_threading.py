"""coopshell.threading: gevent.threading's names, the objects patch_thread builds on."""

from __future__ import annotations

import threading

import coopshell
import coopshell.threading as cthreading
from coopshell._monkey import thread as mthread
from coopshell.lock import RLock


def test_names_are_the_greenlet_versions():
    assert cthreading.Lock is cthreading.allocate_lock is mthread.LockType
    assert cthreading.get_ident is mthread.get_ident
    assert cthreading.RLock is RLock
    assert cthreading.local is mthread.local
    assert cthreading._CRLock is None
    assert cthreading.Thread is threading.Thread  # the stdlib's, greenlets once patched
    assert cthreading.main_native_thread() is threading.main_thread()


def test_dummy_thread_is_named_like_the_stdlib_and_not_registered():
    std_dummy = threading._DummyThread()
    try:
        ours = cthreading._DummyThread()
        assert type(ours) is not type(std_dummy)
        assert std_dummy.name.startswith("Dummy-") and ours.name.startswith("Dummy-")
        assert threading._active.get(threading.get_ident()) is not ours
    finally:
        threading._active.pop(threading.get_ident(), None)  # the stdlib one registered itself
        threading._active[threading.main_thread().ident] = threading.main_thread()


def test_current_thread_in_a_greenlet_is_a_dummy_tied_to_it():
    seen = []
    g = coopshell.spawn(lambda: seen.append(cthreading.current_thread()))
    g.join()
    assert isinstance(seen[0], mthread._GreenletThread) and seen[0].name == g.name
    assert seen[0] not in threading._active.values()
