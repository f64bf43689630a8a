"""N greenlets, each sleeping a random 0–100 ms (seeded, the same delays for
every implementation): total wall time from the first spawn to the last
join, and the p99 lateness of the wakeups (actual wake minus the intended
wake, measured from the moment each greenlet called sleep)."""

from __future__ import annotations

import random
from time import monotonic, perf_counter

from bench.common import Metric, Target, percentile

TITLE = "timers: greenlets sleeping random 0-100 ms"
METRICS = [Metric("total_s", "s total"), Metric("p99_late_ms", "ms p99 lateness")]
PARAMS = {"full": {"n": 100_000, "max_delay": 0.1, "seed": 1},
          "quick": {"n": 20_000, "max_delay": 0.1, "seed": 1},
          "smoke": {"n": 500, "max_delay": 0.02, "seed": 1}}
TARGETS = [Target("total_s", max_ratio=0.7), Target("p99_late_ms", max_value=50.0)]


def _delays(n, max_delay, seed):
    rnd = random.Random(seed)
    return [rnd.uniform(0, max_delay) for _ in range(n)]


def _result(total, late):
    return {"total_s": total, "p99_late_ms": percentile(late, 0.99) * 1e3}


def _sleeper(sleep, late):
    append = late.append

    def sleeper(d):
        t = monotonic()
        sleep(d)
        append(monotonic() - t - d)

    return sleeper


def run_coopshell(n, max_delay, seed):
    import coopshell
    delays, late = _delays(n, max_delay, seed), []
    f = _sleeper(coopshell.sleep, late)
    coopshell.sleep(0)
    t0 = perf_counter()
    coopshell.joinall([coopshell.spawn(f, d) for d in delays])
    total = perf_counter() - t0
    assert len(late) == n
    return _result(total, late)


def run_gevent(n, max_delay, seed):
    import gevent
    delays, late = _delays(n, max_delay, seed), []
    f = _sleeper(gevent.sleep, late)
    gevent.sleep(0)
    t0 = perf_counter()
    gevent.joinall([gevent.spawn(f, d) for d in delays])
    total = perf_counter() - t0
    assert len(late) == n
    return _result(total, late)


def run_eventlet(n, max_delay, seed):
    import eventlet
    delays, late = _delays(n, max_delay, seed), []
    f = _sleeper(eventlet.sleep, late)
    eventlet.sleep(0)
    t0 = perf_counter()
    for g in [eventlet.spawn(f, d) for d in delays]:
        g.wait()
    total = perf_counter() - t0
    assert len(late) == n
    return _result(total, late)


def run_asyncio(n, max_delay, seed):
    import asyncio

    from bench.common import arun
    delays, late = _delays(n, max_delay, seed), []

    async def sleeper(d):
        t = monotonic()
        await asyncio.sleep(d)
        late.append(monotonic() - t - d)

    async def main():
        t0 = perf_counter()
        await asyncio.gather(*[asyncio.create_task(sleeper(d)) for d in delays])
        return perf_counter() - t0

    total = arun(main())
    assert len(late) == n
    return _result(total, late)
