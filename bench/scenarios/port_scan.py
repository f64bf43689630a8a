"""A loopback port scan: ``ports`` TCP ports on 127.0.0.1, ``open_ports`` of
them listening and the rest closed, probed by ``concurrency`` greenlets
(tasks) that each take the next port, ``connect_ex`` to it with a 5 s
timeout, and close. Reported: ports per second (higher is better).

The closed ports are sockets bound to an ephemeral port and never put in
listen state, so the kernel refuses (RST) connections to them and no other
program on the machine can own them meanwhile: the scan touches only ports
this process holds. The open ones listen with a backlog large enough that
the kernel completes every handshake without an accept."""

from __future__ import annotations

import resource
import socket as _stdsocket
from time import perf_counter

from bench.common import Metric, Target

TITLE = "port scan: 2,000 loopback ports (mostly closed), 500 at a time"
METRICS = [Metric("ports_per_s", "ports/s", better="higher")]
PARAMS = {"full": {"ports": 2000, "open_ports": 20, "concurrency": 500, "reps": 3},
          "quick": {"ports": 2000, "open_ports": 20, "concurrency": 500, "reps": 1},
          "smoke": {"ports": 40, "open_ports": 4, "concurrency": 10, "reps": 1}}
TARGETS = [Target("ports_per_s", min_ratio=1.2)]


def _targets(ports, open_ports, concurrency):
    """Hold ``ports`` loopback ports (``open_ports`` listening); return
    ``(sockets, {port: is_open})``. Uses the stdlib socket: set-up is not timed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = ports + concurrency + 256
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise RuntimeError(f"port_scan needs {need} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    socks, expect = [], {}
    step = max(1, ports // open_ports) if open_ports else 0
    for i in range(ports):
        s = _stdsocket.socket(_stdsocket.AF_INET, _stdsocket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        is_open = bool(step) and i % step == 0 and i // step < open_ports
        if is_open:
            s.listen(1024)
        socks.append(s)
        expect[s.getsockname()[1]] = is_open
    return socks, expect


def _check(found, expect):
    if found != expect:
        wrong = [p for p in expect if found.get(p) != expect[p]][:5]
        raise AssertionError(f"scan got {len(wrong)}+ ports wrong, e.g. {wrong} "
                             f"(open: {sum(expect.values())} expected, "
                             f"{sum(1 for v in found.values() if v)} found)")


def _green(socket_mod, spawn, joinall, ports, open_ports, concurrency, reps):
    socks, expect = _targets(ports, open_ports, concurrency)
    AF_INET, SOCK_STREAM = socket_mod.AF_INET, socket_mod.SOCK_STREAM
    best = float("inf")
    try:
        for _ in range(reps):
            todo = iter(list(expect))
            found = {}

            def prober():
                for port in todo:
                    s = socket_mod.socket(AF_INET, SOCK_STREAM)
                    s.settimeout(5.0)
                    found[port] = s.connect_ex(("127.0.0.1", port)) == 0
                    s.close()

            t0 = perf_counter()
            joinall([spawn(prober) for _ in range(concurrency)])
            best = min(best, perf_counter() - t0)
            _check(found, expect)
    finally:
        for s in socks:
            s.close()
    return {"ports_per_s": ports / best}


def run_coopshell(ports, open_ports, concurrency, reps):
    import coopshell
    import coopshell.socket
    return _green(coopshell.socket, coopshell.spawn, coopshell.joinall, ports, open_ports,
                  concurrency, reps)


def run_gevent(ports, open_ports, concurrency, reps):
    import gevent
    import gevent.socket
    return _green(gevent.socket, gevent.spawn, gevent.joinall, ports, open_ports, concurrency,
                  reps)


def run_eventlet(ports, open_ports, concurrency, reps):
    import eventlet
    from eventlet.green import socket

    def joinall(gs):
        for g in gs:
            g.wait()

    return _green(socket, eventlet.spawn, joinall, ports, open_ports, concurrency, reps)


def run_asyncio(ports, open_ports, concurrency, reps):
    import asyncio

    from bench.common import arun
    socks, expect = _targets(ports, open_ports, concurrency)

    async def main():
        best = float("inf")
        for _ in range(reps):
            todo = iter(list(expect))
            found = {}

            async def prober():
                for port in todo:
                    try:
                        _, w = await asyncio.wait_for(
                            asyncio.open_connection("127.0.0.1", port), 5.0)
                    except OSError:
                        found[port] = False
                    else:
                        found[port] = True
                        w.close()

            t0 = perf_counter()
            await asyncio.gather(*(prober() for _ in range(concurrency)))
            best = min(best, perf_counter() - t0)
            _check(found, expect)
        return {"ports_per_s": ports / best}

    try:
        return arun(main())
    finally:
        for s in socks:
            s.close()
