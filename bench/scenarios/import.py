"""Import time: ``import coopshell`` against ``import gevent`` (and
``import eventlet``, ``import asyncio``, ``import asyncio, uvloop``), each in
a fresh interpreter, ``reps`` times, alternating. The child times the import
statement itself with ``perf_counter`` (interpreter start-up is the same for
all and left out); reported is the median, in ms. For where the time goes,
run ``python -X importtime -c 'import coopshell'``."""

from __future__ import annotations

import statistics
import subprocess
import sys

from bench.common import Metric, Target, child_env

TITLE = "import: `import coopshell` vs `import gevent`, fresh interpreter"
METRICS = [Metric("import_ms", "ms to import")]
PARAMS = {"full": {"reps": 20}, "quick": {"reps": 5}, "smoke": {"reps": 1}}
TARGETS = [Target("import_ms", max_ratio=0.5)]

_CHILD = ("import time; t = time.perf_counter(); import {mod}; "
          "print((time.perf_counter() - t) * 1e3)")


def _measure(mod, reps):
    times = []
    for _ in range(reps):
        proc = subprocess.run([sys.executable, "-c", _CHILD.format(mod=mod)],
                              capture_output=True, text=True, env=child_env(), timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"`import {mod}` failed: {proc.stderr.strip()[-500:]}")
        times.append(float(proc.stdout.split()[-1]))
    return {"import_ms": statistics.median(times)}


def run_coopshell(reps):
    return _measure("coopshell", reps)


def run_gevent(reps):
    return _measure("gevent", reps)


def run_eventlet(reps):
    return _measure("eventlet", reps)


def run_asyncio(reps):
    from bench.common import _loop_factory
    return _measure("asyncio, uvloop" if _loop_factory is not None else "asyncio", reps)
