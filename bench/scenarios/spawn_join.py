"""spawn + join N greenlets (tasks) that do nothing: the cost of one
greenlet's life, from creation to a joined result."""

from __future__ import annotations

from time import perf_counter

from bench.common import Metric, Target

TITLE = "spawn+join (no-op greenlets)"
METRICS = [Metric("us_per_greenlet", "µs/greenlet")]
PARAMS = {"full": {"n": 100_000}, "quick": {"n": 20_000}, "smoke": {"n": 500}}
TARGETS = [Target("us_per_greenlet", max_ratio=0.5)]   # issue 15

_WARMUP = 100


def _noop():
    pass


def run_coopshell(n):
    import coopshell
    coopshell.joinall([coopshell.spawn(_noop) for _ in range(_WARMUP)])
    t0 = perf_counter()
    gs = [coopshell.spawn(_noop) for _ in range(n)]
    coopshell.joinall(gs)
    dt = perf_counter() - t0
    assert all(g.dead for g in gs)
    return {"us_per_greenlet": dt / n * 1e6}


def run_gevent(n):
    import gevent
    gevent.joinall([gevent.spawn(_noop) for _ in range(_WARMUP)])
    t0 = perf_counter()
    gs = [gevent.spawn(_noop) for _ in range(n)]
    gevent.joinall(gs)
    dt = perf_counter() - t0
    assert all(g.dead for g in gs)
    return {"us_per_greenlet": dt / n * 1e6}


def run_eventlet(n):
    import eventlet
    for g in [eventlet.spawn(_noop) for _ in range(_WARMUP)]:
        g.wait()
    t0 = perf_counter()
    gs = [eventlet.spawn(_noop) for _ in range(n)]
    for g in gs:
        g.wait()
    dt = perf_counter() - t0
    assert all(g.dead for g in gs)
    return {"us_per_greenlet": dt / n * 1e6}


def run_asyncio(n):
    import asyncio

    from bench.common import arun

    async def noop():
        pass

    async def main():
        await asyncio.gather(*[asyncio.create_task(noop()) for _ in range(_WARMUP)])
        t0 = perf_counter()
        tasks = [asyncio.create_task(noop()) for _ in range(n)]
        await asyncio.gather(*tasks)
        dt = perf_counter() - t0
        assert all(t.done() for t in tasks)
        return dt

    return {"us_per_greenlet": arun(main()) / n * 1e6}
