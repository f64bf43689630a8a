"""Idle cost: N greenlets parked (half on far timers, half on an Event)
while the main greenlet sleeps for ``seconds``. Reports the process CPU
time used during that sleep and the number of times the process was woken
(voluntary context switches); an idle runtime should use neither."""

from __future__ import annotations

from bench.common import Metric, Target, cpu_seconds, ctx_switches

TITLE = "idle: 1,000 parked greenlets, main in sleep(5)"
METRICS = [Metric("cpu_ms", "ms CPU in window"), Metric("wakeups", "wakeups in window")]
PARAMS = {"full": {"n": 1000, "seconds": 5.0}, "quick": {"n": 1000, "seconds": 1.0},
          "smoke": {"n": 100, "seconds": 0.2}}
TARGETS = [Target("cpu_ms", max_value=1.0), Target("wakeups", max_value=2)]

_FAR = 3600.0


def _measure(n, seconds, spawn, sleep, wait_event):
    parked = [0]

    def on_event():
        parked[0] += 1
        wait_event()

    def on_timer():
        parked[0] += 1
        sleep(_FAR)

    gs = [spawn(on_event if i % 2 else on_timer) for i in range(n)]
    while parked[0] < n:
        sleep(0)
    sleep(0)
    cpu0, cs0 = cpu_seconds(), ctx_switches()
    sleep(seconds)
    cpu1, cs1 = cpu_seconds(), ctx_switches()
    return gs, {"cpu_ms": (cpu1 - cpu0) * 1e3, "wakeups": cs1 - cs0}


def run_coopshell(n, seconds):
    import coopshell
    from coopshell.event import Event
    ev = Event()
    gs, result = _measure(n, seconds, coopshell.spawn, coopshell.sleep, ev.wait)
    coopshell.killall(gs)
    return result


def run_gevent(n, seconds):
    import gevent
    from gevent.event import Event
    ev = Event()
    gs, result = _measure(n, seconds, gevent.spawn, gevent.sleep, ev.wait)
    gevent.killall(gs)
    return result


def run_eventlet(n, seconds):
    import eventlet
    from eventlet.event import Event
    ev = Event()
    gs, result = _measure(n, seconds, eventlet.spawn, eventlet.sleep, ev.wait)
    for g in gs:
        g.kill()
    return result


def run_asyncio(n, seconds):
    import asyncio

    from bench.common import arun

    async def main():
        ev = asyncio.Event()
        parked = [0]

        async def on_event():
            parked[0] += 1
            await ev.wait()

        async def on_timer():
            parked[0] += 1
            await asyncio.sleep(_FAR)

        tasks = [asyncio.create_task(on_event() if i % 2 else on_timer()) for i in range(n)]
        while parked[0] < n:
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        cpu0, cs0 = cpu_seconds(), ctx_switches()
        await asyncio.sleep(seconds)
        cpu1, cs1 = cpu_seconds(), ctx_switches()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return {"cpu_ms": (cpu1 - cpu0) * 1e3, "wakeups": cs1 - cs0}

    return arun(main())
