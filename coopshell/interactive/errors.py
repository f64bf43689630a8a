"""Error reporting in the front ends: failure storms, trimmed tracebacks, one report per error.

- :class:`ErrorReporter` replaces ``hub.print_exception`` in every front end:
  it prints the first few failures of a burst in full and then one summary
  line per exception type (``… and 9995 more greenlets failed with
  ZeroDivisionError``). A failure the foreground is awaiting
  (``await spawn(f)``) is not printed: it is raised there, and reported once.
- :func:`trim_traceback` cuts a traceback to the user's frames: the front
  end's frames before the user's code and coopshell's (and asyncio's) frames
  after it (``joinall`` → ``wait`` → ``_iwait`` → ``hub.switch()``).
- :func:`install_ipython` does both in IPython (the kernel and terminal
  IPython), through IPython's public ``set_custom_exc``, and prints the
  interrupt policy's "still running" hint after a ``KeyboardInterrupt``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections import Counter
from time import monotonic as _monotonic
from typing import Any, Callable

from ..greenlet import Greenlet

__all__ = ["ErrorReporter", "trim_traceback", "is_internal_frame", "awaits_greenlet",
           "install_ipython", "uninstall_ipython", "exit_status"]

_ASYNCIO_DIR = os.path.dirname(asyncio.__file__)


class ErrorReporter:
    """Replaces ``hub.print_exception``: prints the first ``burst`` failures
    of a storm in full, then counts the rest per exception type and prints
    one summary line each after ``delay`` seconds.

    ``foreground``: a callable returning the awaited foreground (a task or
    coroutine) or None; a greenlet it awaits is not reported here.
    """

    def __init__(self, hub: Any, loop: asyncio.AbstractEventLoop | None = None, burst: int = 5,
                 window: float = 1.0, delay: float = 0.5,
                 foreground: Callable[[], Any] | None = None):
        self.hub = hub
        self.loop = loop
        self.burst = burst
        self.window = window
        self.delay = delay
        self.foreground = foreground
        self._window_start = 0.0
        self._count = 0
        self._suppressed: Counter[str] = Counter()
        self._flush_handle: Any = None

    @property
    def pending(self) -> bool:
        """True while suppressed failures wait for their summary line."""
        return bool(self._suppressed)

    def __call__(self, context: Any, type: type, value: BaseException, tb: Any) -> None:
        if isinstance(context, Greenlet) and self.foreground is not None:
            try:
                fg = self.foreground()
            except Exception:
                fg = None
            if fg is not None and awaits_greenlet(fg, context):
                return       # raised into the awaiting foreground, which reports it
        now = _monotonic()
        if not self._suppressed and now - self._window_start > self.window:
            self._window_start = now
            self._count = 0
        if self._count < self.burst:
            self._count += 1
            try:
                ctx = repr(context)
            except Exception as exc:
                ctx = f"<{type(context).__name__} (repr failed: {exc!r})>"
            text = "".join(traceback.format_exception(type, value, trim_traceback(tb)))
            self._write(f"{text}{ctx} failed with {type.__name__}\n")
            return
        self._suppressed[type.__name__] += 1
        if self._flush_handle is None:
            loop = self.loop
            if loop is not None and not loop.is_closed():
                self._flush_handle = loop.call_later(self.delay, self.flush)
            else:
                # ref=False: a pending summary must not keep the hub's run() alive.
                self._flush_handle = self.hub.loop.add_timer(self.delay, self.flush, ref=False)

    def flush(self) -> None:
        """Print the summary of suppressed failures now."""
        handle, self._flush_handle = self._flush_handle, None
        if handle is not None:
            handle.cancel()
        counts, self._suppressed = self._suppressed, Counter()
        self._window_start = _monotonic()
        self._count = 0
        lines = [f"… and {n} more greenlet{'s' if n != 1 else ''} failed with {name}\n"
                 for name, n in counts.items()]
        if lines:
            self._write("".join(lines))

    def _write(self, text: str) -> None:
        stream = self.hub.exception_stream
        try:
            stream.write(text)
            stream.flush()
        except Exception:
            sys.__stderr__.write(text)


def awaits_greenlet(foreground: Any, g: Greenlet) -> bool:
    """True if ``foreground`` (a task, coroutine or generator) is awaiting ``g`` right now.

    Follows the public ``cr_await`` / ``gi_yieldfrom`` chain down to
    ``Greenlet.__await__``'s generator, whose ``self`` is the greenlet.
    """
    obj = foreground
    if isinstance(obj, asyncio.Task):
        obj = obj.get_coro()
    for _ in range(100):
        if obj is None:
            return False
        frame = getattr(obj, "gi_frame", None) or getattr(obj, "cr_frame", None)
        if frame is not None and frame.f_locals.get("self") is g and frame.f_code.co_name == "__await__":
            return True
        obj = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
    return False


def is_internal_frame(frame: Any, prefixes: tuple[str, ...] = ()) -> bool:
    """True for coopshell's own frames (and those of modules named in ``prefixes``)."""
    name = frame.f_globals.get("__name__", "") or ""
    if name == "coopshell" or name.startswith("coopshell."):
        return True
    return bool(prefixes) and name.startswith(prefixes)


def trim_traceback(tb: Any, user_prefix: str | None = None, prefixes: tuple[str, ...] = ()) -> Any:
    """Cut ``tb`` to the user's frames.

    Leading frames: everything before the first frame whose file name starts
    with ``user_prefix`` (the front end's input files), or, without one,
    leading coopshell frames. Trailing frames: coopshell's and asyncio's
    (where a wait or an await ended). Coopshell frames between two user
    frames go too (``joinall(..., raise_error=True)`` re-raising a
    greenlet's error: the cell's line, then the greenlet's). Returns the new
    head (the kept entries are relinked), or None for an empty traceback.
    """
    entries = []
    t = tb
    while t is not None:
        entries.append(t)
        t = t.tb_next
    if not entries:
        return None
    start = None
    if user_prefix is not None:
        for i, e in enumerate(entries):
            if e.tb_frame.f_code.co_filename.startswith(user_prefix):
                start = i
                break
    if start is None:
        start = 0
        while start < len(entries) - 1 and is_internal_frame(entries[start].tb_frame, prefixes):
            start += 1
    entries = entries[start:]
    while len(entries) > 1 and (is_internal_frame(entries[-1].tb_frame, prefixes)
                                or entries[-1].tb_frame.f_code.co_filename.startswith(_ASYNCIO_DIR)):
        entries.pop()
    if len(entries) > 2:
        inner = [e for e in entries[1:-1] if not is_internal_frame(e.tb_frame, prefixes)]
        entries = [entries[0]] + inner + [entries[-1]]
        for a, b in zip(entries, entries[1:]):
            a.tb_next = b
    entries[-1].tb_next = None
    return entries[0]


def exit_status(exc: SystemExit) -> int:
    """The process status for ``SystemExit`` (printing a non-int code, as Python does)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


# -- IPython ----------------------------------------------------------------------------------

def _ipython_handler(shell: Any, etype: type, value: BaseException, tb: Any,
                     tb_offset: int | None = None) -> Any:
    trimmed = _trim_ipython(tb)
    shell.showtraceback((etype, value, trimmed), tb_offset=tb_offset)
    if isinstance(value, KeyboardInterrupt):
        from .interrupt import get_policy

        hint = get_policy().still_running_message()
        if hint:
            print(hint, file=sys.stderr)
    return None


def _trim_ipython(tb: Any) -> Any:
    # IPython's own frame comes first (tb_offset skips it); keep it, trim the tail.
    if tb is None:
        return None
    head = tb
    rest = trim_traceback(tb.tb_next)
    if rest is None:
        return head
    if is_internal_frame(rest.tb_frame) and rest.tb_next is None:
        head.tb_next = None            # only coopshell frames followed
    else:
        head.tb_next = rest
    return head


def install_ipython(ip: Any) -> tuple[Any, Any] | None:
    """Trim tracebacks and add the interrupt hint in IPython ``ip``; returns what
    to restore (None if the user had their own custom exception handler)."""
    if getattr(ip, "custom_exceptions", ()):
        return None
    old = (ip.custom_exceptions, ip.CustomTB)
    # BaseException: Timeout and GreenletExit are not Exceptions (IPython handles SystemExit first).
    ip.set_custom_exc((BaseException,), _ipython_handler)
    return old


def uninstall_ipython(ip: Any, saved: tuple[Any, Any] | None) -> None:
    """Undo :func:`install_ipython`."""
    if saved is None:
        return
    ip.custom_exceptions, ip.CustomTB = saved
