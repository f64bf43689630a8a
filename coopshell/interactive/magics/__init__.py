"""The magics: ``%monkey``, ``%greenlets``, ``%where``, ``%kill``, ``%joinall``, ``%blocking``, ``%tag``, ``%help``.

One implementation for every front end: the coopshell shell runs lines that
start with ``%`` through :func:`run_magic`; the Jupyter kernel and the IPython
extension register each function as a line magic. Each function takes the
argument string and returns the text to show (or None), raising
:class:`MagicError` with a one-line message for bad arguments.

- :mod:`.registry`: the session's greenlets (``enable_tracking``);
- :mod:`.describe`: states, waits and stacks in words;
- :mod:`.commands`: the greenlet magics; :mod:`.monkey`: ``%monkey``;
  :mod:`.tag`: ``%tag``.
"""

from __future__ import annotations

from typing import Any, Callable

from .args import MagicError, in_main_greenlet
from .commands import blocking, greenlets, joinall, kill, where
from .describe import describe_state
from .monkey import monkey, set_front_end_modules
from .tag import tag
from .registry import (KEEP_FINISHED, disable_tracking, enable_tracking, live_greenlets, tracked,
                       tracking_enabled)

__all__ = ["MagicError", "run_magic", "MAGICS", "monkey", "greenlets", "where", "kill", "joinall",
           "blocking", "tag", "help", "enable_tracking", "disable_tracking", "tracking_enabled", "tracked",
           "live_greenlets", "describe_state", "KEEP_FINISHED", "set_front_end_modules",
           "in_main_greenlet", "HELP_EXTRA"]

_HELP = """\
coopshell magics:
  %monkey [all|socket|dns|ssl|select|time|subprocess|os|…] [--fix]
                        patch the stdlib to cooperate (threading stays unpatched in a
                        session); reports stale references (--fix rebinds them)
  %monkey off|status    undo the patching / show what is patched
  %greenlets [-a] [-n ROWS]
                        table of live greenlets (-a: finished ones too; at most ROWS rows)
  %where ID|NAME…       the full stack of a greenlet
  %kill ID|NAME…|all    kill greenlets by ID or name (from %greenlets)
  %joinall [TIMEOUT]    wait for all live greenlets, with a live progress bar
  %blocking [SECONDS|on|off]
                        warn when something blocks the hub longer than SECONDS
  %tag [on|off]         prefix background greenlets' output lines with [name] or [#ID]
                        (the foreground's lines stay bare)
  %help                 this text
progress bars:          from coopshell.progress import progress
                        for g in progress(jobs, desc="scan"): ...  a live bar (done/total,
                        rate, ETA, failures) over greenlets, iwait(...), Pool.imap_unordered(...)"""

#: Lines a front end adds to ``%help`` (the shell lists its IPython habits there).
HELP_EXTRA: list[str] = []


def help(arg: str = "") -> str:
    """``%help``: the list of magics."""
    return "\n".join([_HELP] + HELP_EXTRA)


#: name -> function, for front ends registering line magics.
MAGICS: dict[str, Callable[..., Any]] = {
    "monkey": monkey, "greenlets": greenlets, "where": where, "kill": kill, "joinall": joinall,
    "blocking": blocking, "tag": tag, "help": help,
}


def run_magic(line: str, progress: Callable[[str], Any] | None = None) -> str | None:
    """Run ``%name args`` (the ``%`` is optional). Raises :class:`MagicError`
    for an unknown magic or bad arguments."""
    if not isinstance(line, str):
        raise TypeError(f"run_magic() expected a str, got {line!r}")
    text = line.strip()
    if text.startswith("%"):
        text = text[1:]
    name, _, arg = text.partition(" ")
    name = name.strip()
    if not name:
        raise MagicError("empty magic; %help lists them")
    func = MAGICS.get(name)
    if func is None:
        raise MagicError(f"unknown magic %{name}; %help lists them")
    if func is joinall:
        return joinall(arg, progress=progress)
    return func(arg)
