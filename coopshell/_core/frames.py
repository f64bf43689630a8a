"""Describing where a greenlet waits, for ``LoopExit``'s message.

Walks a suspended greenlet's frames to the outermost coopshell frame (the
API call, e.g. ``Event.wait``) and the user frame that called it. Nothing is
recorded on the hot path for this: it runs only when a wait can never end.
"""

from __future__ import annotations

from types import FrameType

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: ``typing`` costs ~9 ms of a cold import
    from typing import Any

__all__ = ["describe_wait", "qualname"]


def qualname(frame: FrameType) -> str:
    """``Type.method`` of the code ``frame`` runs, the same on every Python.

    ``co_qualname`` exists from 3.11; on 3.10 the type comes from the frame's
    ``self`` or ``cls`` (the first argument), looked up along the MRO so an
    inherited method is named by the class that defines it.
    """
    code = frame.f_code
    name: str | None = getattr(code, "co_qualname", None)
    if name is not None:
        return name
    if code.co_argcount:
        first = frame.f_locals.get(code.co_varnames[0])
        owner = first if isinstance(first, type) else type(first)
        for klass in getattr(owner, "__mro__", ()):
            func = klass.__dict__.get(code.co_name)
            func = getattr(func, "__func__", func)  # classmethod, staticmethod
            if func is None and isinstance(klass.__dict__.get(code.co_name), property):
                func = klass.__dict__[code.co_name].fget
            if getattr(func, "__code__", None) is code:
                return f"{klass.__name__}.{code.co_name}"
    return code.co_name


def describe_wait(frame: FrameType | None, hub: Any) -> tuple[str, str]:
    """``("Event.wait() on <Event ...>", " at script.py:12")`` for a waiting frame."""
    api = None
    user = None
    f = frame
    while f is not None:
        if f.f_globals.get("__name__", "").partition(".")[0] == "coopshell":
            api = f
        elif api is not None:
            user = f
            break
        f = f.f_back
    what = "a wait"
    if api is not None:
        what = f"{qualname(api)}()"
        obj = api.f_locals.get("self")
        if obj is not None and obj is not hub:
            try:
                what += f" on {obj!r}"
            except Exception:
                what += f" on a {type(obj).__name__}"
    where = f" at {user.f_code.co_filename}:{user.f_lineno}" if user is not None else ""
    return what, where
