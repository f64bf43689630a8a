"""The asyncio bridge: an asyncio loop drives the hub, at zero CPU when idle."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import coopshell as co
from coopshell.event import Event
from coopshell.interactive import bridge as bridge_mod
from coopshell.interactive.bridge import Bridge


def run_async(coro_fn, timeout=20):
    """Run ``coro_fn()`` on a fresh asyncio loop with the hub bridged; clean up after."""
    loop = asyncio.new_event_loop()
    spawned = []

    async def main():
        b = bridge_mod.attach()
        try:
            return await asyncio.wait_for(coro_fn(b, spawned), timeout)
        finally:
            b.detach()

    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()
        co.killall([g for g in spawned if not g.dead], timeout=2)


def ticker(ticks, period=0.05):
    while True:
        ticks.append(time.monotonic())
        co.sleep(period)


def test_attach_is_idempotent_and_detach_clean():
    async def body(b, spawned):
        assert b.attached and bridge_mod.get_bridge() is b
        assert bridge_mod.attach() is b
        assert co.get_hub().bridge is b
        b.detach()
        assert not b.attached and co.get_hub().bridge is None
        b.detach()  # twice is fine
        assert bridge_mod.attach() is b and b.attached
    run_async(body)


def test_attach_rejects_non_loop():
    with pytest.raises(TypeError, match="asyncio event loop"):
        Bridge().attach("not a loop")


def test_ticker_keeps_its_rate_while_asyncio_is_idle():
    async def body(b, spawned):
        ticks = []
        spawned.append(co.spawn(ticker, ticks))
        await asyncio.sleep(1.0)
        return ticks
    ticks = run_async(body)
    assert 16 <= len(ticks) <= 22, len(ticks)
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert max(gaps) < 0.15, max(gaps)


def test_detach_stops_driving_and_reattach_resumes():
    async def body(b, spawned):
        ticks = []
        spawned.append(co.spawn(ticker, ticks, 0.02))
        await asyncio.sleep(0.2)
        b.detach()
        n = len(ticks)
        await asyncio.sleep(0.2)
        stopped = len(ticks) - n
        bridge_mod.attach()
        await asyncio.sleep(0.2)
        return n, stopped, len(ticks)
    n, stopped, total = run_async(body)
    assert n >= 5 and stopped == 0 and total >= n + 5


def test_asyncio_task_and_greenlets_progress_together():
    async def body(b, spawned):
        trace = []

        async def task():
            for _ in range(10):
                trace.append("a")
                await asyncio.sleep(0.02)

        def green():
            for _ in range(10):
                trace.append("g")
                co.sleep(0.02)
        t0 = time.monotonic()
        g = co.spawn(green)
        await asyncio.gather(task(), g)
        return trace, time.monotonic() - t0
    trace, elapsed = run_async(body)
    assert trace.count("a") == 10 and trace.count("g") == 10
    assert elapsed < 0.6, elapsed            # together, not one after the other
    assert "ag" in "".join(trace) or "ga" in "".join(trace)
    assert "".join(trace[:10]) not in ("a" * 10, "g" * 10)


def test_await_greenlet_value_and_exception():
    async def body(b, spawned):
        g = co.spawn(lambda: co.sleep(0.05) or 42)
        value = await g
        bad = co.spawn(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            await bad
        return value, await g   # awaiting a finished greenlet returns at once
    assert run_async(body) == (42, 42)


def test_await_greenlet_without_bridge_is_a_clear_error():
    async def body():
        g = co.spawn(co.sleep, 0.01)
        try:
            with pytest.raises(RuntimeError, match="not bridged"):
                await g
        finally:
            g.kill()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(body())
    finally:
        loop.close()


def test_spawn_from_asyncio_code_runs_without_explicit_wake():
    async def body(b, spawned):
        started = []
        t0 = time.monotonic()
        spawned.append(co.spawn(lambda: started.append(time.monotonic())))
        await asyncio.sleep(0.3)       # nothing but the selector hook notices the spawn
        return started[0] - t0 if started else None
    delay = run_async(body)
    assert delay is not None and delay < 0.1, delay


def test_timer_set_from_asyncio_code_is_honoured():
    async def body(b, spawned):
        fired = []
        t0 = time.monotonic()
        spawned.append(co.spawn_later(0.1, lambda: fired.append(time.monotonic() - t0)))
        await asyncio.sleep(0.5)
        return fired
    fired = run_async(body)
    assert fired and 0.09 <= fired[0] < 0.3, fired


def test_event_set_from_another_thread_wakes_greenlet():
    async def body(b, spawned):
        ev = Event()
        got = []
        hub = co.get_hub()
        spawned.append(co.spawn(lambda: got.append(ev.wait(5))))
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        threading.Thread(target=hub.loop.run_callback_threadsafe, args=(ev.set,)).start()
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
        return got, time.monotonic() - t0
    got, elapsed = run_async(body)
    assert got == [True] and elapsed < 0.5


def test_spinning_greenlet_does_not_starve_asyncio():
    async def body(b, spawned):
        stop = []
        spins = [0]

        def spin():
            while not stop:
                spins[0] += 1
                co.sleep(0)
        spawned.append(co.spawn(spin))
        t0 = time.monotonic()
        await asyncio.sleep(0.1)
        late = time.monotonic() - t0
        stop.append(1)
        return late, spins[0]
    late, spins = run_async(body)
    assert late < 0.5 and spins > 100


def test_interrupt_during_pass_cancels_foreground():
    async def body(b, spawned):
        def interrupt():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)    # the KeyboardInterrupt lands in this greenlet, in the hub
        fg = asyncio.ensure_future(asyncio.sleep(5))
        b.foreground = fg
        spawned.append(co.spawn(interrupt))
        with pytest.raises(asyncio.CancelledError):
            await fg
        b.foreground = None
        ticks = []
        spawned.append(co.spawn(ticker, ticks, 0.01))
        await asyncio.sleep(0.1)
        return len(ticks)
    assert run_async(body) >= 3   # the hub survived


def test_idle_with_10000_parked_greenlets_uses_no_cpu():
    code = """
        import asyncio, time
        import coopshell as co
        from coopshell.event import Event
        from coopshell.interactive import bridge
        ev = Event()
        async def main():
            bridge.attach()
            gs = [co.spawn(co.sleep, 3600) for _ in range(5000)]
            gs += [co.spawn(ev.wait) for _ in range(5000)]
            hub = co.get_hub()
            # Wait on state: every greenlet started and parked, nothing left for the hub.
            while not (all(g.state == "running" and g.gr_frame is not None for g in gs)
                       and not hub.loop.has_pending_work()):
                await asyncio.sleep(0.01)
            c0 = time.process_time()
            await asyncio.sleep(2.0)
            print(time.process_time() - c0, sum(1 for g in gs if g))
        asyncio.new_event_loop().run_until_complete(main())
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    cpu, alive = out.stdout.split()
    assert int(alive) == 10000
    assert float(cpu) < 0.05, cpu


def test_uvloop_without_selector_hook_runs_with_wake():
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()

    async def main():
        b = bridge_mod.attach()
        try:
            assert b.selector is None           # no Python selector to hook
            ticks = []
            g = co.spawn(ticker, ticks, 0.05)
            b.wake()                            # what front ends do after user code
            await asyncio.sleep(0.5)
            value = await co.spawn(lambda: co.sleep(0.05) or "v")   # await wakes by itself
            g.kill(block=False)
            b.wake()
            await asyncio.sleep(0.05)
            return len(ticks), value, g.dead
        finally:
            b.detach()
    try:
        n, value, dead = loop.run_until_complete(main())
    finally:
        loop.close()
    assert 7 <= n <= 13 and value == "v" and dead
