"""Ctrl-C in plain scripts: never tear the runtime's bookkeeping.

Python raises ``KeyboardInterrupt`` between any two bytecodes. Raised inside
the runtime (between a timer's ``heappush`` and its reference count, between
registering a wakeup and switching to the hub), it leaves the loop torn: every
later wait gets ``LoopExit`` while live timers remain, or a greenlet is never
woken. So, as trio does (``_ki.py``), while a hub runs in the main thread under
Python's default handler, ``install`` puts in a handler that:

- raises ``KeyboardInterrupt`` at once when the interrupted frame is user code
  (a greenlet spinning in pure Python is interrupted where it spins);
- defers when the frame is runtime code (any ``coopshell`` module outside the
  interactive front ends): it sets a flag and wakes the loop through the
  thread-safe wakeup, and the hub then raises ``KeyboardInterrupt`` in the main
  greenlet, at its wait, a safe point.

A third Ctrl-C while one is still deferred raises at once wherever it lands:
an escape hatch should runtime code ever block the main thread for real.
A handler someone else installed (the shell's, the kernel's, the user's) is
left alone: this acts only when the installed handler is Python's default.
"""

from __future__ import annotations

from types import FrameType

TYPE_CHECKING = False
if TYPE_CHECKING:   # the stdlib has no stub for _signal; signal has its API
    from typing import Any
    import signal as _signal
else:               # _signal: no enum import at startup
    import _signal

__all__ = ["install", "uninstall", "handler", "pending", "is_runtime_frame", "ESCALATE_AFTER"]

#: SIGINTs (counting the deferred one) after which the next one raises at once.
ESCALATE_AFTER = 3

_SIGINT = _signal.SIGINT
_default = _signal.default_int_handler

_hub: Any = None      # the main thread's hub while our handler is installed
_deferred = 0         # SIGINTs received since the last delivery


def is_runtime_frame(frame: FrameType | None) -> bool:
    """True if ``frame`` runs coopshell's own code (not the interactive front ends)."""
    if frame is None:
        return True
    name = frame.f_globals.get("__name__", "")
    return name.startswith("coopshell") and not name.startswith("coopshell.interactive")


def handler(signum: int, frame: FrameType | None) -> None:
    """The SIGINT handler: raise now in user code, defer in runtime code."""
    global _deferred
    hub = _hub
    if hub is None or hub.loop.closed or not is_runtime_frame(frame):
        _deferred = 0
        raise KeyboardInterrupt
    _deferred += 1
    if _deferred >= ESCALATE_AFTER:
        _deferred = 0
        raise KeyboardInterrupt
    if _deferred == 1:
        hub.loop.run_callback_threadsafe(_deliver, hub)


def pending() -> bool:
    """True while a deferred Ctrl-C waits to be raised in the main greenlet."""
    return _deferred > 0


def _deliver(hub: Any) -> None:
    # Runs in the hub: the main greenlet is parked in a wait (it switched here).
    global _deferred
    if _deferred:
        _deferred = 0
        hub._deliver_interrupt()


def install(hub: Any) -> None:
    """Take over SIGINT for ``hub`` (the main thread's) if Python's default
    handler is installed."""
    global _hub, _deferred
    try:
        current = _signal.getsignal(_SIGINT)
    except (ValueError, OSError):  # pragma: no cover - no signals here
        return
    if current is handler:
        _hub = hub
        return
    if current is not _default:
        return
    try:
        _signal.signal(_SIGINT, handler)
    except (ValueError, OSError):  # pragma: no cover - e.g. a sub-interpreter
        return
    _hub = hub
    _deferred = 0


def uninstall(hub: Any) -> None:
    """Give SIGINT back to Python's default handler when ``hub`` goes away."""
    global _hub, _deferred
    if _hub is not hub:
        return
    _hub = None
    _deferred = 0
    try:
        if _signal.getsignal(_SIGINT) is handler:
            _signal.signal(_SIGINT, _default)
    except (ValueError, OSError):  # pragma: no cover
        pass
