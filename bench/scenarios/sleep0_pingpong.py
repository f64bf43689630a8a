"""Two greenlets yielding to each other with ``sleep(0)``: the cost of one
round trip (A yields, B runs and yields, A runs again)."""

from __future__ import annotations

from time import perf_counter

from bench.common import Metric, Target

TITLE = "sleep(0) ping-pong, 2 greenlets"
METRICS = [Metric("us_per_roundtrip", "µs/round trip")]
PARAMS = {"full": {"n": 200_000}, "quick": {"n": 50_000}, "smoke": {"n": 1000}}
TARGETS = [Target("us_per_roundtrip", max_ratio=0.6)]   # issue 15


def run_coopshell(n):
    import coopshell
    sleep = coopshell.sleep

    def player():
        for _ in range(n):
            sleep(0)

    coopshell.sleep(0)  # create the hub outside the timing
    t0 = perf_counter()
    coopshell.joinall([coopshell.spawn(player), coopshell.spawn(player)])
    return {"us_per_roundtrip": (perf_counter() - t0) / n * 1e6}


def run_gevent(n):
    import gevent
    sleep = gevent.sleep

    def player():
        for _ in range(n):
            sleep(0)

    gevent.sleep(0)
    t0 = perf_counter()
    gevent.joinall([gevent.spawn(player), gevent.spawn(player)])
    return {"us_per_roundtrip": (perf_counter() - t0) / n * 1e6}


def run_eventlet(n):
    import eventlet
    sleep = eventlet.sleep

    def player():
        for _ in range(n):
            sleep(0)

    eventlet.sleep(0)
    t0 = perf_counter()
    a, b = eventlet.spawn(player), eventlet.spawn(player)
    a.wait()
    b.wait()
    return {"us_per_roundtrip": (perf_counter() - t0) / n * 1e6}


def run_asyncio(n):
    import asyncio

    from bench.common import arun

    async def player():
        sleep = asyncio.sleep
        for _ in range(n):
            await sleep(0)

    async def main():
        t0 = perf_counter()
        await asyncio.gather(player(), player())
        return perf_counter() - t0

    return {"us_per_roundtrip": arun(main()) / n * 1e6}
