"""coopshell.util: gevent.util's names, and the greenlet inspection the backdoor uses."""

import io
import subprocess
import sys
import time

import pytest

import coopshell as co
from coopshell import util
from coopshell.event import Event


def _parked(event):
    event.wait()


@pytest.fixture
def parked():
    """Two greenlets parked on an Event (one named), released after the test."""
    ev = Event()
    a = co.spawn(_parked, ev)
    b = co.spawn(_parked, ev)
    b.name = "second"
    co.sleep(0)
    yield a, b
    ev.set()
    co.joinall([a, b], timeout=5)


def test_wrap_errors_returns_listed_exceptions_and_raises_others():
    wrapped = util.wrap_errors(ValueError, int)
    result = wrapped("x")
    assert isinstance(result, ValueError) and "invalid literal" in str(result)
    assert wrapped("12") == 12
    with pytest.raises(TypeError):
        wrapped(None)                                   # TypeError is not in the list
    both = util.wrap_errors((ValueError, TypeError), int)
    assert isinstance(both(None), TypeError)
    assert str(wrapped) == str(int) and repr(wrapped) == repr(int)
    assert wrapped.__name__ == "int"                    # attributes come from the function
    g = co.spawn(util.wrap_errors(ZeroDivisionError, lambda: 1 / 0))
    assert isinstance(g.get(timeout=5), ZeroDivisionError)


def test_wrap_errors_rejects_bad_arguments_clearly():
    with pytest.raises(TypeError, match="callable"):
        util.wrap_errors(ValueError, 3)
    with pytest.raises(TypeError, match="exception class"):
        util.wrap_errors("ValueError", int)


def test_all_greenlets_and_find_greenlet(parked):
    a, b = parked
    live = util.all_greenlets()
    assert a in live and b in live
    assert live.index(a) < live.index(b)                # oldest first
    assert util.find_greenlet(b.minimal_ident) is b
    assert util.find_greenlet(str(a.minimal_ident)) is a
    with pytest.raises(LookupError, match="no greenlet with ID 999999"):
        util.find_greenlet(999999)
    with pytest.raises(ValueError, match="a number"):
        util.find_greenlet("abc")


def test_finished_greenlets_only_with_include_finished():
    g = co.spawn(lambda: 5)
    g.join(timeout=5)
    assert g not in util.all_greenlets()
    assert g in util.all_greenlets(include_finished=True)


def test_format_greenlet_stack_shows_where_it_waits(parked):
    a, _ = parked
    stack = util.format_greenlet_stack(a)
    assert "in _parked" in stack and "event.wait()" in stack
    assert "_worker_main" not in stack                   # the runtime's entry frame is left out
    assert util.format_greenlet_stack(a, limit=1).count("File ") == 1
    assert "at test_util.py" in util.describe_wait(a) and "_parked()" in util.describe_wait(a)


def test_stack_of_unstarted_finished_and_current():
    g = co.spawn(lambda: None)
    assert "not started" in util.format_greenlet_stack(g)
    g.join(timeout=5)
    assert "finished" in util.format_greenlet_stack(g)
    out = co.spawn(lambda: util.format_greenlet_stack(co.getcurrent())).get(timeout=5)
    assert "<lambda>" in out                             # the running greenlet's own stack


def test_greenlet_tree_forest_shows_hub_and_greenlets(parked):
    a, b = parked
    forest = util.GreenletTree.forest()
    text = "\n".join(t.format(False) for t in forest)
    assert "<Hub at" in text
    assert f"id={a.minimal_ident}" in text and "name='second'" in text
    current = util.GreenletTree.current_tree()
    assert current.is_current_tree and current.root
    assert "*<main greenlet" in str(current)              # the current greenlet is marked
    detailed = current.format(True)
    assert "in _parked" in detailed                       # details show the stacks


def test_format_and_print_run_info(parked):
    lines = util.format_run_info()
    text = "\n".join(lines)
    assert "* Threads" in text and "* Greenlets" in text
    assert "MainThread" in text and "test_format_and_print_run_info" in text
    no_stacks = "\n".join(util.format_run_info(thread_stacks=False, greenlet_stacks=False))
    assert "* Threads" not in no_stacks and "in _parked" not in no_stacks
    buf = io.StringIO()
    util.print_run_info(file=buf)
    assert "* Greenlets" in buf.getvalue()


def test_assert_switches_passes_when_the_block_yields():
    with util.assert_switches() as check:
        co.sleep(0)
        assert check.tracer.switches >= 1
    with util.assert_switches(max_blocking_time=5, hub_only=True):
        co.sleep(0)


def test_assert_switches_fails_when_nothing_switches():
    with pytest.raises(AssertionError, match="To any greenlet in"):
        with util.assert_switches():
            sum(range(10))


def test_assert_switches_max_blocking_time():
    # The block runs at least 0.1 s without switching, whatever the machine's load.
    with pytest.raises(AssertionError, match=r"\(max allowed 0.0100 seconds\)"):
        with util.assert_switches(max_blocking_time=0.01):
            co.sleep(0)
            time.sleep(0.1)
            co.sleep(0)
    with pytest.raises(ValueError, match="max_blocking_time"):
        util.assert_switches(max_blocking_time=-1)


def test_assert_switches_with_a_limit_passes_a_block_that_never_switched():
    # gevent's rule: with max_blocking_time, not switching is fine if it was quick.
    with util.assert_switches(max_blocking_time=60, hub_only=False):
        pass


def test_assert_switches_hub_only_needs_a_switch_into_the_hub():
    with pytest.raises(AssertionError, match="To the hub in"):
        with util.assert_switches(max_blocking_time=60, hub_only=True):
            time.sleep(0)


def test_nested_assert_switches_chain_their_tracers():
    import greenlet
    with util.assert_switches() as outer:
        assert greenlet.gettrace() is outer.tracer
        with util.assert_switches() as inner:
            assert inner.tracer.previous_trace_function is outer.tracer
            marker = object()
            inner.tracer("switch", (marker, marker))
            assert inner.tracer.active_greenlet is marker and outer.tracer.active_greenlet is marker
        assert greenlet.gettrace() is outer.tracer


def test_clear_stack_frames_clears_finished_frames_locals():
    import inspect
    import threading
    cleared = []

    def inner():
        big = [1, 2, 3]
        return inspect.currentframe(), big

    def run():
        frame, _ = inner()
        util.clear_stack_frames(frame)   # inner's frame has returned: it can be cleared
        cleared.append(frame.f_locals)

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert cleared == [{}]


def test_assert_switches_restores_a_previous_tracer():
    import greenlet
    seen = []
    old = greenlet.settrace(lambda event, args: seen.append(event))
    try:
        with util.assert_switches():
            co.sleep(0)
        assert seen                                      # chained while active
        assert greenlet.gettrace() is not None and greenlet.gettrace() is not util.assert_switches
    finally:
        greenlet.settrace(old)


def test_util_imports_no_higher_layer():
    code = ("import sys, coopshell.util; "
            "bad = [m for m in sys.modules if m.startswith(('coopshell.interactive', 'coopshell.monkey', "
            "'coopshell.socket', 'coopshell.backdoor', 'prompt_toolkit'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
