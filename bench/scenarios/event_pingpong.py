"""Two greenlets handing control back and forth through two Events: A sets
``ping`` and waits for ``pong``; B waits for ``ping``, clears it, sets
``pong``. One round trip = two set/wait hand-offs."""

from __future__ import annotations

from time import perf_counter

from bench.common import Metric, Target

TITLE = "Event ping-pong (set/wait/clear)"
METRICS = [Metric("us_per_roundtrip", "µs/round trip")]
PARAMS = {"full": {"n": 100_000}, "quick": {"n": 25_000}, "smoke": {"n": 500}}
TARGETS = [Target("us_per_roundtrip", max_ratio=0.5)]   # issue 15


def _players(ping, pong, n):
    def a():
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()

    def b():
        for _ in range(n):
            ping.wait()
            ping.clear()
            pong.set()

    return a, b


def run_coopshell(n):
    import coopshell
    from coopshell.event import Event
    a, b = _players(Event(), Event(), n)
    coopshell.sleep(0)
    t0 = perf_counter()
    coopshell.joinall([coopshell.spawn(a), coopshell.spawn(b)])
    return {"us_per_roundtrip": (perf_counter() - t0) / n * 1e6}


def run_gevent(n):
    import gevent
    from gevent.event import Event
    a, b = _players(Event(), Event(), n)
    gevent.sleep(0)
    t0 = perf_counter()
    gevent.joinall([gevent.spawn(a), gevent.spawn(b)])
    return {"us_per_roundtrip": (perf_counter() - t0) / n * 1e6}


def run_eventlet(n):
    # eventlet's Event is one-shot: send() once, reset() to reuse.
    import eventlet
    from eventlet.event import Event
    ping, pong = Event(), Event()

    def a():
        for _ in range(n):
            ping.send()
            pong.wait()
            pong.reset()

    def b():
        for _ in range(n):
            ping.wait()
            ping.reset()
            pong.send()

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
        ping, pong = asyncio.Event(), asyncio.Event()

        async def a():
            for _ in range(n):
                ping.set()
                await pong.wait()
                pong.clear()

        async def b():
            for _ in range(n):
                await ping.wait()
                ping.clear()
                pong.set()

        t0 = perf_counter()
        await asyncio.gather(a(), b())
        return perf_counter() - t0

    return {"us_per_roundtrip": arun(main()) / n * 1e6}
