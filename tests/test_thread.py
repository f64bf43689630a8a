"""coopshell.thread: gevent.thread's API, the objects patch_thread installs."""

from __future__ import annotations

import _thread
import os
import subprocess
import sys

import pytest

import coopshell
import coopshell.thread as cthread
from coopshell._monkey import thread as mthread

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_same_objects_as_patch_thread_installs():
    assert cthread.allocate_lock is cthread.LockType is cthread.lock is mthread.LockType
    assert cthread.get_ident is mthread.get_ident
    assert cthread.start_new_thread is mthread.start_new_thread
    assert cthread._local is mthread.local
    for name in ("error", "TIMEOUT_MAX", "interrupt_main", "get_native_id"):
        assert getattr(cthread, name) is getattr(_thread, name)
    assert set(cthread.__all__) <= set(dir(cthread))
    assert "_local" not in cthread.__all__


def test_release_unheld_lock_raises_like_the_stdlib():
    with pytest.raises(RuntimeError) as std:
        _thread.allocate_lock().release()
    with pytest.raises(RuntimeError) as green:
        cthread.allocate_lock().release()
    assert type(green.value) is type(std.value)


def test_start_new_thread_runs_a_greenlet_and_exit_ends_it():
    lock = cthread.allocate_lock()
    lock.acquire()
    seen = []

    def body(x):
        seen.append((x, cthread.get_ident()))
        lock.release()
        cthread.exit()
        seen.append("after exit")  # never reached

    ident = cthread.start_new_thread(body, (7,))
    assert lock.acquire(timeout=10)
    coopshell.sleep(0)
    assert seen == [(7, ident)]
    assert ident != cthread.get_ident()


def test_stack_size_reads_grows_and_refuses_nonsense():
    current = _thread.stack_size()
    assert cthread.stack_size() == current
    assert cthread.stack_size(0) == 0
    with pytest.raises(ValueError, match="at least 32768"):
        cthread.stack_size(123)
    with pytest.raises(TypeError, match="takes an int"):
        cthread.stack_size("big")
    assert _thread.stack_size() == current  # nothing changed


JOIN_MAIN = """
from coopshell import monkey; monkey.patch_all()
import threading, time
def joiner(main):
    main.join()
    print("end of thread", flush=True)
t = threading.Thread(target=joiner, args=(threading.current_thread(),))
t.start()
time.sleep(0.05)
print("end of main", flush=True)
"""


@pytest.mark.skipif(sys.version_info >= (3, 13), reason=(
    "3.13 joins through the main thread's ThreadHandle, which refuses a greenlet thread with "
    "'RuntimeError: Cannot join current thread' (a clear error, not a deadlock); the greenlet "
    "tstate lock that makes this join wait exists on 3.10-3.12 only"))
def test_greenlet_thread_joining_the_main_thread_ends_at_exit():
    # The main thread's tstate lock was a real lock: the greenlet joining it
    # blocked the main OS thread for real, and the interpreter never exited.
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", JOIN_MAIN], capture_output=True, text=True,
                       timeout=60, env=env)
    assert (p.returncode, p.stdout) == (0, "end of main\nend of thread\n"), p.stderr


def test_failed_try_acquire_lets_the_holder_run():
    # A spin loop on acquire(False) used to starve every other greenlet: the
    # holder never ran to release the lock (gevent issue 1464).
    lock = cthread.allocate_lock()
    lock.acquire()
    tries = []

    def spinner():
        for _ in range(100_000):  # bounded: without the fix it starves, then says so
            if lock.acquire(False):
                lock.release()
                return "got it"
            tries.append(1)
        return "starved"

    g = coopshell.spawn(spinner)
    releaser = coopshell.spawn(lambda: (coopshell.sleep(0), lock.release()))
    assert g.get(timeout=10) == "got it"
    releaser.join(timeout=10)
    assert tries and releaser.dead


def test_start_new_thread_args_default_to_empty_as_in_gevent():
    ran = []
    cthread.start_new_thread(lambda: ran.append(1))
    coopshell.sleep(0)
    coopshell.sleep(0)
    assert ran == [1]
