"""What an attach session runs: statements, magics, completion."""

from __future__ import annotations

import ast
import inspect
import linecache
import re
import rlcompleter
import shlex
import sys
import threading as _threading
import traceback
import weakref
from time import monotonic, perf_counter, sleep as _time_sleep

from .._core.hub import get_hub, sleep
from ..greenlet import Greenlet, iwait
from ..timeout import Timeout
from ..util import all_greenlets, describe_wait, find_greenlet, format_greenlet_stack

__all__ = ["run_source", "run_magic", "run_magic_line", "complete", "mark_internal", "MagicError",
           "describe_object"]

# Originals, so that monkey patching cannot make the %blocking watcher green.
_Thread = _threading.Thread
_current_frames = sys._current_frames
_LOCALS = re.compile(r"^[\w.]*<locals>\.")


_counter = iter(range(1, 1 << 62))


def run_source(session, ident, source):
    if not isinstance(source, str):
        session.finished(ident, {"status": "error", "error": f"exec needs a str source, got {source!r:.60}\n"})
        return
    filename = f"<attach-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        value = _execute(source, filename, session.server.namespace)
    except BaseException as exc:   # KeyboardInterrupt (Ctrl-C) and SystemExit end the statement only
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
        session.finished(ident, {"status": status, "error": _format_error(exc)})
        return
    reply = {"status": "ok"}
    if value is not None:
        try:
            reply["value"] = repr(value)
        except BaseException as exc:
            reply["value"] = f"<repr() failed: {type(exc).__name__}: {exc}>"
    session.finished(ident, reply)


def _execute(source, filename, namespace):
    tree = ast.parse(source, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    if tree.body:
        exec(compile(tree, filename, "exec"), namespace)
    if last is not None:
        return eval(compile(last, filename, "eval"), namespace)
    return None


def _format_error(exc) -> str:
    if isinstance(exc, SyntaxError):
        return "".join(traceback.format_exception_only(type(exc), exc))
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    if exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        return "".join(traceback.format_exception(type(exc), exc, tb))   # keep the whole chain
    # Drop the runtime's frames below the user's last one (where a sleep was interrupted).
    entries = []
    t = tb
    while t is not None:
        entries.append(t)
        t = t.tb_next
    user = [i for i, t in enumerate(entries) if not _is_runtime(t.tb_frame)]
    summary = traceback.StackSummary.extract(
        (t.tb_frame, t.tb_lineno) for t in entries[:user[-1] + 1 if user else len(entries)])
    lines = ["Traceback (most recent call last):\n"] if entries else []
    lines += summary.format()
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def _is_runtime(frame) -> bool:
    return frame.f_globals.get("__name__", "").partition(".")[0] == "coopshell"


def run_magic(session, ident, line):
    if not isinstance(line, str):
        session.finished(ident, {"status": "error", "error": f"magic needs a str line, got {line!r:.60}\n"})
        return
    try:
        text = run_magic_line(line, session.server.namespace)
    except MagicError as exc:
        session.finished(ident, {"status": "error", "error": f"{exc}\n"})
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
        session.finished(ident, {"status": status, "error": _format_error(exc)})
    else:
        session.finished(ident, {"status": "ok", "text": text})


def complete(session, ident, text):
    matches: list[str] = []
    if isinstance(text, str):
        completer = rlcompleter.Completer(session.server.namespace)
        try:
            with Timeout(2.0):
                for state in range(500):
                    m = completer.complete(text, state)
                    if m is None:
                        break
                    matches.append(m)
        except BaseException:
            pass   # a property that raised or blocked: offer what was found
    session.finished(ident, {"op": "completions", "matches": matches})


# -- the remote magics -------------------------------------------------------------------------

class MagicError(Exception):
    """An unknown magic or bad arguments; ``str()`` is one line for the user."""


_internal: weakref.WeakSet = weakref.WeakSet()


def mark_internal(g: Greenlet) -> None:
    """Leave ``g`` (the attach server's own greenlet) out of ``%greenlets``."""
    _internal.add(g)


_HELP = """\
remote magics (they run in the attached program):
  %greenlets [-a]      its greenlets: ID, name, function, state, where it waits (-a: finished too)
  %where ID            the stack of greenlet ID
  %kill ID... | all    kill greenlets (waits up to 1s for them to die)
  %blocking [SECONDS]  watch the hub for SECONDS (default 1): the longest time it was blocked, and where
  %pinfo EXPR, EXPR?   type, value, signature and docstring of EXPR
  %help                this text
local: %detach (or Ctrl-D, quit(), exit()) leaves the program running; Ctrl-C interrupts the statement"""


def run_magic_line(line: str, namespace: dict) -> str:
    """Run ``%name args`` in the attached program; the text to show."""
    text = line.strip().lstrip("%")
    name, _, arg = text.partition(" ")
    try:
        args = shlex.split(arg)
    except ValueError as exc:
        raise MagicError(f"cannot parse arguments {arg!r}: {exc}") from None
    if name == "greenlets":
        return _greenlets(args)
    if name == "where":
        return _where(args)
    if name == "kill":
        return _kill(args)
    if name == "blocking":
        return _blocking(args)
    if name == "pinfo":
        return _pinfo(arg.strip(), namespace)
    if name == "help":
        return _HELP
    raise MagicError(f"unknown remote magic %{name}; %help lists them")


def _greenlets(args):
    show_all = False
    for a in args:
        if a not in ("-a", "--all"):
            raise MagicError(f"%greenlets: unknown argument {a!r} (usage: %greenlets [-a])")
        show_all = True
    gs = [g for g in all_greenlets(include_finished=show_all) if g not in _internal]
    if not gs:
        return "no greenlets" if show_all else "no live greenlets (%greenlets -a shows finished ones)"
    now = monotonic()
    rows = []
    for g in gs:
        func = _LOCALS.sub("", g._formatinfo())
        if len(func) > 40:
            func = func[:37] + "..."
        if g.dead:
            state = "failed: " + type(g.exception).__name__ if g.exception is not None else "dead"
        else:
            state = g.state
        where = describe_wait(g) if not g.dead else ""
        rows.append([str(g.minimal_ident), g.name, func, state, f"{now - g.spawn_time:.1f}s", where])
    header = ["ID", "NAME", "FUNCTION", "STATE", "AGE", "WHERE"]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    live = sum(1 for g in gs if not g.dead)
    return "\n".join([fmt(header)] + [fmt(r) for r in rows] + [f"({live} live)"])


def _ident(a, magic):
    try:
        return find_greenlet(a)
    except (ValueError, LookupError) as exc:
        raise MagicError(f"%{magic}: {exc}") from None


def _where(args):
    if len(args) != 1:
        raise MagicError("%where: which greenlet? usage: %where ID (IDs from %greenlets)")
    g = _ident(args[0], "where")
    return f"{g!r} ({g.state})\n" + format_greenlet_stack(g).rstrip("\n")


def _kill(args):
    if not args:
        raise MagicError("%kill: which greenlets? usage: %kill ID [ID...] | %kill all")
    if args == ["all"]:
        targets = [g for g in all_greenlets() if g not in _internal]
    else:
        targets = [_ident(a, "kill") for a in args]
    targets = [g for g in targets if not g.dead]
    if not targets:
        return "nothing to kill (already finished)"
    for g in targets:
        g.kill(block=False)
    done = set(iwait(targets, timeout=1.0))
    alive = [g for g in targets if g not in done and not g.dead]
    msg = f"killed {len(targets) - len(alive)} greenlet(s)"
    if alive:
        msg += "; still alive after 1s: " + ", ".join(str(g.minimal_ident) for g in alive)
    return msg


def _blocking(args):
    if len(args) > 1:
        raise MagicError("%blocking: usage: %blocking [SECONDS]")
    seconds = 1.0
    if args:
        try:
            seconds = float(args[0])
        except ValueError:
            raise MagicError(f"%blocking: SECONDS must be a number, got {args[0]!r}") from None
        if not 0 < seconds <= 600:
            raise MagicError(f"%blocking: SECONDS must be in (0, 600], got {args[0]!r}")
    hub = get_hub()
    ident = hub.thread_ident
    state = {"beat": perf_counter(), "worst": 0.0, "where": None, "running": True}
    sampled = [False]

    def watch():   # a real thread: it sees the hub's thread while it is blocked
        while state["running"]:
            _time_sleep(0.005)
            stalled = perf_counter() - state["beat"]
            if stalled > 0.02 and not sampled[0]:
                frame = _current_frames().get(ident)
                if frame is not None:
                    state["where"] = _user_frame(frame)
                    sampled[0] = True

    thread = _Thread(target=watch, name="coopshell-attach-%blocking", daemon=True)
    thread.start()
    try:
        end = perf_counter() + seconds
        while perf_counter() < end:
            before = perf_counter()
            sleep(0.002)
            lag = perf_counter() - before - 0.002
            if lag > state["worst"]:
                state["worst"] = lag
                state["worst_where"] = state["where"]
            state["beat"] = perf_counter()
            sampled[0] = False
            state["where"] = None
    finally:
        state["running"] = False
        thread.join()
    worst = state["worst"]
    text = f"hub watched for {seconds:g}s: longest blocked {worst * 1000:.1f} ms"
    where = state.get("worst_where")
    if where:
        text += f", in {where}"
    return text


def _user_frame(frame) -> str:
    f = frame
    while f is not None:
        if f.f_globals.get("__name__", "").partition(".")[0] != "coopshell":
            return f"{f.f_code.co_name}() at {f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_lineno}"
        f = f.f_back
    return f"{frame.f_code.co_name}() (runtime code)"


def _pinfo(expr, namespace):
    if not expr:
        raise MagicError("%pinfo: usage: %pinfo EXPR (or EXPR?)")
    try:
        obj = eval(expr, namespace)
    except Exception as exc:
        raise MagicError(f"%pinfo: cannot evaluate {expr!r}: {type(exc).__name__}: {exc}") from None
    return describe_object(obj, expr)


def describe_object(obj, expr: str, with_source: bool = False) -> str:
    """What ``expr?`` shows (``expr??`` with ``with_source``): type, value,
    signature, file, then the docstring (or the source). Shared by the attach
    session's ``%pinfo`` and the shell's ``obj?``; never raises for an odd object."""
    cls = type(obj)
    lines = [f"Type:      {cls.__module__}.{cls.__qualname__}"
             if cls.__module__ != "builtins" else f"Type:      {cls.__qualname__}"]
    try:
        r = repr(obj)
    except Exception:
        r = f"<{cls.__name__} (repr failed)>"
    lines.append(f"Value:     {r if len(r) <= 200 else r[:197] + '...'}")
    if callable(obj):
        try:
            lines.append(f"Signature: {expr}{inspect.signature(obj)}")
        except (TypeError, ValueError):
            pass
    try:
        lines.append(f"File:      {inspect.getsourcefile(obj) or inspect.getfile(obj)}")
    except TypeError:
        pass
    if with_source:
        try:
            lines.append("Source:\n" + inspect.getsource(obj).rstrip())
            return "\n".join(lines)
        except (OSError, TypeError):
            lines.append("Source:    (not available)")
    doc = inspect.getdoc(obj)
    lines.append("Docstring:\n" + doc if doc else "Docstring: <no docstring>")
    return "\n".join(lines)
