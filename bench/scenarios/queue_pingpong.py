"""Two greenlets passing an item back and forth through two unbounded
queues: A puts on ``q1`` and gets from ``q2``; B gets from ``q1`` and puts
on ``q2``. One round trip = two put/get hand-offs."""

from __future__ import annotations

from time import perf_counter

from bench.common import Metric, Target

TITLE = "Queue ping-pong (put/get)"
METRICS = [Metric("us_per_roundtrip", "µs/round trip")]
PARAMS = {"full": {"n": 100_000}, "quick": {"n": 25_000}, "smoke": {"n": 500}}
TARGETS = [Target("us_per_roundtrip", max_ratio=0.5)]   # issue 15


def _players(q1, q2, n):
    def a():
        for i in range(n):
            q1.put(i)
            if q2.get() != i:
                raise AssertionError("queue ping-pong lost an item")

    def b():
        for _ in range(n):
            q2.put(q1.get())

    return a, b


def run_coopshell(n):
    import coopshell
    from coopshell.queue import Queue  # ImportError until coopshell.queue exists: n/a
    a, b = _players(Queue(), Queue(), n)
    coopshell.sleep(0)
    t0 = perf_counter()
    coopshell.joinall([coopshell.spawn(a), coopshell.spawn(b)], raise_error=True)
    return {"us_per_roundtrip": (perf_counter() - t0) / n * 1e6}


def run_gevent(n):
    import gevent
    from gevent.queue import Queue
    a, b = _players(Queue(), Queue(), n)
    gevent.sleep(0)
    t0 = perf_counter()
    gevent.joinall([gevent.spawn(a), gevent.spawn(b)], raise_error=True)
    return {"us_per_roundtrip": (perf_counter() - t0) / n * 1e6}


def run_eventlet(n):
    import eventlet
    from eventlet.queue import Queue
    a, b = _players(Queue(), Queue(), n)
    eventlet.sleep(0)
    t0 = perf_counter()
    ga, gb = eventlet.spawn(a), eventlet.spawn(b)
    ga.wait()
    gb.wait()
    return {"us_per_roundtrip": (perf_counter() - t0) / n * 1e6}


def run_asyncio(n):
    import asyncio

    from bench.common import arun

    async def main():
        q1, q2 = asyncio.Queue(), asyncio.Queue()

        async def a():
            for i in range(n):
                q1.put_nowait(i)  # unbounded: put() never waits
                if await q2.get() != i:
                    raise AssertionError("queue ping-pong lost an item")

        async def b():
            for _ in range(n):
                q2.put_nowait(await q1.get())

        t0 = perf_counter()
        await asyncio.gather(a(), b())
        return perf_counter() - t0

    return {"us_per_roundtrip": arun(main()) / n * 1e6}
