"""Memory per parked greenlet: N greenlets each waiting on one Event.
(RSS with all of them parked - RSS before spawning) / N, after a full
garbage collection both times."""

from __future__ import annotations

import gc

from bench.common import Metric, Target, rss_bytes

TITLE = "RSS per greenlet parked on an Event"
METRICS = [Metric("kib_per_greenlet", "KiB/greenlet")]
PARAMS = {"full": {"n": 10_000}, "quick": {"n": 10_000}, "smoke": {"n": 500}}
TARGETS = [Target("kib_per_greenlet", max_ratio=0.6)]

_WARMUP = 20


def _measure(n, spawn, wait_event, yield_, release, join):
    """Spawn ``n`` greenlets that park in ``wait_event``; measure; release."""
    parked = [0]

    def park():
        parked[0] += 1
        wait_event()

    warm = [spawn(park) for _ in range(_WARMUP)]
    while parked[0] < _WARMUP:
        yield_()
    parked[0] = 0
    gc.collect()
    before = rss_bytes()
    gs = [spawn(park) for _ in range(n)]
    while parked[0] < n:
        yield_()
    gc.collect()
    after = rss_bytes()
    release()
    join(warm + gs)
    return {"kib_per_greenlet": (after - before) / n / 1024}


def run_coopshell(n):
    import coopshell
    from coopshell.event import Event
    ev = Event()
    return _measure(n, coopshell.spawn, ev.wait, coopshell.sleep, ev.set, coopshell.joinall)


def run_gevent(n):
    import gevent
    from gevent.event import Event
    ev = Event()
    return _measure(n, gevent.spawn, ev.wait, gevent.sleep, ev.set, gevent.joinall)


def run_eventlet(n):
    import eventlet
    from eventlet.event import Event
    ev = Event()

    def join(gs):
        for g in gs:
            g.wait()

    return _measure(n, eventlet.spawn, ev.wait, eventlet.sleep, ev.send, join)


def run_asyncio(n):
    import asyncio

    from bench.common import arun

    async def main():
        ev = asyncio.Event()
        parked = [0]

        async def park():
            parked[0] += 1
            await ev.wait()

        warm = [asyncio.create_task(park()) for _ in range(_WARMUP)]
        while parked[0] < _WARMUP:
            await asyncio.sleep(0)
        parked[0] = 0
        gc.collect()
        before = rss_bytes()
        tasks = [asyncio.create_task(park()) for _ in range(n)]
        while parked[0] < n:
            await asyncio.sleep(0)
        gc.collect()
        after = rss_bytes()
        ev.set()
        await asyncio.gather(*warm, *tasks)
        return {"kib_per_greenlet": (after - before) / n / 1024}

    return arun(main())
