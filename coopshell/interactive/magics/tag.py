"""``%tag on|off``: prefix background greenlets' output lines with their names.

The magic only switches :mod:`coopshell.interactive.tagging` on or off; the
stream wrapper does the work, and front ends undo it when they end.
"""

from __future__ import annotations

from .args import MagicError, split

__all__ = ["tag"]

_USAGE = "usage: %tag [on|off]"


def tag(arg: str = "") -> str:
    """``%tag [on|off]``: tag background greenlets' stdout/stderr lines with
    ``[name]`` (their ``Greenlet.name``, else ``#ID``); no argument shows the state."""
    from .. import tagging

    args = split(arg)
    if len(args) > 1:
        raise MagicError(f"%tag: too many arguments ({_USAGE})")
    if not args:
        state = "on" if tagging.enabled() else "off"
        return f"tagged output: {state} (%tag on|off)"
    a = args[0].lower()
    if a in ("on", "1", "true", "yes"):
        tagging.enable()
        return "tagged output: on (background greenlets' lines start with [name] or [#ID])"
    if a in ("off", "0", "false", "no"):
        tagging.disable()
        return "tagged output: off"
    raise MagicError(f"%tag: expected 'on' or 'off', got {args[0]!r} ({_USAGE})")
