"""Helpers shared by the scenario modules and the runner.

Nothing here imports coopshell, gevent, eventlet or asyncio at module level:
a worker process must load only the implementation it measures.

A scenario module declares:

- ``TITLE``: one line for the table;
- ``METRICS``: a list of :class:`Metric` (what ``run_*`` returns, by key);
- ``PARAMS``: keyword arguments for ``run_*`` per size, keys ``"full"``,
  ``"quick"`` and ``"smoke"`` (the test suite's tiny size);
- ``TARGETS`` (optional): a list of :class:`Target` for coopshell;
- ``run_coopshell``, ``run_gevent``, ``run_eventlet``, ``run_asyncio``:
  each takes the parameters and returns ``{metric key: float}``. A missing
  function, or an ``ImportError`` inside one, shows as "n/a"; so does a
  metric whose value is ``None`` (that implementation lacks that variant,
  e.g. coopshell has no ares resolver). The
  ``asyncio+uvloop`` column runs ``run_asyncio`` on a uvloop loop (call
  :func:`arun` to start the coroutine), unless the module sets
  ``UVLOOP = False``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Coroutine

__all__ = ["Metric", "Target", "arun", "set_loop_factory", "percentile", "rss_bytes",
           "ctx_switches", "cpu_seconds", "child_env", "IMPLEMENTATIONS", "ROOT"]

#: The repository root (holds ``bench`` and the working tree's ``coopshell``).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Columns, in the order they run within a round.
IMPLEMENTATIONS = ("coopshell", "gevent", "eventlet", "asyncio", "asyncio+uvloop")


@dataclass(frozen=True)
class Metric:
    """One number a scenario reports. ``better`` is "lower" or "higher"."""

    key: str
    unit: str
    better: str = "lower"

    def __post_init__(self):
        if self.better not in ("lower", "higher"):
            raise ValueError(f"better must be 'lower' or 'higher', got {self.better!r}")


@dataclass(frozen=True)
class Target:
    """A goal for coopshell's median. ``max_ratio``/``min_ratio``:
    coopshell ÷ gevent at most / at least this (``min_ratio`` for
    higher-is-better metrics, e.g. throughput >= 1.1× gevent);
    ``max_value``/``min_value``: an absolute bound in the metric's unit.
    ``against`` names gevent's metric to divide by when it is not the same
    one (e.g. coopshell's dnspython resolver against gevent's default)."""

    metric: str
    max_ratio: float | None = None
    max_value: float | None = None
    min_ratio: float | None = None
    min_value: float | None = None
    against: str | None = None

    def __post_init__(self):
        given = [x for x in (self.max_ratio, self.max_value, self.min_ratio, self.min_value)
                 if x is not None]
        if len(given) != 1:
            raise ValueError(f"Target({self.metric!r}) needs exactly one of max_ratio, "
                             f"max_value, min_ratio, min_value; got {len(given)}")

    @property
    def is_ratio(self) -> bool:
        return self.max_ratio is not None or self.min_ratio is not None

    def describe(self) -> str:
        vs = f"gevent's {self.against}" if self.against else "gevent"
        if self.max_ratio is not None:
            return f"coopshell/{vs} <= {self.max_ratio:g}"
        if self.min_ratio is not None:
            return f"coopshell/{vs} >= {self.min_ratio:g}"
        if self.max_value is not None:
            return f"<= {self.max_value:g}"
        return f">= {self.min_value:g}"

    def met(self, value: float) -> bool:
        """Whether ``value`` (a ratio for ratio targets) meets the goal."""
        if self.max_ratio is not None:
            return value <= self.max_ratio
        if self.min_ratio is not None:
            return value >= self.min_ratio
        if self.max_value is not None:
            return value <= self.max_value
        return value >= self.min_value


_loop_factory: Callable[[], Any] | None = None


def set_loop_factory(factory: Callable[[], Any] | None) -> None:
    """Make :func:`arun` create its loop with ``factory`` (the worker sets
    ``uvloop.new_event_loop`` for the asyncio+uvloop column)."""
    global _loop_factory
    _loop_factory = factory


def arun(coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coro)`` on the loop kind this worker measures."""
    import asyncio
    with asyncio.Runner(loop_factory=_loop_factory) as runner:
        return runner.run(coro)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values``, nearest-rank."""
    if not values:
        raise ValueError("percentile() of an empty list")
    s = sorted(values)
    i = min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))
    return s[i]


_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm."""
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


def ctx_switches() -> int:
    """Voluntary context switches of all this process's threads so far: one
    per time a thread blocked (e.g. in epoll_wait) and was woken."""
    total = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
                        break
        except FileNotFoundError:  # the thread exited meanwhile
            pass
    return total


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a scenario's child interpreter: the worker's own,
    whose ``PYTHONPATH`` already puts the measured coopshell checkout first
    (a ``coopshell@REV`` column, :mod:`bench.baseline`), with the repository
    root added if missing so that ``bench`` imports. Start the child without
    ``cwd=`` so it inherits the worker's working directory, which is the
    first ``sys.path`` entry of a ``-c``/``-m`` child."""
    env = dict(os.environ, **extra)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if ROOT not in parts:
        parts.append(ROOT)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def cpu_seconds() -> float:
    """CPU time (user + system) of the whole process so far."""
    return time.process_time()
