"""Tagged background output: ``[fetch-3] 200 OK`` instead of an anonymous line.

While tagging is on, ``sys.stdout`` and ``sys.stderr`` are wrapped in a
:class:`TaggedStream`. A line written by a background greenlet gets one
prefix, its name (``Greenlet.name`` when set, else ``#`` and its
``%greenlets`` ID), dimmed on a terminal. Lines from the foreground (the
statement or cell being run, which runs in the main greenlet) and from the
hub stay bare.

A line written in several pieces (``print("a", "b")`` is five writes) gets
one prefix, and two greenlets printing at once never share a line: while
one greenlet's line is unfinished, another's pieces are held back until it
ends (or the stream is flushed, or the owner finishes): nothing is lost.

The wrapper writes to the stream it wraps from the writer's own greenlet, so
in Jupyter the text still goes to the cell that spawned the greenlet (held
back text written out later, from elsewhere, is written in a copy of the
writer's context, where ipykernel keeps the cell's parent header).
While it is on, ``builtins.print`` joins its text and writes a tagged
stream once per call (the per-piece ``write`` calls were most of the cost);
into any other file it is the original ``print``. Tagging off means no
wrapper and the original ``print``: no cost.

Front ends turn it on with ``%tag on``, or at start from a setting:
``coopshell --tag``, ``--CoopKernel.tag=True`` for the kernel,
``c.Coopshell.tag = True`` for the IPython extension, or ``COOPSHELL_TAG=1``
for all of them (:func:`wanted`).
"""

from __future__ import annotations

import builtins
import contextvars
import functools
import os
import sys
from typing import Any, Callable

from greenlet import getcurrent as _raw_getcurrent

from coopshell.greenlet import Greenlet

__all__ = ["TaggedStream", "enable", "disable", "enabled", "tag_of", "wanted", "ENV"]

#: The environment variable that turns tagging on at start in every front end.
ENV = "COOPSHELL_TAG"
_copy_context = contextvars.copy_context

_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


#: The name property _prefix may cache by: it reads ``_name`` (and the ID).
_NAME_PROPERTY = Greenlet.__dict__["name"]


def tag_of(g: Greenlet) -> str:
    """The short name shown for ``g``: its own name, else ``#`` and its ID."""
    ident = g.minimal_ident
    name = g.name
    return f"#{ident}" if name == f"Greenlet-{ident}" else name


class _LineState:
    """The unfinished line, apart from the stream: the stream class has a
    ``__getattr__`` (attribute passthrough), which makes every attribute
    read on it slow; this one's are plain slots (the hot path reads them)."""

    __slots__ = ("owner", "owner_raw", "line", "line_ctx")

    def __init__(self) -> None:
        self.owner: Any = None        # the Greenlet whose line is unfinished
        self.owner_raw: Any = None    # the raw greenlet running it, for the hot path
        self.line: list[str] = []     # that line's pieces so far (prefix in the first)
        self.line_ctx: Any = None     # the owner's context, to write the line from elsewhere


class TaggedStream:
    """A text stream wrapper that prefixes background greenlets' lines.

    The greenlet with an unfinished line is its *owner*: its pieces are
    collected (the hot path of ``print``, which writes each argument,
    separator and end apart) and the wrapped stream gets one ``write`` per
    line, prefix included. Pieces from another background greenlet
    meanwhile are held back, in a copy of that greenlet's context, until the
    owner's line ends. The foreground's writes go straight through (ending
    an unfinished background line first, never mixing into it).
    """

    #: ``write(s)``: a per-instance function (see :meth:`_make_write`).
    write: Callable[[str], int]

    def __init__(self, inner: Any, *, dim: bool = False):
        self.inner = inner
        self._inner_write = inner.write
        self.dim = dim
        self._s = _LineState()
        # greenlet -> [context at the first piece, piece, piece...], held back
        self._partial: dict[Greenlet, list[Any]] = {}
        # greenlet -> (its _name when the prefix was made, prefix); also: the
        # greenlets linked for cleanup
        self._prefixes: dict[Greenlet, tuple[Any, str]] = {}
        self.write = self._make_write()

    def _prefix(self, g: Greenlet) -> str:
        """``g``'s prefix, made again when its name changed since the last one."""
        entry = self._prefixes.get(g)
        # Greenlet.name reads _name; a subclass's own name property is read every time.
        key = g._name if type(g).name is _NAME_PROPERTY else object()
        if entry is not None and entry[0] is key:
            return entry[1]
        tag = f"[{tag_of(g)}]"
        p = f"{_DIM}{tag}{_RESET} " if self.dim else tag + " "
        if entry is None:
            g.rawlink(self._on_finished)
        self._prefixes[g] = (key, p)
        return p

    def _make_write(self) -> Callable[[str], int]:
        """The ``write`` of this stream: a plain function in the instance (no
        method binding per piece), with the hot paths of ``print`` from a
        background greenlet inlined: a piece of the line it owns, the piece
        that ends it, the first piece of a line, and whole lines at a line
        start. Everything else (the foreground, held-back pieces, other
        shapes, bad input) goes to :meth:`_write`."""
        st = self._s
        getcurrent = _raw_getcurrent
        copy_context = _copy_context
        slow = self._write
        inner_write = self._inner_write
        prefixes = self._prefixes
        partial = self._partial

        def write(s: str) -> int:
            raw = getcurrent()
            if type(s) is str and s:
                if raw is st.owner_raw:
                    if raw.task is st.owner:        # a reused worker: not its line
                        if "\n" not in s:
                            st.line.append(s)
                            return len(s)
                        if not partial and s[-1] == "\n" and (s == "\n" or s.count("\n") == 1):
                            line = st.line
                            line.append(s)
                            st.owner = st.owner_raw = st.line_ctx = None
                            st.line = []
                            inner_write("".join(line))
                            return len(s)
                elif st.owner is None:
                    task = getattr(raw, "task", None)      # none: the main greenlet, the hub
                    entry = prefixes.get(task)              # type: ignore[arg-type]
                    if entry is not None and task._name is entry[0]:   # type: ignore[union-attr]
                        if "\n" not in s:
                            st.owner = task
                            st.owner_raw = raw
                            st.line = [entry[1] + s]
                            st.line_ctx = copy_context()
                            return len(s)
                        if not partial and s[-1] == "\n":
                            p = entry[1]
                            if s.count("\n") == 1:
                                inner_write(p + s)
                            else:
                                inner_write(p + s[:-1].replace("\n", "\n" + p) + "\n")
                            return len(s)
            return slow(raw, s)

        return write

    def _write(self, raw: Any, s: str) -> int:
        if type(s) is not str and not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        task = getattr(raw, "task", None)
        if task is None or not isinstance(task, Greenlet):
            # The foreground (main greenlet) or the hub: bare.
            self._end_line()
            n = self._inner_write(s)
            if self._partial:
                self._drain()
            return n  # type: ignore[no-any-return]
        g = task
        owner = self._s.owner
        if owner is not None and owner is not g:
            buf = self._partial.get(g)
            if buf is None:
                self._prefix(g)
                self._partial[g] = [_copy_context(), s]
            else:
                buf.append(s)
            return len(s)
        self._emit(g, raw, s)
        if self._s.owner is None and self._partial:
            self._drain()
        return len(s)

    def _emit(self, g: Greenlet, raw: Any, text: str) -> None:
        """Add ``text`` of ``g`` (which owns the line, or the stream is at a
        line start): complete lines are written, a rest stays ``g``'s line."""
        if not text:
            return
        prefix = self._prefix(g)
        if self._s.owner is g:
            pieces = self._s.line
        else:
            pieces = [prefix]
            self._s.line_ctx = _copy_context()
        *complete, rest = text.split("\n")
        if complete:
            pieces.append(("\n" + prefix).join(complete) + "\n")
            self._inner_write("".join(pieces))
            pieces = [prefix + rest] if rest else []
        elif rest:
            pieces.append(rest)
        if pieces:
            self._s.owner, self._s.owner_raw, self._s.line = g, raw, pieces
            if self._s.line_ctx is None:
                self._s.line_ctx = _copy_context()
        else:
            self._s.owner = self._s.owner_raw = self._s.line_ctx = None
            self._s.line = []

    def _end_line(self) -> None:
        """End the owner's unfinished line (written in its context)."""
        if self._s.owner is None:
            return
        text = "".join(self._s.line) + "\n"
        ctx = self._s.line_ctx
        self._s.owner = self._s.owner_raw = self._s.line_ctx = None
        self._s.line = []
        if ctx is None:
            self._inner_write(text)
        else:
            ctx.run(self._inner_write, text)

    def _drain(self) -> None:
        """The stream is at a line start: write what others held back."""
        while self._s.owner is None and self._partial:
            g, buf = next(iter(self._partial.items()))
            del self._partial[g]
            worker = getattr(g, "_worker", None)
            running = worker is not None and getattr(worker, "task", None) is g
            buf[0].run(self._emit, g, worker if running else None, "".join(buf[1:]))
            if self._s.owner is g:
                self._s.line_ctx = buf[0]

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Write out what is pending: the caller's own unfinished line as it
        is; someone else's only when others wait behind it (ended, then they
        come out)."""
        owner = self._s.owner
        if owner is not None:
            raw = _raw_getcurrent()
            if getattr(raw, "task", None) is owner:
                if self._s.line:
                    self._inner_write("".join(self._s.line))
                    self._s.line = []
            elif self._partial:
                self._end_line()
        if self._partial:
            self._drain()
        self.inner.flush()

    def close_lines(self) -> None:
        """End every unfinished line and write everything held back (unwrapping)."""
        self._end_line()
        for g, buf in list(self._partial.items()):
            text = "".join(buf[1:])
            if text and text[-1] != "\n":
                buf[1:] = [text + "\n"]
        self._drain()
        self._end_line()
        self.inner.flush()

    def _on_finished(self, g: Greenlet) -> None:
        if self._s.owner is g:
            self._end_line()
        buf = self._partial.pop(g, None)
        if buf is not None:
            text = "".join(buf[1:])
            if text and text[-1] != "\n":
                text += "\n"
            self._partial[g] = [buf[0], text]   # complete now: written when the stream is free
        if self._s.owner is None and self._partial:
            self._drain()
        if g not in self._partial:
            self._prefixes.pop(g, None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"<TaggedStream around {self.inner!r}>"


def _make_print(original: Callable[..., None]) -> Callable[..., None]:
    """``print`` while tagging is on: into a :class:`TaggedStream` it writes
    the whole text in one ``write`` (one Python call instead of one per
    argument, separator and end: the per-piece calls were most of tagging's
    cost); anything else goes to the original ``print`` unchanged."""

    def print(*args: Any, sep: Any = " ", end: Any = "\n", file: Any = None,
              flush: bool = False) -> None:
        if file is None:
            file = sys.stdout
        if not isinstance(file, TaggedStream):
            return original(*args, sep=sep, end=end, file=file, flush=flush)
        if sep is None:
            sep = " "
        if end is None:
            end = "\n"
        if type(sep) is not str or type(end) is not str:
            # The original's own error (or a str subclass, written as it would).
            return original(*args, sep=sep, end=end, file=file, flush=flush)
        if len(args) == 1:
            a = args[0]
            file.write((a if type(a) is str else str(a)) + end)
        else:
            file.write(sep.join(map(str, args)) + end)
        if flush:
            file.flush()
        return None

    functools.update_wrapper(print, original)
    print._coopshell_tagging = True  # type: ignore[attr-defined]
    return print


def enable(*, dim: bool | None = None) -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` (once), and put the one-write
    ``print`` in builtins. ``dim`` defaults to whether stdout is a terminal."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, TaggedStream) or stream is None:
            continue
        use_dim = dim
        if use_dim is None:
            isatty = getattr(stream, "isatty", None)
            use_dim = bool(isatty is not None and isatty())
        setattr(sys, name, TaggedStream(stream, dim=use_dim))
    if not getattr(builtins.print, "_coopshell_tagging", False):
        builtins.print = _make_print(builtins.print)


def disable() -> None:
    """Unwrap ``sys.stdout`` and ``sys.stderr``, writing out pending lines,
    and put back the ``print`` that was there (unless someone replaced ours)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, TaggedStream):
            stream.close_lines()
            setattr(sys, name, stream.inner)
    current = builtins.print
    if getattr(current, "_coopshell_tagging", False):
        builtins.print = current.__wrapped__  # type: ignore[attr-defined]


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
