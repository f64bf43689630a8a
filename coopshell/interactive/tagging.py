"""Tagged background output: ``[fetch-3] 200 OK`` instead of an anonymous line.

While tagging is on, ``sys.stdout`` and ``sys.stderr`` are wrapped in a
:class:`TaggedStream`. A line written by a background greenlet gets one
prefix, its name (``Greenlet.name`` when set, else ``#`` and its
``%greenlets`` ID), dimmed on a terminal. Lines from the foreground (the
statement or cell being run, which runs in the main greenlet) and from the
hub stay bare.

Each greenlet's unfinished line is kept apart until its newline arrives, so
``print("a", "b")`` (several writes) gets one prefix and two greenlets
printing at once never share a line. A partial line is written out when the
stream is flushed or its greenlet ends: nothing is lost.

The wrapper writes to the stream it wraps from the writer's own greenlet, so
in Jupyter the text still goes to the cell that spawned the greenlet (a
partial line written out later, from the hub, is written in a copy of the
writer's context, where ipykernel keeps the cell's parent header).
Tagging off means no wrapper at all: no cost.

Front ends turn it on with ``%tag on``, or at start from a setting:
``coopshell --tag``, ``--CoopKernel.tag=True`` for the kernel,
``c.Coopshell.tag = True`` for the IPython extension, or ``COOPSHELL_TAG=1``
for all of them (:func:`wanted`).
"""

from __future__ import annotations

import contextvars
import os
import sys
from typing import Any

from coopshell.greenlet import Greenlet, getcurrent

__all__ = ["TaggedStream", "enable", "disable", "enabled", "tag_of", "wanted", "ENV"]

#: The environment variable that turns tagging on at start in every front end.
ENV = "COOPSHELL_TAG"
_copy_context = contextvars.copy_context

_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


def tag_of(g: Greenlet) -> str:
    """The short name shown for ``g``: its own name, else ``#`` and its ID."""
    ident = g.minimal_ident
    name = g.name
    return f"#{ident}" if name == f"Greenlet-{ident}" else name


class TaggedStream:
    """A text stream wrapper that prefixes background greenlets' lines."""

    def __init__(self, inner: Any, *, dim: bool = False):
        self.inner = inner
        self.dim = dim
        # greenlet -> [context at the first piece, piece, piece...]
        self._partial: dict[Greenlet, list[Any]] = {}
        self._prefixes: dict[Greenlet, str] = {}   # also: greenlets linked for cleanup

    def _prefix(self, g: Greenlet) -> str:
        p = self._prefixes.get(g)
        if p is None:
            tag = f"[{tag_of(g)}]"
            p = f"{_DIM}{tag}{_RESET} " if self.dim else tag + " "
            self._prefixes[g] = p
            g.rawlink(self._on_finished)
        return p

    def write(self, s: str) -> int:
        g = getcurrent()
        if type(g) is not Greenlet and not isinstance(g, Greenlet):
            return self.inner.write(s)  # type: ignore[no-any-return]
        if type(s) is not str and not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        buf = self._partial.get(g)
        if "\n" not in s:
            if buf is None:
                self._prefix(g)
                self._partial[g] = [_copy_context(), s]
            else:
                buf.append(s)
            return len(s)
        if buf is not None:
            del self._partial[g]
            buf.append(s)
            text = "".join(buf[1:])
        else:
            text = s
        prefix = self._prefix(g)
        *lines, rest = text.split("\n")
        self.inner.write(prefix + ("\n" + prefix).join(lines) + "\n")
        if rest:
            self._partial[g] = [_copy_context(), rest]
        return len(s)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        for g in list(self._partial):
            self._write_partial(g)
        self.inner.flush()

    def _on_finished(self, g: Greenlet) -> None:
        self._write_partial(g)
        self._prefixes.pop(g, None)

    def _write_partial(self, g: Greenlet) -> None:
        buf = self._partial.pop(g, None)
        if buf:
            text = "".join(buf[1:])
            if text:
                line = self._prefix(g) + text + "\n"
                if getcurrent() is g:
                    self.inner.write(line)
                else:   # from the hub (the greenlet ended) or a flush elsewhere
                    buf[0].run(self.inner.write, line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"<TaggedStream around {self.inner!r}>"


def enable(*, dim: bool | None = None) -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` (once). ``dim`` defaults to
    whether stdout is a terminal."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, TaggedStream) or stream is None:
            continue
        use_dim = dim
        if use_dim is None:
            isatty = getattr(stream, "isatty", None)
            use_dim = bool(isatty is not None and isatty())
        setattr(sys, name, TaggedStream(stream, dim=use_dim))


def disable() -> None:
    """Unwrap ``sys.stdout`` and ``sys.stderr``, writing out pending partial lines."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, TaggedStream):
            stream.flush()
            setattr(sys, name, stream.inner)


def enabled() -> bool:
    """True while ``sys.stdout`` is tagged."""
    return isinstance(sys.stdout, TaggedStream)


def wanted(setting: Any = None) -> bool:
    """Whether a front end should start with tagging on: ``setting`` (its own
    option) when given, else ``$COOPSHELL_TAG`` (1/true/on/yes)."""
    if setting is not None:
        return bool(setting)
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("", "0", "false", "off", "no"):
        return False
    if value in ("1", "true", "on", "yes"):
        return True
    raise ValueError(f"${ENV} must be 1/true/on/yes or 0/false/off/no, got {value!r}")
