"""Worker entry point: run one scenario on one implementation, print one JSON line.

``python -m bench.worker SCENARIO IMPL '{"n": 1000}'`` prints, as its last
line of output, one of::

    {"metrics": {"us_per_greenlet": 7.9}}
    {"na": "No module named 'coopshell.queue'"}
    {"error": "ValueError: ..."}

The runner starts a fresh worker for every measurement, so gevent's and
eventlet's monkey business never meets coopshell in one process. The worker
checks that afterwards: a measurement whose process had another
implementation loaded is reported as an error, and so is a coopshell run
that imported coopshell from elsewhere than expected: the working tree, or
for a ``coopshell@REV`` column the checkout named by ``BENCH_COOPSHELL_PATH``
(see :mod:`bench.baseline`).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
import warnings

__all__ = ["run_one", "main"]

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Modules that must not be loaded next to each implementation.
_FOREIGN = {
    "coopshell": ("gevent", "eventlet"),
    "gevent": ("coopshell", "eventlet"),
    "eventlet": ("coopshell", "gevent"),
    "asyncio": ("coopshell", "gevent", "eventlet"),
    "asyncio+uvloop": ("coopshell", "gevent", "eventlet"),
}


def run_one(scenario: str, impl: str, params: dict) -> dict:
    """Run ``scenario`` on ``impl`` in this process; return the result dict."""
    from . import common
    from .baseline import ENV_PATH
    if impl.startswith("coopshell@"):
        impl = "coopshell"  # the same code path, another checkout (bench.baseline)
    if impl not in _FOREIGN:
        return {"error": f"unknown implementation {impl!r}; expected one of {sorted(_FOREIGN)}"}
    mod = importlib.import_module(f"bench.scenarios.{scenario}")
    fname = "run_asyncio" if impl == "asyncio+uvloop" else f"run_{impl}"
    func = getattr(mod, fname, None)
    if func is None or (impl == "asyncio+uvloop" and not getattr(mod, "UVLOOP", True)):
        return {"na": f"{scenario} has no {impl} version"}
    try:
        if impl == "asyncio+uvloop":
            import uvloop
            common.set_loop_factory(uvloop.new_event_loop)
        metrics = func(**params)
    except ImportError as exc:
        return {"na": f"ImportError: {exc}"}
    except BaseException as exc:
        tb = traceback.format_exc(limit=-3)
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": tb}
    loaded = [m for m in _FOREIGN[impl] if m in sys.modules]
    if loaded:
        return {"error": f"{impl} run had {', '.join(loaded)} loaded in the same process"}
    cs = sys.modules.get("coopshell")
    if cs is not None and impl == "coopshell":
        expected = os.path.join(os.environ.get(ENV_PATH) or _ROOT, "coopshell")
        if os.path.dirname(os.path.abspath(cs.__file__ or "?")) != expected:
            return {"error": f"coopshell was imported from {cs.__file__}, expected {expected}"}
    want = {m.key for m in mod.METRICS}
    if not isinstance(metrics, dict) or set(metrics) != want:
        return {"error": f"run returned {metrics!r}, expected keys {sorted(want)}"}
    return {"metrics": {k: None if v is None else float(v) for k, v in metrics.items()}}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print("usage: python -m bench.worker SCENARIO IMPL PARAMS_JSON", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")  # eventlet's deprecation banner, uvloop's policy notes
    scenario, impl, params = argv[0], argv[1], json.loads(argv[2])
    result = run_one(scenario, impl, params)
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
