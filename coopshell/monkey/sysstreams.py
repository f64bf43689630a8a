"""``patch_sys``: ``sys.stdin``/``stdout``/``stderr`` as cooperative file objects.

Opt-in, as in gevent (``patch_all(sys=True)`` or ``patch_sys()``): each
stream becomes a :class:`StdStream`, a ``FileObjectThread`` over the
original stream, so a greenlet blocked reading ``sys.stdin`` (or writing to
a full pipe) lets the others run while a pool thread does the call.

Where waiting is impossible the call goes straight to the original stream:
in the hub itself (it prints tracebacks to ``sys.stderr``), in real OS
threads other than the patching one, and in the pool's own workers. At
interpreter exit the originals are put back first (after a flush), so the
interpreter's last flush of ``sys.stdout`` never needs the thread pool.
"""

from __future__ import annotations

import atexit
import functools
import sys
from typing import Any, Callable

from greenlet import getcurrent

from .. import fileobject
from .._core.hub import get_hub, get_hub_if_exists
from . import state
from .report import PatchReport

__all__ = ["StdStream", "patch_sys_streams", "NAMES"]

#: the streams patch_sys can replace
NAMES = ("stdin", "stdout", "stderr")


class StdStream(fileobject.FileObjectThread):
    """One of ``sys.std*``: blocking calls run in the hub's thread pool when
    the caller is a greenlet that can wait, else directly."""

    def __init__(self, stream: Any) -> None:
        mode = getattr(stream, "mode", None)
        if not isinstance(mode, str):
            mode = "r" if stream is sys.__stdin__ else "w"
        super().__init__(stream, mode.replace("b", "") or "r", closefd=False)
        self._hub = get_hub()
        self.original = stream

    def _can_wait(self) -> bool:
        hub = get_hub_if_exists()
        return hub is self._hub and getcurrent() is not hub

    def _in_thread(self, name: str) -> Callable[..., Any]:
        pooled = super()._in_thread(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._can_wait():
                return pooled(*args, **kwargs)
            return getattr(self._live(), name)(*args, **kwargs)
        return functools.update_wrapper(call, pooled)

    def __repr__(self) -> str:
        return f"<cooperative sys stream over {self.original!r}>"


_exit_hook_registered = False


def patch_sys_streams(report: PatchReport, stdin: bool, stdout: bool, stderr: bool) -> None:
    """Replace the wanted streams (not None, not already cooperative)."""
    global _exit_hook_registered
    wanted = {"stdin": stdin, "stdout": stdout, "stderr": stderr}
    for name in NAMES:
        if not wanted[name]:
            continue
        current = getattr(sys, name)
        if current is None:
            report.skipped[f"sys.{name}"] = f"sys.{name} is None (no such stream here)"
            continue
        if isinstance(current, StdStream):
            continue
        if state.set_item(sys, name, StdStream(current)):
            report.patched.setdefault("sys", []).append(name)
    if report.patched.get("sys") and not _exit_hook_registered:
        atexit.register(_restore_at_exit)
        _exit_hook_registered = True


def _restore_at_exit() -> None:
    """Flush the cooperative streams and put the originals back."""
    mod_saved = state.saved.get("sys", {})
    for name in NAMES:
        current = getattr(sys, name, None)
        if isinstance(current, StdStream) and name in mod_saved:
            original = mod_saved.pop(name)
            try:
                if name != "stdin" and not current.closed:
                    current.original.flush()
            finally:
                setattr(sys, name, original)
    if not mod_saved:
        state.saved.pop("sys", None)
