"""Jupyter round trip: execute a ``pass`` cell and wait for its reply and the
kernel's idle status, on the coopshell kernel and on the stock ipykernel
(``python3`` kernelspec), alternating batches in the same run so both see the
same machine load. Reports coopshell's time per cell and its ratio to the
stock kernel's (target <= 1.1: the bridge costs a cell next to nothing)."""

from __future__ import annotations

import statistics
import time

from bench.common import Metric, Target

TITLE = "kernel: `pass` cell round trip (coopshell kernel vs stock ipykernel)"
METRICS = [Metric("ms_per_cell", "ms/cell"), Metric("ratio", "x stock ipykernel")]
PARAMS = {"full": {"cells": 200, "batches": 10}, "quick": {"cells": 50, "batches": 4},
          "smoke": {"cells": 10, "batches": 1}}
TARGETS = [Target("ratio", max_value=1.1)]


def _batch(kc, cells):
    from bench.scenarios._kernels import execute

    t0 = time.perf_counter()
    for _ in range(cells):
        execute(kc, "pass")
    return (time.perf_counter() - t0) / cells


def run_coopshell(cells, batches):
    from bench.scenarios._kernels import execute, start, stop

    kernels = {name: start(name) for name in ("coopshell", "python3")}
    try:
        # the coopshell kernel with greenlets parked in it, as in real use
        execute(kernels["coopshell"][1], "import coopshell as co\n"
                "from coopshell.event import Event\n"
                "_ev = Event(); _gs = [co.spawn(_ev.wait) for _ in range(100)]")
        for name, (km, kc) in kernels.items():
            _batch(kc, max(5, cells // 5))          # warm up
        per = {name: [] for name in kernels}
        for _ in range(batches):
            for name, (km, kc) in kernels.items():
                per[name].append(_batch(kc, cells))
        ours = statistics.median(per["coopshell"])
        stock = statistics.median(per["python3"])
        return {"ms_per_cell": ours * 1e3, "ratio": ours / stock}
    finally:
        for km, kc in kernels.values():
            stop(km, kc)
