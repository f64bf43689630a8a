"""The greenlet magics: ``%greenlets``, ``%where``, ``%kill``, ``%joinall``, ``%blocking``."""

from __future__ import annotations

from time import monotonic as _monotonic
from typing import Any, Callable

from ...greenlet import Greenlet, iwait
from .args import MagicError, in_main_greenlet, split
from .describe import age, describe_state, function_text, stack_text, table
from .registry import live_greenlets, tracked

__all__ = ["greenlets", "where", "kill", "joinall", "blocking", "select_rows", "DEFAULT_ROWS"]

#: Rows ``%greenlets`` shows unless ``-n`` says otherwise.
DEFAULT_ROWS = 40
_GREENLETS_USAGE = "usage: %greenlets [-a] [-n ROWS]"


def _parse_greenlets(arg: str) -> tuple[bool, int]:
    args = split(arg)
    show_all, rows = False, DEFAULT_ROWS
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-a", "--all"):
            show_all = True
        elif a in ("-n", "--rows"):
            if i + 1 == len(args):
                raise MagicError(f"%greenlets: -n needs a number of rows ({_GREENLETS_USAGE})")
            i += 1
            try:
                rows = int(args[i])
            except ValueError:
                rows = -1
            if rows < 1:
                raise MagicError(f"%greenlets: -n expects a number of rows >= 1, got {args[i]!r}")
        else:
            raise MagicError(f"%greenlets: unknown argument {a!r} ({_GREENLETS_USAGE})")
        i += 1
    return show_all, rows


def select_rows(arg: str) -> tuple[list[Greenlet], str]:
    """The greenlets ``%greenlets ARG`` shows (live ones first, then the newest
    finished ones) and its summary line."""
    show_all, limit = _parse_greenlets(arg)
    gs = tracked(include_finished=show_all)
    live = [g for g in gs if not g.dead]
    done = [g for g in gs if g.dead]
    shown = live[:limit]
    if show_all and len(shown) < limit:
        room = limit - len(shown)
        shown += done[-room:]
    summary = f"{len(live)} live" + (f", {len(done)} finished" if show_all else "")
    left = len(gs) - len(shown)
    if left:
        summary += f"; {left} more not shown (%greenlets {'-a ' if show_all else ''}-n {len(gs)})"
    return shown, f"({summary})"


def greenlets(arg: str = "") -> str:
    """``%greenlets [-a] [-n ROWS]``: table of live greenlets (``-a``: finished
    ones too), at most ROWS rows (default 40)."""
    shown, summary = select_rows(arg)
    if not shown:
        show_all = _parse_greenlets(arg)[0]
        return "no greenlets" if show_all else "no live greenlets (%greenlets -a shows finished ones)"
    now = _monotonic()
    rows = []
    for g in shown:
        func = function_text(g)
        if len(func) > 50:
            func = func[:47] + "..."
        rows.append([str(g.minimal_ident), g.name, func, describe_state(g), age(now - g.spawn_time)])
    return table(rows, ["ID", "NAME", "FUNCTION", "STATE", "AGE"]) + "\n" + summary


def _find(args: list[str], usage: str, magic: str) -> list[Greenlet]:
    known = tracked(include_finished=True)
    by_id = {g.minimal_ident: g for g in known}
    found: dict[int, Greenlet] = {}
    for a in args:
        try:
            ident: int | None = int(a)
        except ValueError:
            ident = None
        if ident is not None:
            g = by_id.get(ident)
            if g is None:
                raise MagicError(f"{magic}: no greenlet with ID {ident} (see %greenlets -a)")
            found.setdefault(id(g), g)
            continue
        named = [g for g in known if g.name == a]
        if not named:
            raise MagicError(f"{magic}: {a!r} is not a greenlet ID or name (see %greenlets -a; {usage})")
        for g in named:
            found.setdefault(id(g), g)
    return list(found.values())


def where(arg: str = "") -> str:
    """``%where ID|NAME…``: the full stack of each greenlet (like a traceback)."""
    args = split(arg)
    if not args:
        raise MagicError("%where: which greenlet? usage: %where ID|NAME [ID|NAME…]")
    return "\n\n".join(stack_text(g) for g in _find(args, "usage: %where ID|NAME", "%where"))


def kill(arg: str = "", timeout: float = 1.0) -> str:
    """``%kill ID|NAME…|all``: kill greenlets by the ID or name ``%greenlets`` shows."""
    args = split(arg)
    if not args:
        raise MagicError("%kill: which greenlets? usage: %kill ID|NAME [ID|NAME…] | %kill all")
    if args == ["all"]:
        targets = live_greenlets()
    else:
        targets = _find(args, "usage: %kill ID|NAME… | %kill all", "%kill")
    targets = [g for g in targets if not g.dead]
    if not targets:
        return "nothing to kill"
    for g in targets:
        g.kill(block=False)
    alive = [g for g in targets if not g.dead]
    if alive and in_main_greenlet():
        done = set(iwait(alive, timeout))
        alive = [g for g in alive if g not in done]
    msg = f"killed {len(targets) - len(alive)} greenlet(s)"
    if alive:
        msg += f"; {len(alive)} still alive after {timeout:g}s: " + ", ".join(str(g.minimal_ident) for g in alive)
    return msg


class _LineBar:
    """A renderer that hands ``%joinall``'s progress line to a callback."""

    def __init__(self, show: Callable[[str], Any], line: Callable[[Any], str]):
        self.show, self.line = show, line

    def update(self, p: Any) -> None:
        self.show(self.line(p))

    def close(self, p: Any) -> None:
        self.show(self.line(p))


def joinall(arg: str = "", progress: Callable[[str], Any] | None = None) -> str:
    """``%joinall [TIMEOUT]``: wait for the live greenlets with a live progress
    bar (the front end's, see :mod:`coopshell.progress`; or ``progress``, a
    callback given each progress line); returns the summary line."""
    from ...progress import Progress

    args = split(arg)
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
    if not in_main_greenlet():
        raise MagicError("%joinall must run in the main greenlet (it waits)")
    targets = live_greenlets()
    total = len(targets)
    if not total:
        return "no live greenlets"

    def line(p: Any) -> str:
        return f"joinall: {p.done}/{total} done, {p.failed} failed, {p.elapsed:.1f}s"

    bar = _LineBar(progress, line) if progress is not None else None
    sweep = Progress(iwait(targets, timeout), total=total, desc="joinall", bar=bar,
                     transient=True)
    for _ in sweep:
        pass
    final = line(sweep)
    left = total - sweep.done
    if left:
        final += f"; {left} still running after {timeout:g}s"
    return final


def blocking(arg: str = "") -> str:
    """``%blocking [SECONDS|off|on]``: the blocked-hub detector's threshold, or turn it off."""
    from ..watchdog import get_detector
    args = split(arg)
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
