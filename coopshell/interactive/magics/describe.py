"""Describing greenlets in words: state, where a wait is, a stack, an age, a table.

Reads only public names: ``Greenlet.state``, ``Greenlet.gr_frame`` and
``is_task_entry_frame``; stacks are ``coopshell.util``'s. A method is named ``Type.method`` from the frame's
``self`` (so it reads the same on Python 3.10, which has no ``co_qualname``).
"""

from __future__ import annotations

import re
from typing import Any

from ...greenlet import Greenlet, is_task_entry_frame
from ...util import format_greenlet_stack

__all__ = ["describe_state", "describe_wait", "function_text", "stack_text", "age", "table",
           "short_repr"]

_LOCALS = re.compile(r"^[\w.]*<locals>\.")


def describe_state(g: Greenlet) -> str:
    """'running', 'ready', 'waiting in <what> at <where>', 'done', 'failed: Exc', 'killed'…"""
    state = g.state
    if state in ("dead", "failed"):
        exc = g.exception
        if exc is not None:
            return f"failed: {type(exc).__name__}"
        if isinstance(g.value, BaseException):
            return "killed"
        return "done"
    if state == "new":
        return "new (not started)"
    if state == "scheduled":
        return "ready (not started)"
    if state == "delayed":
        return "scheduled (spawn_later)"
    frame = g.gr_frame
    if frame is None:
        return "running"
    return "waiting in " + describe_wait(frame)


def _code_name(frame: Any) -> str:
    name = frame.f_code.co_name
    obj = frame.f_locals.get("self")
    if obj is not None and not isinstance(obj, type):
        return f"{type(obj).__name__}.{name}"
    cls = frame.f_locals.get("cls")
    if isinstance(cls, type):
        return f"{cls.__name__}.{name}"
    return name


def _internal(frame: Any) -> bool:
    mod = frame.f_globals.get("__name__", "") or ""
    return mod.partition(".")[0] == "coopshell"


def describe_wait(frame: Any) -> str:
    """The outermost coopshell call the suspended stack is in, and the user's line."""
    api = user = None
    f = frame
    while f is not None:
        if is_task_entry_frame(f):
            break
        if _internal(f):
            api = f
            user = None
        elif user is None:
            user = f
        f = f.f_back
    if api is None:
        if frame is None:
            return "the hub"
        return f"{_code_name(frame)}() at {_where(frame)}"
    what = _code_name(api) + "()"
    obj = api.f_locals.get("self")
    if obj is not None:
        what += f" on {short_repr(obj)}"
    elif api.f_code.co_name == "sleep":
        secs = api.f_locals.get("seconds")
        if isinstance(secs, (int, float)):
            what = f"sleep({secs:g})"
    return what + (f" at {_where(user)}" if user is not None else "")


def stack_text(g: Greenlet) -> str:
    """The full stack of a suspended greenlet, innermost last (for ``%where``):
    ``coopshell.util.format_greenlet_stack`` under a line naming it."""
    if g.gr_frame is None:
        return f"{g.name} is {describe_state(g)}: no stack to show"
    return (f"{g.minimal_ident} {g.name}: {describe_state(g)}\n"
            + format_greenlet_stack(g).rstrip("\n"))


def function_text(g: Greenlet) -> str:
    """What the greenlet runs, as ``func(args)`` without ``<locals>`` noise."""
    return _LOCALS.sub("", g._formatinfo())


def _where(frame: Any) -> str:
    name = frame.f_code.co_filename
    short = name.rsplit("/", 1)[-1]
    return f"{short}:{frame.f_lineno}"


def short_repr(obj: Any, limit: int = 60) -> str:
    """``repr(obj)`` cut to ``limit`` characters (never raising)."""
    try:
        r = repr(obj)
    except Exception:
        r = f"<{type(obj).__name__}>"
    return r if len(r) <= limit else r[:limit - 4] + "...>"


def age(seconds: float) -> str:
    """``12.3s``, ``4m05s``, ``2h07m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain-text table, columns padded, the last one not."""
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    widths[-1] = 0
    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([fmt(header)] + [fmt(r) for r in rows])
