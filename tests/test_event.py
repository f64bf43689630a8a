"""Event and AsyncResult."""

import pytest

import coopshell as co
from coopshell.event import AsyncResult, Event


def test_event_wakes_all_waiters_in_order():
    ev = Event()
    order = []
    gs = [co.spawn(lambda i=i: (ev.wait(), order.append(i))) for i in range(5)]
    co.sleep(0)
    assert order == []
    ev.set()
    co.joinall(gs)
    assert order == [0, 1, 2, 3, 4]
    assert ev.is_set() and ev.wait() is True


def test_event_wait_timeout_returns_false_and_unregisters():
    ev = Event()
    assert ev.wait(timeout=0.01) is False
    assert ev.linkcount() == 0
    assert ev.wait(timeout=-1) is False      # gevent: negative means "at once"
    assert ev.linkcount() == 0
    with pytest.raises(ValueError, match="NaN"):
        ev.wait(timeout=float("nan"))


def test_set_then_clear_still_wakes_current_waiters():
    ev = Event()
    g = co.spawn(ev.wait)
    co.sleep(0)
    ev.set()
    ev.clear()
    g.join(timeout=1)
    assert g.value is True


def test_killed_waiter_leaves_no_registration():
    ev = Event()
    g = co.spawn(ev.wait)
    co.sleep(0)
    assert ev.linkcount() == 1
    g.kill()
    assert ev.linkcount() == 0


def test_rawlink_called_with_event():
    ev = Event()
    got = []
    ev.rawlink(got.append)
    ev.set()
    co.sleep(0)
    assert got == [ev]
    with pytest.raises(TypeError):
        ev.rawlink(3)


def test_async_result_value():
    ar = AsyncResult()
    assert not ar.ready() and ar.value is None
    co.spawn_later(0.01, ar.set, "v")
    assert ar.get(timeout=1) == "v"
    assert ar.successful() and ar.wait() == "v" and ar.get_nowait() == "v"


def test_async_result_exception():
    ar = AsyncResult()
    ar.set_exception(KeyError("k"))
    with pytest.raises(KeyError):
        ar.get()
    assert ar.wait() is None and not ar.successful() and isinstance(ar.exception, KeyError)
    with pytest.raises(TypeError):
        AsyncResult().set_exception("not an exception")


def test_async_result_timeouts():
    ar = AsyncResult()
    with pytest.raises(co.Timeout):
        ar.get(block=False)
    with pytest.raises(co.Timeout):
        ar.get(timeout=0.01)
    assert ar.wait(timeout=0.01) is None
    assert ar.linkcount() == 0


def test_async_result_as_link():
    ar = AsyncResult()
    g = co.spawn(lambda: 11)
    g.rawlink(ar)
    assert ar.get(timeout=1) == 11
    bad = AsyncResult()
    g2 = co.spawn(lambda: {}["x"])
    g2.rawlink(bad)
    with pytest.raises(KeyError):
        bad.get(timeout=1)


def test_untimed_wait_from_another_thread_is_a_clear_error():
    # Event.wait() without a timeout waits inline (not through Linkable._wait):
    # the same error as a timed wait, and no registration left behind.
    from coopshell._core.exceptions import InvalidThreadUseError
    from helpers import event_bound_to_another_thread
    with event_bound_to_another_thread() as ev:
        with pytest.raises(InvalidThreadUseError, match="waiting works only in the thread of its hub"):
            ev.wait()
        assert ev.linkcount() == 1   # the owner's waiter only


def test_stray_switch_into_untimed_wait_is_an_error_and_leaves_no_link():
    from coopshell._core.exceptions import InvalidSwitchError
    ev = Event()
    g = co.spawn(ev.wait)
    co.sleep(0)
    assert ev.linkcount() == 1
    co.get_hub().loop.run_callback(g.switch, "not the event")
    g.join()
    assert isinstance(g.exception, InvalidSwitchError)
    assert "not the event" in str(g.exception)
    assert ev.linkcount() == 0


def test_event_as_threading_event_survives_a_fork_from_a_thread():
    """gevent's idiom ``threading.Event = Event``: threading's after-fork
    hook resets each thread's ``_started`` event (``_at_fork_reinit``); a
    fork from a thread must not fail there (the child's thread then runs on)."""
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent("""
        from coopshell import monkey; monkey.patch_all()
        import os, sys, threading
        from coopshell.event import Event
        threading.Event = Event
        def worker():
            pid = os.fork()
            if pid:
                _, status = os.waitpid(pid, 0)
                print("child status", status)
                return
            print("child ok", threading.current_thread().is_alive())
            sys.stdout.flush()
            os._exit(0)
        t = threading.Thread(target=worker)
        t.start(); t.join()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "_at_fork_reinit" not in proc.stderr, proc.stderr
    assert "child ok True" in proc.stdout and "child status 0" in proc.stdout


def test_waiting_on_a_set_event_still_notifying_runs_after_its_waiters():
    # gevent 1520: a wait() on a set Event whose waiters have not been woken
    # yet runs after them, in the same pass.
    ev = Event()
    results = []

    def wait_then_append(arg):
        ev.wait()
        results.append(arg)

    co.spawn(wait_then_append, 1)
    co.spawn(wait_then_append, 2)
    co.sleep(0)
    assert ev.linkcount() == 2
    ev.set()
    wait_then_append(3)
    assert results == [1, 2, 3]
    assert ev.wait() is True and ev.wait(0) is True   # nothing pending: no switch
