"""What ``io.open`` would be given, checked once: gevent's ``_fileobjectcommon``.

:class:`OpenDescriptor` validates ``io.open``'s arguments (with ``io.open``'s
own error messages, so code that matches them keeps working), knows how to
open the stdlib file object they describe (``opened()``), and how to buffer
and decode a raw stream the same way (``wrap(raw)``). The file objects of
:mod:`coopshell.fileobject` are built on it. :class:`WriteallMixin` adds
``writeall()``: ``write`` until every byte is taken, like ``sendall``.
"""

from __future__ import annotations

import io as _io
import os as _os
from typing import Any

__all__ = ["OpenDescriptor", "WriteallMixin"]

_PATH_TYPES = (str, bytes, _os.PathLike)


class WriteallMixin:
    """``writeall(data)``: call ``write`` until all of ``data`` is written
    (a raw or non-blocking stream may take only part); returns ``len(data)``."""

    __slots__ = ()

    def writeall(self, value) -> int:
        view = memoryview(value).cast("B")
        total = len(view)
        while view:
            written = self.write(view)
            if written is None:  # a non-blocking raw stream that took nothing
                written = 0
            view = view[written:]
        return total


class _WriteallFileIO(WriteallMixin, _io.FileIO):
    """An unbuffered ``FileIO`` that also has ``writeall`` (``atomic_write``)."""

    __slots__ = ()


def _check_mode(mode: str) -> set[str]:
    """``io.open``'s checks on ``mode``, with its messages."""
    chars = set(mode)
    if not chars <= set("rwaxb+tU") or len(mode) != len(chars):
        raise ValueError(f"invalid mode {mode!r}: expected one of r, w, a, x, optionally with + "
                         f"and b or t (as io.open)")
    if "U" in chars:
        if chars & set("wax+"):
            raise ValueError(f"invalid mode {mode!r}: mode U cannot be combined with 'x', 'w', "
                             f"'a', or '+'")
        chars.discard("U")
        chars.add("r")
    if {"b", "t"} <= chars:
        raise ValueError(f"invalid mode {mode!r}: can't have text and binary mode at once")
    count = len(chars & set("rwax"))
    if count > 1:
        raise ValueError(f"invalid mode {mode!r}: must have exactly one of create/read/write/"
                         "append mode (can't have read/write/append mode at once)")
    if count == 0:
        raise ValueError(f"invalid mode {mode!r}: must have exactly one of create/read/write/"
                         f"append mode")
    return chars


class OpenDescriptor:
    """``io.open``'s arguments, checked once: what to wrap, how to open it.

    ``bufsize`` and ``close`` are gevent's older spellings of ``buffering``
    and ``closefd``; ``atomic_write=True`` makes ``opened()`` give an object
    with ``writeall()`` even unbuffered."""

    def __init__(self, fobj: Any, mode: str = "r", buffering: int = -1, closefd: bool | None = None,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None, bufsize: int | None = None,
                 close: bool | None = None, atomic_write: bool = False):
        # gevent's older spellings: bufsize= and close=
        if bufsize is not None:
            buffering = bufsize
        if close is not None:
            closefd = close
        if not isinstance(mode, str):
            raise TypeError(f"mode must be a str such as 'rb', got {mode!r}")
        if not isinstance(buffering, int) or isinstance(buffering, bool):
            raise TypeError(f"buffering must be an int, got {buffering!r}")
        if encoding is not None and not isinstance(encoding, str):
            raise TypeError(f"invalid encoding: {encoding!r} (expected a str or None)")
        if errors is not None and not isinstance(errors, str):
            raise TypeError(f"invalid errors: {errors!r} (expected a str or None)")
        chars = _check_mode(mode)
        self.mode = mode
        self.binary = "b" in chars
        if self.binary:
            for arg, value, article in (("encoding", encoding, "an"), ("errors", errors, "an"),
                                        ("newline", newline, "a")):
                if value is not None:
                    raise ValueError(f"binary mode doesn't take {article} {arg} argument "
                                     f"(got {arg}={value!r})")
        self.atomic_write = bool(atomic_write)
        self.readable = "r" in chars or "+" in chars
        self.writable = bool(chars & set("wax+"))
        self.buffering = buffering
        self.encoding, self.errors, self.newline = encoding, errors, newline
        self.fobj = fobj
        if isinstance(fobj, _PATH_TYPES):
            if closefd is False:
                raise ValueError("closefd=False needs a file descriptor or a file object, "
                                 f"not a path ({fobj!r})")
            closefd = True
        elif not (isinstance(fobj, int) or callable(getattr(fobj, "fileno", None))):
            raise TypeError("FileObject expected a file descriptor (int), an object with "
                            f"fileno() or a path, got {fobj!r}")
        elif isinstance(fobj, bool) or (isinstance(fobj, int) and fobj < 0):
            raise ValueError(f"FileObject expected a non-negative file descriptor, got {fobj!r}")
        self.closefd = True if closefd is None else bool(closefd)

    def raw_mode(self) -> str:
        """The mode for a raw ``io.FileIO`` (no b/t)."""
        return "".join(c for c in self.mode if c in "rwax+") + "b"

    def opened(self):
        """The stdlib file object ``io.open`` would give for these arguments
        (with ``writeall()`` when ``atomic_write`` and unbuffered binary)."""
        if (self.atomic_write and self.binary and self.buffering == 0
                and isinstance(self.fobj, (int,) + _PATH_TYPES)):
            if isinstance(self.fobj, int):
                return _WriteallFileIO(self.fobj, self.raw_mode(), closefd=self.closefd)
            return _WriteallFileIO(self.fobj, self.raw_mode())
        return self.open_stdlib()[0]

    def open_stdlib(self):
        """``(file, owner)``: the stdlib file object ``io.open`` would give
        (for the thread and blocking flavours), and the object that closing
        it must also close (or None)."""
        fobj = self.fobj
        if isinstance(fobj, _io.IOBase):
            return fobj, None                       # already a file object: wrapped as is
        if isinstance(fobj, _PATH_TYPES):
            return _io.open(fobj, self.mode, self.buffering, self.encoding, self.errors,
                            self.newline), None
        if isinstance(fobj, int):
            return _io.open(fobj, self.mode, self.buffering, self.encoding, self.errors,
                            self.newline, closefd=self.closefd), None
        opened = _io.open(fobj.fileno(), self.mode, self.buffering, self.encoding, self.errors,
                          self.newline, closefd=False)
        return opened, (fobj if self.closefd else None)

    def wrap(self, raw):
        """Buffer and decode ``raw`` as ``io.open`` would for this mode."""
        buffering = self.buffering
        line_buffering = False
        if buffering == 1 and not self.binary:
            buffering, line_buffering = -1, True
        if buffering < 0:
            buffering = _io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if not self.binary:
                raise ValueError("can't have unbuffered text I/O")
            return raw
        if self.readable and self.writable:
            buffer = (_io.BufferedRandom(raw, buffering) if raw.seekable()
                      else _io.BufferedRWPair(raw, raw, buffering))
        elif self.writable:
            buffer = _io.BufferedWriter(raw, buffering)
        else:
            buffer = _io.BufferedReader(raw, buffering)
        if self.binary:
            return buffer
        text = _io.TextIOWrapper(buffer, self.encoding, self.errors, self.newline, line_buffering)
        text.mode = self.mode
        return text
