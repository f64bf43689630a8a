"""``_core/sigint.py``: Ctrl-C never tears the runtime, and always reaches main.

- Fault injection: the installed SIGINT handler is called at the k-th line of
  runtime code a small workload executes, for every k; afterwards the runtime
  must be whole.
- A storm of real SIGINTs from a thread, in a script: no LoopExit, no hang.
- A greenlet spinning in pure Python: Ctrl-C raises KeyboardInterrupt in main.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

import coopshell as co
from coopshell._core import sigint
from coopshell._core.exceptions import LoopExit
from coopshell.event import Event
from coopshell.timeout import Timeout


def _workload():
    ev = Event()

    def child():
        co.sleep(0.0005)
        ev.set()

    g = co.spawn(child)
    try:
        t = Timeout(1)
        t.start()
        t.cancel()
        ev.wait()
        co.sleep(0)
        g.join()
    finally:
        g.kill()


def _traced(tracer_state):
    def tracer(frame, event, arg):
        if not sigint.is_runtime_frame(frame):
            return None

        def local(frame, event, arg):
            if event == "line":
                tracer_state["n"] += 1
                if tracer_state["n"] == tracer_state.get("inject"):
                    tracer_state["injected"] = frame.f_code.co_name
                    handler = signal.getsignal(signal.SIGINT)
                    handler(signal.SIGINT, frame)
            return local
        return local(frame, event, arg)
    return tracer


def test_our_handler_is_installed_under_the_default_one():
    co.get_hub()
    if signal.getsignal(signal.SIGINT) is not sigint.handler:
        pytest.skip("another SIGINT handler was installed before the hub (a front end)")
    assert sigint.is_runtime_frame(sys._getframe()) is False


def test_interrupt_injected_at_every_runtime_line_leaves_the_runtime_whole():
    co.get_hub()
    if signal.getsignal(signal.SIGINT) is not sigint.handler:
        pytest.skip("another SIGINT handler was installed before the hub (a front end)")
    ticks = [0]

    def ticker():
        while True:
            co.sleep(0.0005)
            ticks[0] += 1

    bg = co.spawn(ticker)
    co.sleep(0.002)
    baseline_refs = co.get_hub().loop.statistics()["refs"]
    state = {"n": 0}
    sys.settrace(_traced(state))
    try:
        _workload()
    finally:
        sys.settrace(None)
    total = state["n"]
    assert total > 50   # the workload does run through the runtime
    lost = []
    try:
        for k in range(1, total + 1):
            interrupted = 0
            state = {"n": 0, "inject": k}
            sys.settrace(_traced(state))
            try:
                _workload()
            except KeyboardInterrupt:
                interrupted += 1
            finally:
                sys.settrace(None)
            for _ in range(10):   # an interrupt deferred past the workload's last wait
                if not sigint.pending():
                    break
                try:
                    co.sleep(0.0001)
                except KeyboardInterrupt:
                    interrupted += 1
            assert not sigint.pending()
            if "injected" in state and interrupted != 1:
                lost.append((k, state["injected"], interrupted))
            # The runtime is whole: no LoopExit, sleeps last, the ticker ticks,
            # spawn().get() works, and no reference is left over.
            before = ticks[0]
            t0 = time.monotonic()
            co.sleep(0.002)
            assert time.monotonic() - t0 >= 0.002
            assert ticks[0] > before, f"ticker stopped after an interrupt at runtime line {k}"
            assert co.spawn(lambda: 42).get(timeout=5) == 42
            assert co.get_hub().loop.statistics()["refs"] == baseline_refs, f"refs torn at line {k}"
    except LoopExit as exc:  # pragma: no cover - the defect this test guards against
        pytest.fail(f"LoopExit after an interrupt: {exc}")
    finally:
        bg.kill()
    assert not lost, f"(line, function, KeyboardInterrupts seen) where the interrupt did not reach main once: {lost}"


def _run_script(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


def test_signal_storm_in_a_script_gives_no_loopexit_and_no_hang():
    out = _run_script("""
        import os, random, signal, threading, time
        import coopshell as co
        from coopshell.pool import Pool
        from coopshell._core.exceptions import LoopExit

        sent = threading.Event()
        def storm():
            rnd = random.Random(7)
            for _ in range(300):
                time.sleep(rnd.uniform(0.001, 0.015))
                os.kill(os.getpid(), signal.SIGINT)
            sent.set()

        co.get_hub()
        threading.Thread(target=storm, daemon=True).start()
        pool = Pool(8)
        interrupts = loopexits = rounds = 0
        while not sent.is_set():
            try:
                try:
                    pool.map(co.sleep, [0.001] * 16)
                    rounds += 1
                finally:
                    pool.kill()
            except KeyboardInterrupt:
                interrupts += 1
            except LoopExit:
                loopexits += 1
        # After the storm the runtime still works.
        for _ in range(3):
            try:
                co.sleep(0.01)
                break
            except KeyboardInterrupt:
                interrupts += 1
        assert co.spawn(lambda: 5).get(timeout=5) == 5
        assert len(pool.map(co.sleep, [0.001] * 16)) == 16
        print("result", interrupts, loopexits, rounds)
    """, timeout=90)
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("result")][0]
    interrupts, loopexits, rounds = map(int, line.split()[1:])
    assert loopexits == 0
    assert interrupts > 0 and rounds >= 0


def test_ctrl_c_of_a_spinning_greenlet_reaches_main():
    out = _run_script("""
        import os, signal, threading, time
        import coopshell as co

        started = threading.Event()
        sent_at = []
        def spin():
            started.set()
            while True:
                pass

        def interrupt():
            started.wait()
            time.sleep(0.05)
            sent_at.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        g = co.spawn(spin)
        try:
            g.join()
        except KeyboardInterrupt:
            print("main got KeyboardInterrupt after", time.monotonic() - sent_at[0])
        else:
            print("join returned normally")
    """)
    assert out.returncode == 0, out.stderr
    assert "main got KeyboardInterrupt" in out.stdout, out.stdout + out.stderr
    delay = float(out.stdout.split()[-1])
    assert delay < 5   # a hang guard; the design bound (0.5 s) is measured in the report


def test_system_exit_ending_a_greenlet_reaches_main():
    out = _run_script("""
        import coopshell as co
        def bye():
            raise SystemExit(3)
        co.spawn(bye).join()
        print("not reached")
    """)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "not reached" not in out.stdout


def test_a_handler_installed_by_someone_else_is_left_alone():
    out = _run_script("""
        import signal
        import coopshell as co
        def mine(signum, frame):
            pass
        signal.signal(signal.SIGINT, mine)
        co.get_hub()
        print(signal.getsignal(signal.SIGINT) is mine)
        co.get_hub().destroy()
        print(signal.getsignal(signal.SIGINT) is mine)
    """)
    assert out.stdout.split() == ["True", "True"], out.stderr


def test_destroying_the_hub_restores_the_default_handler():
    out = _run_script("""
        import signal
        import coopshell as co
        from coopshell._core import sigint
        co.get_hub()
        print(signal.getsignal(signal.SIGINT) is sigint.handler)
        co.get_hub().destroy()
        print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    """)
    assert out.stdout.split() == ["True", "True"], out.stderr
