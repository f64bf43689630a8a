"""``_core/_gc.py``: full collections wait for the loop's idle moments.

Each case runs in a fresh interpreter: the gc thresholds are process-wide,
and this test process has a hub that is running (suspended inside
``Loop.run``) already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from coopshell._core import _gc

pytestmark = pytest.mark.skipif(not _gc.ENABLED, reason="no deferral on this Python (incremental gc)")

_PRELUDE = """
import gc, json, threading
from coopshell._core.loop import Loop
from coopshell._core import _gc
gc.set_threshold(700, 10, 10)
events = []
def on_gc(phase, info):
    if phase == "start" and info["generation"] == 2:
        events.append("full")
gc.callbacks.append(on_gc)
def prime():
    # Ten generation-1 collections: CPython would do a full one next.
    for _ in range(10):
        gc.collect(1)
    events.append("primed")
"""


def _run(body: str) -> dict:
    code = _PRELUDE + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_generation_2_threshold_is_raised_while_run_runs_and_restored_after():
    out = _run("""
        loop = Loop()
        seen = []
        loop.schedule(lambda: seen.append([gc.get_threshold(), _gc.running()]))
        loop.run()
        print(json.dumps({"during": seen[0], "after": [gc.get_threshold(), _gc.running()]}))
    """)
    assert out["during"] == [[700, 10, 10 * _gc.BUSY_FACTOR], 1]
    assert out["after"] == [[700, 10, 10], 0]


def test_thresholds_are_restored_when_run_raises():
    out = _run("""
        loop = Loop()
        def handle_error(context, type, value, tb):
            raise value
        loop.handle_error = handle_error
        def boom():
            raise ValueError("boom")
        loop.schedule(boom)
        try:
            loop.run()
        except ValueError as exc:
            raised = str(exc)
        print(json.dumps({"raised": raised, "after": gc.get_threshold()}))
    """)
    assert out == {"raised": "boom", "after": [700, 10, 10]}


def test_thresholds_set_by_the_user_while_the_loop_runs_are_kept():
    out = _run("""
        loop = Loop()
        loop.schedule(gc.set_threshold, 500, 5, 5)
        loop.run()
        print(json.dumps({"after": gc.get_threshold()}))
    """)
    assert out["after"] == [500, 5, 5]


def test_the_last_of_two_loops_in_two_threads_restores():
    out = _run("""
        a_running = threading.Event()
        b_done = threading.Event()
        seen = {}
        def in_a():
            a_running.set()
            b_done.wait(60)
            seen["a, after b stopped"] = gc.get_threshold()[2]
        def thread_a():
            loop = Loop()
            loop.schedule(in_a)
            loop.run()
        ta = threading.Thread(target=thread_a)
        ta.start()
        a_running.wait(60)
        loop_b = Loop()
        loop_b.schedule(lambda: seen.__setitem__("b", gc.get_threshold()[2]))
        loop_b.run()
        seen["between"] = gc.get_threshold()[2]
        b_done.set()
        ta.join(60)
        seen["after both"] = gc.get_threshold()[2]
        print(json.dumps(seen))
    """)
    busy = 10 * _gc.BUSY_FACTOR
    assert out == {"b": busy, "between": busy, "a, after b stopped": busy, "after both": 10}


def test_a_due_full_collection_runs_when_the_loop_is_idle():
    out = _run("""
        loop = Loop()
        loop.schedule(prime)
        far = loop.add_timer(60, events.append, "far timer")   # keeps the loop waiting
        def on_full(phase, info):
            if phase == "stop" and info["generation"] == 2:
                far.cancel()   # seen: let run() return
        gc.callbacks.append(on_full)
        loop.run()
        print(json.dumps({"events": events, "count2": gc.get_count()[2]}))
    """)
    assert out["events"] == ["primed", "full"]
    assert out["count2"] == 0


def test_no_idle_collection_with_a_timer_due_soon():
    out = _run("""
        loop = Loop()
        loop.schedule(prime)
        loop.add_timer(0.001, events.append, "near timer")
        loop.run()
        print(json.dumps({"events": events}))
    """)
    assert out["events"] == ["primed", "near timer"]


def test_no_idle_collection_while_gc_is_disabled():
    out = _run("""
        loop = Loop()
        def prime_disabled():
            prime()
            gc.disable()
        loop.schedule(prime_disabled)
        loop.add_timer(0.2, events.append, "timer")
        loop.run()
        print(json.dumps({"events": events, "enabled": gc.isenabled()}))
    """)
    assert out == {"events": ["primed", "timer"], "enabled": False}


def test_the_hub_restores_thresholds_when_its_loop_runs_out():
    out = _run("""
        from coopshell._core.exceptions import LoopExit
        from coopshell._core.hub import get_hub
        hub = get_hub()
        seen = []
        hub.loop.schedule(lambda: seen.append(gc.get_threshold()[2]))
        try:
            hub.switch()     # nothing left to wake main: the loop runs out
        except LoopExit:
            seen.append(gc.get_threshold()[2])
        print(json.dumps({"seen": seen}))
    """)
    assert out["seen"] == [10 * _gc.BUSY_FACTOR, 10]
