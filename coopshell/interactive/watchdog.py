"""The blocked-hub detector: warn when something keeps the loop busy too long.

A greenlet that calls a blocking function (``time.sleep``, an unpatched
socket) or computes for seconds stops every other greenlet, and the prompt
with them. This detector prints one line naming the culprit and where it is.

How it knows, at no cost while idle: the main thread is "idle" while it sits
in a blocking poll, either the hub's epoll (the loop's ``set_poll_hooks``
door, set while the detector runs) or asyncio's selector (the bridge's
``idle_hooks``). Every return from a poll bumps a heartbeat counter (the
non-blocking polls between callbacks too, so a greenlet that yields often is
not "blocked"). One daemon thread, made with the original ``threading``
primitives captured at import, parks on a condition while the main thread is
idle, and is notified only when the main thread leaves idle while it is
parked. While the main thread is busy, the thread checks every ``threshold``
seconds whether the heartbeat moved; if not, it reports once per blockage.

A C call that holds the GIL (``sum(range(10**8))``) keeps this thread from
running at all. It is caught after the fact, from the clock: the main thread
stamps the time it leaves idle, and a watcher that wakes (for the
notification, or for its timeout) much later than it should have knows the
GIL was held meanwhile; it reports the stall's length and the greenlet the
main thread is in right then, which is still the one that made the call
(the GIL is handed over at the first bytecode after the call returns).
"""

from __future__ import annotations

import os
import sys
import threading as _threading
from time import monotonic as _monotonic
from typing import Callable, TextIO

from ..greenlet import is_task_entry_frame
from .._core.hub import Hub, get_hub

__all__ = ["BlockingDetector", "get_detector", "DEFAULT_THRESHOLD"]

DEFAULT_THRESHOLD = 0.5

# Originals, so monkey patching threading later cannot turn the detector green.
_Thread = _threading.Thread
_Condition = _threading.Condition
_current_frames = sys._current_frames


class BlockingDetector:
    """Warns when the hub's thread stays busy (not polling) for ``threshold`` s."""

    def __init__(self, hub: Hub | None = None, threshold: float = DEFAULT_THRESHOLD,
                 stream: TextIO | Callable[[], TextIO] | None = None):
        self.hub = hub if hub is not None else get_hub()
        self._threshold = _check_threshold(threshold)
        #: Where warnings go: a stream, a callable returning one, or None for sys.stderr.
        self.stream = stream
        self._cond = _Condition()
        self._idle = False
        self._parked = False
        self._beat = 0
        self._reported = -1
        self._busy_since = _monotonic()
        self._thread = None
        self._running = False
        self._bridge = None
        self._previous_hooks = None
        #: Warnings printed so far (for tests and %blocking).
        self.warnings = 0

    # -- configuration ------------------------------------------------------------

    @property
    def threshold(self) -> float:
        return self._threshold

    @threshold.setter
    def threshold(self, seconds: float) -> None:
        self._threshold = _check_threshold(seconds)
        with self._cond:
            self._cond.notify()

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Hook the hub loop (and the bridge, if attached) and start the thread."""
        if self._running:
            return
        self._running = True
        self._previous_hooks = self.hub.loop.set_poll_hooks(self._enter_idle, self._leave_idle)
        self.hook_bridge()
        self._thread = _Thread(target=self._watch, name="coopshell-blocking-detector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Unhook and end the thread."""
        if not self._running:
            return
        self._running = False
        loop = self.hub.loop
        if loop.poll_hooks == (self._enter_idle, self._leave_idle):
            previous = self._previous_hooks or (None, None)
            loop.set_poll_hooks(*previous)
        self._previous_hooks = None
        b = self._bridge
        if b is not None and b.idle_hooks == (self._enter_idle, self._leave_idle):
            b.idle_hooks = None
        self._bridge = None
        with self._cond:
            self._cond.notify()
        t = self._thread
        if t is not None and t is not _threading.current_thread():
            t.join(2)
        self._thread = None

    def hook_bridge(self) -> None:
        """Watch asyncio's blocking select too (the bridge calls this on attach)."""
        b = getattr(self.hub, "bridge", None)
        if b is not None:
            b.idle_hooks = (self._enter_idle, self._leave_idle)
            self._bridge = b

    # -- main-thread side (cheap) ---------------------------------------------------

    def _enter_idle(self):
        self._idle = True

    def _leave_idle(self):
        self._idle = False
        self._beat += 1
        self._busy_since = _monotonic()
        if self._parked:
            with self._cond:
                self._cond.notify()

    # -- the watching thread ----------------------------------------------------------

    def _watch(self):
        cond = self._cond
        with cond:
            while self._running:
                self._parked = True
                if self._idle:
                    cond.wait()          # until the main thread leaves idle
                    self._parked = False
                    # Woken by _leave_idle; if that was long ago, a call holding
                    # the GIL kept this thread from running ever since.
                    lag = _monotonic() - self._busy_since
                    if self._running and not self._idle and lag > self._threshold:
                        self._reported = self._beat
                        self._safe_report(lag)
                    continue
                self._parked = False
                beat = self._beat
                t0 = _monotonic()
                cond.wait(self._threshold)
                if not self._running:
                    break
                if (not self._idle and self._beat == beat and beat != self._reported):
                    self._reported = beat
                    waited = _monotonic() - t0
                    # Woken much later than asked: the GIL was held (one C call) meanwhile.
                    self._safe_report(waited if waited > 2 * self._threshold else None)

    def _safe_report(self, after: float | None = None) -> None:
        try:
            self._report(after)
        except Exception:
            pass

    def _report(self, after: float | None = None):
        """Print the warning; ``after``: seconds a GIL-holding call stalled
        everything, reported once it returned (the clock, not the heartbeat, saw it)."""
        frame = _current_frames().get(self.hub.thread_ident)
        who, where = describe_running(frame)
        self.warnings += 1
        if after is not None:
            msg = (f"coopshell: the hub was blocked {after:.1f} s by {who}{where} (in one call; "
                   f"reported after it returned; %blocking off to silence)\n")
        else:
            msg = (f"coopshell: the hub has been blocked for over {self._threshold:g}s by {who}{where} "
                   f"(greenlets and the prompt are stalled; %blocking off to silence)\n")
        stream = self.stream
        if callable(stream) and not hasattr(stream, "write"):
            stream = stream()
        if stream is None:
            stream = sys.stderr
        stream.write(msg)
        flush = getattr(stream, "flush", None)
        if flush is not None:
            flush()


def describe_running(frame) -> tuple[str, str]:
    """``(who, " at file:line in func")`` for the code running in ``frame``'s stack."""
    if frame is None:
        return "unknown code", ""
    where = ""
    f = frame
    who = "code in the main greenlet"
    while f is not None:
        if not where and not _internal(f):
            where = f" at {_short_path(f.f_code.co_filename)}:{f.f_lineno} in {f.f_code.co_name}"
        if is_task_entry_frame(f):
            task = f.f_locals.get("task")
            who = repr(task) if task is not None else "a greenlet"
            break
        if f.f_code.co_name == "run" and isinstance(f.f_locals.get("self"), Hub):
            who = "a hub callback"
            break
        f = f.f_back
    return who, where


def _internal(frame) -> bool:
    name = frame.f_globals.get("__name__", "")
    return name == "coopshell" or name.startswith("coopshell.")


def get_detector(hub: Hub | None = None, create: bool = True) -> BlockingDetector | None:
    """The detector of ``hub`` (default: this thread's), made (not started) on first use."""
    hub = hub if hub is not None else get_hub()
    det = getattr(hub, "blocking_detector", None)
    if det is None and create:
        det = hub.blocking_detector = BlockingDetector(hub)
    return det


def _check_threshold(seconds):
    try:
        ok = seconds > 0 and seconds == seconds and seconds != float("inf")
    except TypeError:
        raise TypeError(f"threshold must be a number of seconds, got {seconds!r}") from None
    if not ok:
        raise ValueError(f"threshold must be a finite number of seconds > 0, got {seconds!r}")
    return float(seconds)


def _short_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path
