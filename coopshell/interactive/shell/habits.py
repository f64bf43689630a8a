"""IPython habits in the coopshell shell: ``obj?``, ``obj??``, ``!cmd``, ``x = !cmd``, ``%time``, ``%timeit``.

A subset implemented here rather than running input through IPython's
``InteractiveShell``: that would cost its start-up (about a second) and bring
its own Ctrl-C and output handling, which the shell's bridge, output above the
prompt and interrupt policy replace. Shell commands run through
``coopshell.subprocess``, so greenlets keep running while they do.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
import timeit
from typing import Any

__all__ = ["parse", "help_text", "run_system", "capture_system", "time_statement",
           "timeit_statement", "HELP_LINES", "SHELL_MAGICS"]

#: What ``%help`` lists for these habits.
HELP_LINES = [
    "shell habits (as in IPython):",
    "  obj? / obj??          signature and docs / source of obj",
    "  !cmd                  run a shell command (greenlets keep running)",
    "  x = !cmd              capture its output lines in x",
    "  %time STATEMENT       run once, print CPU and wall time",
    "  %timeit STATEMENT     time a statement over many loops",
    "  Tab                   complete names, attributes and %magic names",
]
#: The magics the shell implements itself (they need its namespace).
SHELL_MAGICS = ("time", "timeit")

_CAPTURE = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*!(.*)$", re.S)
_QUERY = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(\?\??)\s*$")


def parse(source: str) -> tuple[str, Any] | None:
    """``(kind, payload)`` if ``source`` is one of the habits, else None.

    Kinds: ``"help"`` ``(expr, with_source)``, ``"system"`` ``cmd``,
    ``"capture"`` ``(name, cmd)``.
    """
    m = _QUERY.match(source)
    if m is not None:
        return "help", (m.group(1), m.group(2) == "??")
    stripped = source.strip()
    if stripped.startswith("!"):
        return "system", stripped[1:].strip()
    m = _CAPTURE.match(source)
    if m is not None:
        return "capture", (m.group(1), m.group(2).strip())
    return None


def help_text(expr: str, namespace: dict, with_source: bool) -> str:
    """What ``expr?`` (``expr??`` with ``with_source``) prints: the attach
    session's ``%pinfo`` text (one implementation for both)."""
    from ...backdoor._commands import describe_object

    try:
        obj = eval(expr, namespace)
    except Exception as exc:
        return f"Object `{expr}` not found ({type(exc).__name__}: {exc})."
    return describe_object(obj, expr, with_source)


def run_system(cmd: str) -> int:
    """``!cmd``: run it in a shell with the terminal as its output; its exit status."""
    if not cmd:
        raise ValueError("! needs a shell command, e.g. !ls -l")
    from ... import subprocess as _sp

    sys.stdout.flush()
    sys.stderr.flush()
    return _sp.run(cmd, shell=True).returncode


def capture_system(cmd: str) -> list[str]:
    """``x = !cmd``: its output lines (stderr goes to the terminal)."""
    if not cmd:
        raise ValueError("x = ! needs a shell command, e.g. files = !ls")
    from ... import subprocess as _sp

    out = _sp.run(cmd, shell=True, stdout=_sp.PIPE, text=True).stdout
    return out.splitlines()


def _fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:g} s"


def time_statement(stmt: str, namespace: dict) -> tuple[Any, str]:
    """``%time STATEMENT``: ``(value of an expression or None, timing line)``."""
    if not stmt.strip():
        raise ValueError("%time needs a statement, e.g. %time sum(range(10**6))")
    try:
        code = compile(stmt, "<timed>", "eval")
        is_expr = True
    except SyntaxError:
        code = compile(stmt, "<timed>", "exec")
        is_expr = False
    c0, w0 = time.process_time(), time.perf_counter()
    value = eval(code, namespace)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    line = f"CPU time: {_fmt(cpu)}, Wall time: {_fmt(wall)}"
    return (value if is_expr else None), line


def timeit_statement(stmt: str, namespace: dict, repeat: int = 5) -> str:
    """``%timeit STATEMENT``: mean ± std. dev. per loop, IPython's format."""
    if not stmt.strip():
        raise ValueError("%timeit needs a statement, e.g. %timeit sum(range(1000))")
    timer = timeit.Timer(stmt, globals=namespace)
    number, _ = timer.autorange()
    runs = [t / number for t in timer.repeat(repeat=repeat, number=number)]
    mean = statistics.mean(runs)
    dev = statistics.stdev(runs) if len(runs) > 1 else 0.0
    return (f"{_fmt(mean)} ± {_fmt(dev)} per loop (mean ± std. dev. of {repeat} runs, "
            f"{number} loop{'s' if number != 1 else ''} each)")
