"""Who is still running inside a module about to be patched.

A thread or a suspended greenlet whose stack is inside ``socket.py`` (say)
keeps the original, blocking code until it returns: patching warns about
it. One gc scan for suspended greenlets serves a whole ``patch_all``.
"""

from __future__ import annotations

import gc
import sys
import threading as _threading
from contextlib import contextmanager
from types import FrameType
from typing import Any, Iterator

from .report import PatchReport

__all__ = ["check_busy", "one_scan", "real_threads"]

# Captured at import: patching threading must not change what these see.
_get_ident = _threading.get_ident
_enumerate = _threading.enumerate

_cache: list[Any] | None = None
_caching = False


@contextmanager
def one_scan() -> Iterator[None]:
    """Within this block, the suspended greenlets are looked up once."""
    global _cache, _caching
    _caching, _cache = True, None
    try:
        yield
    finally:
        _caching, _cache = False, None


def real_threads() -> list[str]:
    """Names of the other live OS threads."""
    me = _get_ident()
    return [t.name for t in _enumerate() if t.ident != me and t.is_alive()]


def check_busy(report: PatchReport, mod_names: tuple[str, ...] | list[str]) -> None:
    """Warn about threads and suspended greenlets that are running inside
    the Python code of a module about to be patched."""
    files = {}
    for mod_name in mod_names:
        path = getattr(sys.modules.get(mod_name), "__file__", None)
        if path:
            files[path] = mod_name
    if not files:
        return
    me = _get_ident()
    names = {t.ident: t.name for t in _enumerate()}
    for ident, frame in sys._current_frames().items():
        where = _frame_in(frame, files) if ident != me else None
        if where:
            report.warnings.append(f"thread {names.get(ident, ident)!r} is running in {where}: "
                                   f"it keeps the original, blocking code until it returns")
    for obj in _suspended_greenlets():
        where = _frame_in(obj.gr_frame, files)
        if where:
            report.warnings.append(f"a suspended greenlet {obj!r} is inside {where}: it keeps "
                                   f"the original, blocking code until it returns")


def _suspended_greenlets() -> list[Any]:
    global _cache
    if _cache is not None:
        return _cache
    from greenlet import greenlet as raw
    found = [o for o in gc.get_objects() if isinstance(o, raw) and o.gr_frame is not None]
    if _caching:
        _cache = found
    return found


def _frame_in(frame: FrameType | None, files: dict[str, str]) -> str | None:
    while frame is not None:
        mod_name = files.get(frame.f_code.co_filename)
        if mod_name is not None:
            return f"{mod_name}.{frame.f_code.co_name} (line {frame.f_lineno})"
        frame = frame.f_back
    return None
