"""Kernel start-up: from ``KernelManager.start_kernel()`` to the first
``kernel_info`` reply (``KernelClient.wait_for_ready``, what a front end
does before it lets you run a cell), for the coopshell kernel and the stock
ipykernel (``python3`` kernelspec), alternating, ``reps`` times each after
one unmeasured warm-up start of each (skipped at the smoke size). Reported:
the median in ms for both, and coopshell ÷ stock. Only the coopshell column runs this."""

from __future__ import annotations

import statistics
import time

from bench.common import Metric, Target

TITLE = "kernel start-up: launch to kernel_info reply (coopshell vs stock ipykernel)"
METRICS = [Metric("ms_coopshell", "ms to kernel_info, coopshell kernel"),
           Metric("ms_stock", "ms to kernel_info, stock ipykernel"),
           Metric("ratio", "x stock ipykernel")]
PARAMS = {"full": {"reps": 10, "warmup": True}, "quick": {"reps": 3, "warmup": True},
          "smoke": {"reps": 1, "warmup": False}}
TARGETS = [Target("ratio", max_value=1.1)]


def _start_once(name: str) -> float:
    from jupyter_client.manager import KernelManager
    km = KernelManager(kernel_name=name)
    t0 = time.perf_counter()
    km.start_kernel()
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        return time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run_coopshell(reps, warmup):
    names = {"coopshell": [], "python3": []}
    for name in names if warmup else ():
        _start_once(name)        # warm-up: bytecode caches, connection-file dirs
    for _ in range(reps):
        for name, times in names.items():
            times.append(_start_once(name))
    ours = statistics.median(names["coopshell"])
    stock = statistics.median(names["python3"])
    return {"ms_coopshell": ours * 1e3, "ms_stock": stock * 1e3, "ratio": ours / stock}
