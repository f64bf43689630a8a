"""What every magic shares: the one-line error type and argument splitting."""

from __future__ import annotations

import shlex

from greenlet import getcurrent as _getcurrent

from ..._core.hub import get_hub

__all__ = ["MagicError", "split", "in_main_greenlet"]


class MagicError(Exception):
    """Raised for an unknown magic or bad arguments; ``str()`` is one line for the user."""


def split(arg: str) -> list[str]:
    """Split a magic's argument string like a shell does (a clear error for bad quoting)."""
    if not isinstance(arg, str):
        raise TypeError(f"magic arguments must be a str, got {arg!r}")
    try:
        return shlex.split(arg)
    except ValueError as exc:
        raise MagicError(f"cannot parse arguments {arg!r}: {exc}") from None


def in_main_greenlet() -> bool:
    """True in the hub's parent (main) greenlet, where magics may wait."""
    return _getcurrent() is get_hub().parent
