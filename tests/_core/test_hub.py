"""The hub: errors, forwarding of KeyboardInterrupt/SystemExit, LoopExit,
BlockingSwitchOutError, sleep, and a non-blocking pass for front ends."""

import io
import threading
import time

import pytest

import coopshell as co
from coopshell._core.hub import Hub
from coopshell.event import Event
from helpers import run_script


def test_get_hub_is_per_thread_and_stable():
    hub = co.get_hub()
    assert isinstance(hub, Hub) and co.get_hub() is hub
    other = []
    t = threading.Thread(target=lambda: other.append(co.get_hub()))
    t.start()
    t.join()
    assert other[0] is not hub


def test_greenlets_in_another_thread_have_their_own_hub():
    result = []

    def in_thread():
        gs = [co.spawn(lambda i=i: co.sleep(0.01) or i) for i in range(10)]
        co.joinall(gs)
        result.extend(g.value for g in gs)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join(10)
    assert result == list(range(10))


def test_loop_exit_names_what_was_waited_on():
    ev = Event()
    with pytest.raises(co.LoopExit) as info:
        ev.wait()
    msg = str(info.value)
    assert "would block forever" in msg
    assert "Event.wait()" in msg and "the main greenlet" in msg
    assert "test_hub.py" in msg
    assert len(ev._links) == 0
    # The hub survived and still works.
    co.sleep(0.001)
    assert co.spawn(lambda: 4).get() == 4


def test_loop_exit_in_another_thread_names_that_thread_not_the_main_greenlet():
    messages = []

    def in_thread():
        ev = Event()
        try:
            ev.wait()
        except co.LoopExit as exc:
            messages.append(str(exc))

    t = threading.Thread(target=in_thread, name="resolver-worker")
    t.start()
    t.join(30)
    assert len(messages) == 1
    msg = messages[0]
    assert "the main greenlet of thread 'resolver-worker'" in msg and "Event.wait()" in msg, msg
    assert "waits in" in msg


def test_loop_exit_on_join_of_stuck_greenlet():
    ev = Event()
    g = co.spawn(ev.wait)
    with pytest.raises(co.LoopExit, match="Greenlet.join"):
        g.join()
    ev.set()
    g.join()
    assert g.value is True


def test_unref_sleep_does_not_keep_loop_alive():
    with pytest.raises(co.LoopExit):
        co.sleep(5, ref=False)


def test_blocking_in_hub_callback_raises():
    caught = []
    hub = co.get_hub()

    def in_hub():
        try:
            co.sleep(0)
        except co.BlockingSwitchOutError as e:
            caught.append(str(e))

    hub.loop.run_callback(in_hub)
    co.sleep(0.01)
    assert len(caught) == 1 and caught[0].startswith("Impossible to call blocking function in the event loop callback")


def test_blocking_in_rawlink_raises():
    caught = []
    g = co.spawn(lambda: 1)

    def link(source):
        try:
            Event().wait()
        except co.BlockingSwitchOutError:
            caught.append(True)

    g.rawlink(link)
    g.join()
    co.sleep(0)
    assert caught == [True]


def test_exception_stream_is_settable_and_hub_survives_callback_errors():
    hub = co.get_hub()
    stream = io.StringIO()
    old = hub._exception_stream
    hub.exception_stream = stream
    try:
        hub.loop.run_callback(lambda: 1 / 0)
        co.sleep(0.01)
        assert "ZeroDivisionError" in stream.getvalue()
        assert "failed with ZeroDivisionError" in stream.getvalue()
        assert co.spawn(lambda: 2).get() == 2
    finally:
        hub.exception_stream = old


def test_handle_error_is_overridable():
    seen = []

    class MyHub(Hub):
        def handle_error(self, context, type, value, tb):
            seen.append((context, type))

    result = []

    def in_thread():
        from coopshell._core.hub import set_hub
        set_hub(MyHub())
        g = co.spawn(lambda: 1 / 0)
        g.join()
        result.append(g)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join(10)
    assert seen == [(result[0], ZeroDivisionError)]


def test_sleep_validates_and_orders():
    with pytest.raises(TypeError):
        co.sleep("1")
    with pytest.raises(ValueError):
        co.sleep(float("nan"))
    co.sleep(-1)  # like gevent: a negative sleep just yields
    order = []
    gs = [co.spawn(lambda d=d: (co.sleep(d), order.append(d))) for d in (0.03, 0.01, 0.02)]
    co.joinall(gs)
    assert order == [0.01, 0.02, 0.03]


def test_sleep_zero_lets_others_run_round_robin():
    trace = []

    def worker(name):
        for i in range(3):
            trace.append(name)
            co.sleep(0)

    co.joinall([co.spawn(worker, "a"), co.spawn(worker, "b")])
    assert trace == ["a", "b", "a", "b", "a", "b"]


def test_sleep_duration_is_honoured():
    t0 = time.monotonic()
    co.sleep(0.05)
    assert 0.045 <= time.monotonic() - t0 < 1.0


def test_idle_waits_until_nothing_ready():
    trace = []

    def busy():
        for i in range(5):
            trace.append(i)
            co.sleep(0)

    co.spawn(busy)
    co.idle()
    assert trace == [0, 1, 2, 3, 4]


def test_run_nowait_runs_one_pass_and_returns():
    hub = co.get_hub()
    got = []
    co.spawn(got.append, 1)
    later = co.spawn_later(10, got.append, 2)
    hub.run_nowait()
    assert got == [1]
    # Nothing ready: returns at once rather than waiting for the timer.
    t0 = time.monotonic()
    hub.run_nowait()
    assert time.monotonic() - t0 < 0.5
    # A plain wait afterwards still blocks properly.
    co.sleep(0.01)
    later.kill()
    assert got == [1]


def test_hub_join_timeout():
    hub = co.get_hub()
    g = co.spawn(co.sleep, 0.5)
    assert hub.join(timeout=0.01) is False
    g.kill()
    assert hub.join(timeout=1) is True


def test_keyboard_interrupt_while_main_waits_is_forwarded_and_hub_survives():
    code = """
        import os, signal, time, threading, coopshell as co
        ticks = []
        def ticker():
            while True:
                ticks.append(1)
                co.sleep(0.01)
        t = co.spawn(ticker)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        t0 = time.monotonic()
        try:
            co.sleep(30)
        except KeyboardInterrupt:
            print("KI after", round(time.monotonic() - t0, 1))
        n = len(ticks)
        co.sleep(0.1)
        print("ticker alive", len(ticks) > n, "hub dead", co.get_hub().dead)
        t.kill()
        print("later sleep ok", co.sleep(0.05) is None)
    """
    rc, out, err = run_script(code)
    assert rc == 0, err
    assert "KI after 0.2" in out or "KI after 0.3" in out
    assert "ticker alive True hub dead False" in out
    assert "later sleep ok True" in out


def test_keyboard_interrupt_in_greenlet_goes_to_main():
    code = """
        import coopshell as co
        def bad():
            raise KeyboardInterrupt
        g = co.spawn(bad)
        try:
            co.sleep(5)
            print("no KI")
        except KeyboardInterrupt:
            print("main got KI; greenlet dead:", g.dead)
        print(co.spawn(lambda: 3).get())
    """
    rc, out, err = run_script(code)
    assert rc == 0, err
    assert "main got KI; greenlet dead: True" in out
    assert out.strip().endswith("3")


def test_system_exit_in_greenlet_exits_process():
    rc, out, err = run_script("""
        import coopshell as co
        co.spawn(lambda: exit(7))
        co.sleep(5)
        print("not reached")
    """)
    assert rc == 7 and "not reached" not in out


def test_signal_handler_runs_in_a_greenlet():
    code = """
        import os, signal, coopshell as co
        got = []
        def handler(tag):
            co.sleep(0.01)  # may block: it is a greenlet
            got.append((tag, co.getcurrent().__class__.__name__))
        h = co.signal_handler(signal.SIGUSR1, handler, "usr1")
        os.kill(os.getpid(), signal.SIGUSR1)
        co.sleep(0.1)
        h.cancel()
        print(got, signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL)
    """
    rc, out, err = run_script(code)
    assert rc == 0, err
    assert "[('usr1', 'Greenlet')] True" in out


def test_fork_reinit_child_uses_its_own_loop():
    code = """
        import os, coopshell as co
        co.sleep(0.01)
        pid = os.fork()
        if pid == 0:
            co.reinit()
            gs = [co.spawn(lambda i=i: co.sleep(0.01) or i) for i in range(5)]
            co.joinall(gs)
            os._exit(sum(g.value for g in gs))
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        print("parent", co.spawn(lambda: 1).get())
    """
    rc, out, err = run_script(code)
    assert rc == 0, err
    assert "child 10" in out and "parent 1" in out


def test_import_coopshell_stays_light():
    rc, out, err = run_script("""
        import sys, coopshell
        heavy = [m for m in ("prompt_toolkit", "IPython", "ipykernel", "zmq", "gevent",
                             "eventlet", "asyncio") if m in sys.modules]
        print("heavy:", heavy)
    """)
    assert rc == 0, err
    assert "heavy: []" in out


def test_handle_error_set_on_the_hub_later_sees_errors_of_raw_greenlets():
    # gevent.testing replaces handle_error on the hub instance after the hub
    # exists; the loop must report through whatever the hub has now.
    import coopshell as co
    hub = co.get_hub()
    seen = []

    def mine(context, type, value, tb):
        seen.append(type)

    hub.handle_error = mine
    try:
        def fail():
            raise ValueError("raw")
        co.spawn_raw(fail)
        co.sleep(0)
        co.sleep(0)
    finally:
        del hub.handle_error
    assert ValueError in seen


def test_sleep_rejects_a_value_switched_into_it():
    # gevent: only the sleep's own timer may wake it; anything else switched
    # in is an InvalidSwitchError (an AssertionError), not an early return.
    from coopshell._core.exceptions import InvalidSwitchError

    def sleeper():
        try:
            co.sleep(60)
        except InvalidSwitchError as e:
            return e
        return "returned"

    g = co.spawn(sleeper)
    co.sleep(0)  # g is now parked in its sleep
    co.spawn(g.switch, None)
    result = g.get(timeout=10)
    assert isinstance(result, AssertionError) and "Invalid switch" in str(result), result


def test_destroy_from_another_thread_than_the_hubs_own():
    # gevent issue 1631: a thread's hub, destroyed from the main thread after
    # that thread ended; its greenlet cannot be switched to from here.
    box = {}

    def in_thread():
        g = co.spawn(lambda: 0)
        g.join()
        hub = co.get_hub()
        hub.join()
        box["hub"] = hub

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    hub = box["hub"]
    hub.destroy(destroy_loop=True)
    assert hub.destroyed and hub.loop.closed
    assert co.get_hub() is not hub


def test_del_threadpool_and_exception_stream_reset_them():
    import coopshell.threadpool  # noqa: F401  (registers the default pool)
    hub = co.get_hub()
    pool = hub.threadpool
    assert hub.threadpool is pool
    try:
        assert pool.apply(lambda: 42) == 42
    finally:
        pool.kill()
    del hub.threadpool
    assert hub._threadpool is None
    fresh = hub.threadpool
    assert fresh is not pool and fresh.apply(lambda: 7) == 7
    stream = io.StringIO()
    hub.exception_stream = stream
    assert hub.exception_stream is stream
    del hub.exception_stream
    assert hub.exception_stream is __import__("sys").stderr


def test_a_destroyed_hub_of_an_ended_thread_is_collected():
    # gevent issue 1601: parked worker greenlets kept the hub, its loop and
    # the thread's main greenlet alive after the thread ended.
    import gc
    import weakref
    refs = []

    def in_thread():
        co.spawn(lambda: 0).join()
        hub = co.get_hub()
        hub.join()
        refs.append(weakref.ref(hub))
        refs.append(weakref.ref(hub.loop))
        hub.destroy(destroy_loop=True)

    for _ in range(3):
        t = threading.Thread(target=in_thread)
        t.start()
        t.join()
    for _ in range(3):
        gc.collect()
    assert len(refs) == 6 and [r() for r in refs] == [None] * 6


def test_periodic_monitoring_thread_is_none_as_none_runs():
    # gevent code checks `if hub.periodic_monitoring_thread:` before using one.
    assert Hub.periodic_monitoring_thread is None and co.get_hub().periodic_monitoring_thread is None


def test_hubs_have_a_minimal_ident_like_greenlets():
    import threading
    import coopshell as co
    hub = co.get_hub()
    first = hub.minimal_ident
    assert isinstance(first, int) and first >= 0 and hub.minimal_ident == first
    other = []
    t = threading.Thread(target=lambda: other.append(co.get_hub().minimal_ident))
    t.start()
    t.join()
    assert other and other[0] != first
