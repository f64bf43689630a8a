"""Concurrent name lookups: ``n`` greenlets (tasks) each resolve
``'localhost'`` at once through the implementation's default resolver
(/etc/hosts only, never the network). Reports the best time of ``reps``
batches, plus a second metric with different names per greenlet, so that
coalescing identical in-flight lookups cannot help and only the thread
hand-off is measured.

gevent's default resolver runs each lookup in its thread pool; coopshell's
also uses a thread pool, but delivers results in batches and coalesces
identical lookups. asyncio runs ``socket.gethostbyname`` in the default
executor."""

from __future__ import annotations

from time import perf_counter

from bench.common import Metric, Target

TITLE = "DNS: 200 concurrent gethostbyname('localhost')"
METRICS = [Metric("ms_same_name", "ms/batch, one name"),
           Metric("ms_distinct", "ms/batch, distinct names")]
PARAMS = {"full": {"n": 200, "reps": 30}, "quick": {"n": 200, "reps": 10},
          "smoke": {"n": 20, "reps": 2}}
TARGETS = [Target("ms_same_name", max_ratio=0.4), Target("ms_distinct", max_ratio=1.0)]

_HOST = "localhost"


def _names(n):
    # Distinct strings that all resolve through /etc/hosts: case variants of
    # "localhost" (host names are case-blind); 512 exist.
    out = []
    base = "localhost"
    i = 0
    while len(out) < n:
        variant = "".join(c.upper() if (i >> k) & 1 else c for k, c in enumerate(base))
        out.append(variant)
        i += 1
    return out


def _measure(n, reps, spawn, joinall, lookup):
    def batch(names):
        gs = [spawn(lookup, h) for h in names]
        joinall(gs)
        for g in gs:
            if g.value != "127.0.0.1":
                raise AssertionError(f"lookup failed: {g!r}")

    same = [_HOST] * n
    distinct = _names(n)
    batch(same)          # warm the pool
    best_same = best_distinct = float("inf")
    for _ in range(reps):
        t0 = perf_counter()
        batch(same)
        best_same = min(best_same, perf_counter() - t0)
        t0 = perf_counter()
        batch(distinct)
        best_distinct = min(best_distinct, perf_counter() - t0)
    return {"ms_same_name": best_same * 1e3, "ms_distinct": best_distinct * 1e3}


def run_coopshell(n, reps):
    import coopshell
    from coopshell.resolver import gethostbyname
    return _measure(n, reps, coopshell.spawn, coopshell.joinall, gethostbyname)


def run_gevent(n, reps):
    import gevent
    import gevent.socket
    return _measure(n, reps, gevent.spawn, gevent.joinall, gevent.socket.gethostbyname)


def run_eventlet(n, reps):
    import eventlet
    from eventlet.green import socket

    def joinall(gs):
        for g in gs:
            g.value = g.wait()

    return _measure(n, reps, eventlet.spawn, joinall, socket.gethostbyname)


def run_asyncio(n, reps):
    import asyncio
    import socket

    from bench.common import arun

    async def main():
        loop = asyncio.get_running_loop()

        async def one(host):
            return await loop.run_in_executor(None, socket.gethostbyname, host)

        async def batch(names):
            values = await asyncio.gather(*(one(h) for h in names))
            if any(v != "127.0.0.1" for v in values):
                raise AssertionError("lookup failed")

        same = [_HOST] * n
        distinct = _names(n)
        await batch(same)
        best_same = best_distinct = float("inf")
        for _ in range(reps):
            t0 = perf_counter()
            await batch(same)
            best_same = min(best_same, perf_counter() - t0)
            t0 = perf_counter()
            await batch(distinct)
            best_distinct = min(best_distinct, perf_counter() - t0)
        return {"ms_same_name": best_same * 1e3, "ms_distinct": best_distinct * 1e3}

    return arun(main())
