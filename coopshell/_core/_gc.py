"""Full garbage collections while a loop runs: deferred to the loop's idle moments.

Why: CPython's full (generation-2) collection walks every live container
object. With 100k greenlets alive it stops the thread for 100-250 ms, and
every timer due meanwhile is late by that much (issue 15 measured 118-139 ms
of p99 timer lateness, all of it gc). A loop knows when a pause is harmless:
when it is about to block with no timer due soon.

How, while at least one ``Loop.run`` is running in the process (the
thresholds are process-wide, so the first runner raises them and the last
one restores them):

- generation 2's threshold is raised ``BUSY_FACTOR`` times, so CPython still
  does a full collection by itself when a loop is never idle, only 100 times
  less often: uncollected cyclic garbage stays bounded;
- the loop calls ``collect_if_idle(gap)`` just before it blocks, ``gap`` being
  the seconds until its next timer (None: no timer). It collects fully when
  CPython would have by now (the count of generation-1 collections reached the
  saved threshold), gc is enabled, the gap is long enough (``IDLE_GAP`` until
  one idle collection was timed, then twice its duration, at least
  ``MIN_GAP``), and no more than ``MAX_DUTY`` of the time since the last one
  would go to collecting.

Generations 0 and 1 are untouched: they are short pauses. Thresholds someone
changes while a loop runs are left as they set them. Python 3.14's
incremental collector has no long pauses to defer, so there this does
nothing (``ENABLED`` is false).
"""

from __future__ import annotations

import _thread
import gc
import sys
from time import monotonic

__all__ = ["ENABLED", "BUSY_FACTOR", "IDLE_GAP", "MAX_DUTY", "MIN_GAP", "enter", "leave", "collect_if_idle",
           "full_due", "running"]

#: False where this policy does nothing (CPython 3.14's incremental collector).
ENABLED = sys.version_info < (3, 14) and sys.implementation.name == "cpython"
#: While a loop runs, generation 2's threshold is this many times the saved one.
BUSY_FACTOR = 100
#: The gap before the next timer an idle collection needs while its cost is unknown.
IDLE_GAP = 0.05
#: The smallest gap once it is known (then twice the last one's duration).
MIN_GAP = 0.005
#: Idle collections take at most this fraction of the time between them.
MAX_DUTY = 0.05

_lock = _thread.allocate_lock()   # the real one, taken at import (before any patching)
_runners = 0                      # Loop.run calls in progress, in any thread
_saved: tuple[int, int, int] | None = None   # the thresholds before the first runner
_ours: tuple[int, int, int] | None = None    # the thresholds set while loops run
#: Collections of generation 1 since the last full one after which a full one is due
#: (the saved generation-2 threshold, read once per run by the loop).
full_due = 10
_last_pause = 0.0                 # seconds the last idle collection took
_last_end = -1e9                  # monotonic() when it ended
_get_count = gc.get_count


def running() -> int:
    """How many ``Loop.run`` calls are deferring full collections now."""
    return _runners


def enter() -> None:
    """A loop starts running: the first one raises generation 2's threshold."""
    global _runners, _saved, _ours, full_due
    if not ENABLED:
        return
    with _lock:
        _runners += 1
        if _runners > 1:
            return
        t0, t1, t2 = _saved = gc.get_threshold()
        full_due = max(t2, 1)
        _ours = (t0, t1, full_due * BUSY_FACTOR)
        gc.set_threshold(*_ours)


def leave() -> None:
    """A loop stops: the last one restores the thresholds (unless changed since)."""
    global _runners, _saved, _ours
    if not ENABLED:
        return
    with _lock:
        if _runners <= 0:  # pragma: no cover - unbalanced leave: nothing to restore
            return
        _runners -= 1
        if _runners:
            return
        if _saved is not None and gc.get_threshold() == _ours:
            gc.set_threshold(*_saved)
        _saved = _ours = None


def collect_if_idle(gap: float | None) -> bool:
    """Collect fully now if one is due and the loop is idle for ``gap`` seconds
    (None: no timer at all). True if it collected: finalizers may have
    scheduled callbacks, so the loop looks again before it blocks."""
    global _last_pause, _last_end
    if _get_count()[2] < full_due or not _runners or not gc.isenabled():
        return False
    pause = _last_pause
    # Until one idle collection has been timed, only a long gap will do;
    # then twice its duration (a heap grows slowly), but never under MIN_GAP.
    if gap is not None and gap < (max(2 * pause, MIN_GAP) if pause else IDLE_GAP):
        return False
    start = monotonic()
    if pause and start - _last_end < pause / MAX_DUTY:
        return False
    gc.collect()
    _last_end = monotonic()
    _last_pause = _last_end - start
    return True
