"""Idle coopshell kernel: 1,000 greenlets parked (on an Event and on far
timers) while no cell runs. Reports the kernel process's CPU time over the
window, measured from outside with psutil (the whole process: IOPub,
heartbeat and control threads included), and the stock ipykernel's CPU over
the same window, idle and without greenlets, as the floor."""

from __future__ import annotations

import time

from bench.common import Metric, Target

TITLE = "kernel: idle CPU, 1,000 parked greenlets between cells"
METRICS = [Metric("cpu_ms", "ms CPU in window (coopshell kernel)"),
           Metric("stock_cpu_ms", "ms CPU in window (stock ipykernel, no greenlets)")]
PARAMS = {"full": {"n": 1000, "seconds": 5.0}, "quick": {"n": 1000, "seconds": 2.0},
          "smoke": {"n": 100, "seconds": 0.2}}
TARGETS = [Target("cpu_ms", max_value=5.0)]


def _cpu(pid):
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def run_coopshell(n, seconds):
    from bench.scenarios._kernels import execute, start, stop

    kernels = {name: start(name) for name in ("coopshell", "python3")}
    try:
        pids = {}
        for name, (km, kc) in kernels.items():
            pids[name] = km.provisioner.pid
        execute(kernels["coopshell"][1], "import coopshell as co\n"
                "from coopshell.event import Event\n"
                f"_ev = Event(); _gs = [co.spawn(_ev.wait) for _ in range({n} // 2)]\n"
                f"_gs += [co.spawn(co.sleep, 3600) for _ in range({n} - {n} // 2)]\n"
                "co.sleep(0.01); assert not any(g.dead for g in _gs)")
        time.sleep(0.2)   # let the IOPub thread settle after the last reply
        c0 = {name: _cpu(pid) for name, pid in pids.items()}
        time.sleep(seconds)
        c1 = {name: _cpu(pid) for name, pid in pids.items()}
        return {"cpu_ms": (c1["coopshell"] - c0["coopshell"]) * 1e3,
                "stock_cpu_ms": (c1["python3"] - c0["python3"]) * 1e3}
    finally:
        for km, kc in kernels.values():
            stop(km, kc)
