"""The magics: ``%monkey``, ``%greenlets``, ``%kill``, ``%joinall``, ``%blocking``, ``%help``.

One implementation for every front end: the coopshell shell runs lines that
start with ``%`` through :func:`run_magic`; the Jupyter kernel and the IPython
extension register each function as a line magic. Each function takes the
argument string and returns the text to show (or None), raising
:class:`MagicError` with a one-line message for bad arguments.

``%greenlets`` needs to know the greenlets of the session. The registry
(:func:`enable_tracking`) adds one observer to ``coopshell.greenlet``'s
``_spawn_observers`` list, which ``Greenlet.__init__`` checks only for being
non-empty: zero cost when no front end tracks. The registry holds the
greenlets strongly (so ``%greenlets -a`` can show finished ones) and drops
finished ones beyond the newest :data:`KEEP_FINISHED`, amortised over spawns.
Without tracking, ``%greenlets`` falls back to a scan of ``gc`` objects.
"""

from __future__ import annotations

import gc
import re
import shlex
from time import monotonic as _monotonic
from typing import Any, Callable

from .. import greenlet as _greenlet_mod
from ..greenlet import Greenlet, iwait
from .._core.hub import get_hub

__all__ = ["MagicError", "run_magic", "MAGICS", "monkey", "greenlets", "kill", "joinall",
           "blocking", "help", "enable_tracking", "disable_tracking", "tracking_enabled", "tracked", "live_greenlets",
           "describe_state", "KEEP_FINISHED"]

#: Finished greenlets kept for ``%greenlets -a``.
KEEP_FINISHED = 1000
_PRUNE_EVERY = 1024
_LOCALS = re.compile(r"^[\w.]*<locals>\.")


class MagicError(Exception):
    """Raised for an unknown magic or bad arguments; ``str()`` is one line for the user."""


# -- the registry of the session's greenlets ------------------------------------------------

_registry: dict[int, Greenlet] = {}
_added = 0


def _observe(g: Greenlet) -> None:
    global _added
    _registry[id(g)] = g
    _added += 1
    if _added >= _PRUNE_EVERY:
        _added = 0
        _prune()


def _prune():
    dead = [k for k, g in _registry.items() if g._state == 3]   # _DONE
    for k in dead[:max(0, len(dead) - KEEP_FINISHED)]:           # dict order: oldest first
        del _registry[k]


def enable_tracking() -> None:
    """Record every Greenlet created from now on (for ``%greenlets``)."""
    if _observe not in _greenlet_mod._spawn_observers:
        _greenlet_mod._spawn_observers.append(_observe)


def tracking_enabled() -> bool:
    """True while new Greenlets are recorded for ``%greenlets``."""
    return _observe in _greenlet_mod._spawn_observers


def disable_tracking() -> None:
    """Stop recording new Greenlets and forget the recorded ones."""
    try:
        _greenlet_mod._spawn_observers.remove(_observe)
    except ValueError:
        pass
    _registry.clear()


def tracked(include_finished: bool = False) -> list[Greenlet]:
    """Greenlets of the session, oldest first (from the registry, else from gc)."""
    if _observe in _greenlet_mod._spawn_observers:
        gs = list(_registry.values())
    else:
        gs = [o for o in gc.get_objects() if isinstance(o, Greenlet)]
        gs.sort(key=lambda g: g.spawn_time)
    if not include_finished:
        gs = [g for g in gs if not g.dead]
    return gs


def live_greenlets() -> list[Greenlet]:
    """Greenlets of the session not finished yet."""
    return tracked(False)


# -- describing a greenlet -------------------------------------------------------------------

def describe_state(g: Greenlet) -> str:
    """'running', 'ready', 'waiting in <what> at <where>', 'done', 'failed: Exc', 'killed'…"""
    state = g._state
    if state == 3:
        exc = g.exception
        if exc is not None:
            return f"failed: {type(exc).__name__}"
        if isinstance(g.value, BaseException):
            return "killed"
        return "done"
    if state == 0:
        return "new (not started)"
    if state == 1:
        return "ready (not started)" if g._timer is None else "scheduled (spawn_later)"
    w = g._worker
    if w is None:
        return "running"
    from greenlet import getcurrent
    if w is getcurrent():
        return "running"
    return "waiting in " + _describe_wait(w.gr_frame)


def _describe_wait(frame) -> str:
    """The outermost coopshell call the suspended stack is in, and the user's line."""
    api = user = None
    f = frame
    while f is not None:
        mod = f.f_globals.get("__name__", "")
        if mod.partition(".")[0] == "coopshell":
            if f.f_code is _greenlet_mod._WORKER_CODE:
                break
            api = f
            user = None
        elif user is None:
            user = f
        f = f.f_back
    if api is None:
        top = frame
        if top is None:
            return "the hub"
        return f"{top.f_code.co_name}() at {_where(top)}"
    code = api.f_code
    what = getattr(code, "co_qualname", code.co_name) + "()"
    obj = api.f_locals.get("self")
    if obj is not None:
        what += f" on {_short_repr(obj)}"
    elif code.co_name == "sleep":
        secs = api.f_locals.get("seconds")
        if isinstance(secs, (int, float)):
            what = f"sleep({secs:g})"
    return what + (f" at {_where(user)}" if user is not None else "")


def _where(frame) -> str:
    name = frame.f_code.co_filename
    short = name.rsplit("/", 1)[-1]
    return f"{short}:{frame.f_lineno}"


def _short_repr(obj, limit=60) -> str:
    try:
        r = repr(obj)
    except Exception:
        r = f"<{type(obj).__name__}>"
    return r if len(r) <= limit else r[:limit - 4] + "...>"


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    widths[-1] = 0  # last column unpadded
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([fmt(header)] + [fmt(r) for r in rows])


# -- the magics ------------------------------------------------------------------------------

def greenlets(arg: str = "") -> str:
    """``%greenlets [-a]``: table of live greenlets (``-a``: finished ones too)."""
    args = _split(arg)
    show_all = False
    for a in args:
        if a in ("-a", "--all"):
            show_all = True
        else:
            raise MagicError(f"%greenlets: unknown argument {a!r} (usage: %greenlets [-a])")
    gs = tracked(include_finished=show_all)
    if not gs:
        return "no greenlets" if show_all else "no live greenlets (%greenlets -a shows finished ones)"
    now = _monotonic()
    rows = []
    for g in gs:
        func = _LOCALS.sub("", g._formatinfo())
        if len(func) > 50:
            func = func[:47] + "..."
        rows.append([str(g.minimal_ident), g.name, func, describe_state(g), _age(now - g.spawn_time)])
    live = sum(1 for g in gs if not g.dead)
    summary = f"{live} live" + (f", {len(gs) - live} finished" if show_all else "")
    return _table(rows, ["ID", "NAME", "FUNCTION", "STATE", "AGE"]) + f"\n({summary})"


def kill(arg: str = "", timeout: float = 1.0) -> str:
    """``%kill ID…|all``: kill greenlets by the ID ``%greenlets`` shows."""
    args = _split(arg)
    if not args:
        raise MagicError("%kill: which greenlets? usage: %kill ID [ID…] | %kill all")
    live = tracked(include_finished=True)
    if args == ["all"]:
        targets = [g for g in live if not g.dead]
    else:
        by_id = {g.minimal_ident: g for g in live}
        targets = []
        for a in args:
            try:
                ident = int(a)
            except ValueError:
                raise MagicError(f"%kill: {a!r} is not a greenlet ID (a number from %greenlets) or 'all'") from None
            g = by_id.get(ident)
            if g is None:
                raise MagicError(f"%kill: no greenlet with ID {ident} (see %greenlets -a)")
            targets.append(g)
    targets = [g for g in targets if not g.dead]
    if not targets:
        return "nothing to kill"
    for g in targets:
        g.kill(block=False)
    alive = [g for g in targets if not g.dead]
    if alive and getcurrent_is_main():
        done = set(iwait(alive, timeout))
        alive = [g for g in alive if g not in done]
    msg = f"killed {len(targets) - len(alive)} greenlet(s)"
    if alive:
        msg += f"; {len(alive)} still alive after {timeout:g}s: " + ", ".join(str(g.minimal_ident) for g in alive)
    return msg


def joinall(arg: str = "", progress: Callable[[str], Any] | None = None) -> str:
    """``%joinall [TIMEOUT]``: wait for the live greenlets, with a progress line."""
    args = _split(arg)
    if len(args) > 1:
        raise MagicError("%joinall: too many arguments (usage: %joinall [TIMEOUT])")
    timeout = None
    if args:
        try:
            timeout = float(args[0])
        except ValueError:
            raise MagicError(f"%joinall: TIMEOUT must be a number of seconds, got {args[0]!r}") from None
        if not timeout >= 0 or timeout == float("inf"):
            raise MagicError(f"%joinall: TIMEOUT must be a finite number of seconds >= 0, got {args[0]!r}")
    if not getcurrent_is_main():
        raise MagicError("%joinall must run in the main greenlet (it waits)")
    targets = live_greenlets()
    total = len(targets)
    if not total:
        return "no live greenlets"
    t0 = _monotonic()
    pending = set(targets)
    failed = 0
    step = 0.2 if progress is not None else None

    def line():
        return (f"joinall: {total - len(pending)}/{total} done, {failed} failed, "
                f"{_monotonic() - t0:.1f}s")

    last = 0.0
    while pending:
        remaining = None if timeout is None else timeout - (_monotonic() - t0)
        if remaining is not None and remaining <= 0:
            break
        wait_for = remaining if step is None else (step if remaining is None else min(step, remaining))
        for g in iwait(list(pending), wait_for):
            pending.discard(g)
            if g.exception is not None:
                failed += 1
            if progress is not None and _monotonic() - last >= 0.1:
                last = _monotonic()
                progress(line())
        if progress is not None:
            last = _monotonic()
            progress(line())
    final = line()
    if pending:
        final += f"; {len(pending)} still running after {timeout:g}s"
    return final


def blocking(arg: str = "") -> str:
    """``%blocking [SECONDS|off|on]``: the blocked-hub detector's threshold, or turn it off."""
    from .watchdog import get_detector
    args = _split(arg)
    det = get_detector()
    if not args:
        if not det.running:
            return "blocked-hub detector: off (%blocking SECONDS turns it on)"
        return f"blocked-hub detector: on, threshold {det.threshold:g}s, {det.warnings} warning(s) so far"
    if len(args) > 1:
        raise MagicError("%blocking: too many arguments (usage: %blocking [SECONDS|on|off])")
    a = args[0].lower()
    if a == "off":
        det.stop()
        return "blocked-hub detector: off"
    if a != "on":
        try:
            seconds = float(a)
        except ValueError:
            raise MagicError(f"%blocking: expected SECONDS, 'on' or 'off', got {args[0]!r}") from None
        try:
            det.threshold = seconds
        except (TypeError, ValueError) as exc:
            raise MagicError(f"%blocking: {exc}") from None
    det.start()
    return f"blocked-hub detector: on, threshold {det.threshold:g}s"


_MONKEY_TARGETS = {
    "socket": "socket", "dns": "dns", "ssl": "ssl", "select": "select", "selectors": "select",
    "time": "time", "subprocess": "subprocess", "os": "os", "signal": "signal",
    "queue": "queue", "thread": "thread", "threading": "thread",
}
_MONKEY_FLAGS = ("socket", "dns", "time", "select", "thread", "os", "ssl", "subprocess", "signal", "queue")


def monkey(arg: str = "") -> str:
    """``%monkey [all|socket|dns|ssl|select|time|subprocess|os|signal|queue|thread…] [--fix]``,
    ``%monkey off``, ``%monkey status``."""
    args = _split(arg)
    try:
        import coopshell.monkey as m
    except ImportError as exc:
        raise MagicError(f"%monkey: coopshell.monkey is not available ({exc})") from None
    # The front end sets coopshell.monkey.INTERACTIVE (threading stays unpatched).
    fix = None  # patch_all's default: rebind stale references in the stdlib only
    if "--fix" in args:
        fix = True
        args = [a for a in args if a != "--fix"]
    if args == ["off"]:
        restored = m.unpatch_all()
        return ("unpatched: " + ", ".join(restored)) if restored else "nothing was patched"
    if args == ["status"]:
        patched = [name for name in ("socket", "ssl", "select", "selectors", "time", "subprocess", "os",
                                     "signal", "queue", "threading") if m.is_module_patched(name)]
        stale = m.stale_references()
        lines = ["patched: " + (", ".join(patched) if patched else "nothing")]
        if stale:
            lines.append(f"{len(stale)} stale reference(s) stay blocking (%monkey --fix rebinds them):")
            lines.extend(f"  {r}" for r in stale)
        else:
            lines.append("no stale references")
        return "\n".join(lines)
    if not args or args == ["all"]:
        report = m.patch_all(fix_references=fix)
        return str(report)
    flags = dict.fromkeys(_MONKEY_FLAGS, False)
    for a in args:
        key = _MONKEY_TARGETS.get(a.lower())
        if key is None:
            raise MagicError(f"%monkey: unknown target {a!r}; expected all, off, status or some of: "
                             + ", ".join(sorted(set(_MONKEY_TARGETS))))
        flags[key] = True
    try:
        report = m.patch_all(fix_references=fix, **flags)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise MagicError(f"%monkey: {exc}") from None
    return str(report)


_HELP = """\
coopshell magics:
  %monkey [all|socket|dns|ssl|select|time|subprocess|os|…] [--fix]
                        patch the stdlib to cooperate (default: all but threading);
                        reports stale references (--fix rebinds them)
  %monkey off|status    undo the patching / show what is patched
  %greenlets [-a]       table of live greenlets (-a: finished ones too)
  %kill ID…|all         kill greenlets by ID (from %greenlets)
  %joinall [TIMEOUT]    wait for all live greenlets, with progress
  %blocking [SECONDS|on|off]
                        warn when something blocks the hub longer than SECONDS
  %help                 this text"""


def help(arg: str = "") -> str:
    """``%help``: the list of magics."""
    return _HELP


#: name -> function, for front ends registering line magics.
MAGICS: dict[str, Callable[..., Any]] = {
    "monkey": monkey, "greenlets": greenlets, "kill": kill, "joinall": joinall,
    "blocking": blocking, "help": help,
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


# -- helpers -------------------------------------------------------------------------------

def getcurrent_is_main() -> bool:
    """True in the hub's parent (main) greenlet, where magics may wait."""
    from greenlet import getcurrent
    return getcurrent() is get_hub().parent


def _split(arg: str) -> list[str]:
    if not isinstance(arg, str):
        raise TypeError(f"magic arguments must be a str, got {arg!r}")
    try:
        return shlex.split(arg)
    except ValueError as exc:
        raise MagicError(f"cannot parse arguments {arg!r}: {exc}") from None
