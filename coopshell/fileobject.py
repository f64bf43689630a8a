"""Cooperative file objects (gevent's ``gevent.fileobject``).

``io.open``'s signature and file API, in three flavours:

- ``FileObjectPosix``: the fd is made non-blocking and every read or write
  that would block waits in the hub instead (``os.read``/``os.write`` retried
  on ``EAGAIN``). Right for pipes, ttys, FIFOs and sockets. A regular file is
  always "ready" for the kernel, so its I/O still blocks (briefly) on disk.
- ``FileObjectThread``: every blocking call runs in the hub's thread pool;
  works for any file, including regular files on slow disks.
- ``FileObjectBlock``: plain blocking calls (for tests and debugging).

``FileObject`` is ``FileObjectPosix`` where ``fcntl`` exists, else
``FileObjectThread`` (gevent's default order); ``COOPSHELL_FILE`` set to
``posix``, ``thread`` or ``block`` (or a dotted class name) when this module
is first imported picks another, as ``GEVENT_FILE`` does in gevent.

Differs from gevent: a greenlet waiting to read or write a
``FileObjectPosix`` that another greenlet closes gets ``OSError(EBADF)``
instead of waiting forever; closing with ``closefd=False`` puts the fd back
in the blocking mode it had.
"""

from __future__ import annotations

import functools as _functools
import importlib as _importlib
import io as _io
import os as _os
from errno import EBADF as _EBADF, ESPIPE as _ESPIPE
from typing import Any

from ._core.hub import get_hub
from ._core.io_wait import cancel_wait as _cancel_wait, cancel_wait_error, wait_io
from ._core.loop import READ, WRITE, _get_ident
from ._fileobjectcommon import _PATH_TYPES, OpenDescriptor as _Descriptor, WriteallMixin
from .lock import DummySemaphore, Semaphore

try:
    import fcntl as _fcntl  # noqa: F401  (only its presence matters)
except ImportError:  # pragma: no cover - not POSIX
    _fcntl = None

__all__ = ["FileObjectPosix", "FileObjectThread", "FileObjectBlock", "FileObject",
           "FileObjectClosed"]

_read, _write, _readv = _os.read, _os.write, getattr(_os, "readv", None)
_get_blocking, _set_blocking = _os.get_blocking, _os.set_blocking
_close = _os.close


def _fd_identity(fd: int) -> tuple[int, int] | None:
    """What ``fd`` names (device, inode), or None if it is not open."""
    try:
        st = _os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class FileObjectClosed(OSError):
    """Raised when a closed ``FileObject`` is used (gevent's name)."""

    def __init__(self) -> None:
        super().__init__(_EBADF, "Bad file descriptor (FileObject was closed)")


class _FileObjectBase:
    """What the three flavours share: the wrapped ``io`` object, delegation,
    ``close``, the context manager and the repr."""

    _io: Any = None

    def __init__(self, io_obj, descriptor: _Descriptor, owner: Any = None):
        self._io = io_obj
        self._close = descriptor.closefd      # gevent keeps the flag under this name
        self._descriptor = descriptor
        self._owner = owner                   # closed after io_obj (an object given by fileno())

    @property
    def io(self):
        """The wrapped ``io`` object (gevent's attribute)."""
        return self._io

    @property
    def closed(self) -> bool:
        return self._io is None or self._io.closed

    @property
    def name(self) -> Any:
        """What ``io.open`` names the file: the fd or the path as given, else
        the wrapped object's own ``name`` (AttributeError if it has none, as
        gevent). Still there after ``close()``."""
        fobj = self._descriptor.fobj
        if isinstance(fobj, (int,) + _PATH_TYPES):
            return fobj
        return fobj.name

    def close(self) -> None:
        """Flush and close; closing again does nothing."""
        io_obj, self._io = self._io, None
        if io_obj is not None:
            self._do_close(io_obj)

    def _do_close(self, io_obj) -> None:
        self._finish_close(io_obj)

    def _finish_close(self, io_obj) -> None:
        """Close ``io_obj``, or only flush it if it is a file object we were
        given with ``closefd=False``; then the object it came from."""
        owner, self._owner = self._owner, None
        try:
            if isinstance(self._descriptor.fobj, _io.IOBase) and not self._close:
                if not io_obj.closed:
                    io_obj.flush()
            else:
                io_obj.close()
        finally:
            if owner is not None:
                owner.close()

    def _live(self):
        io_obj = self._io
        if io_obj is None:
            raise FileObjectClosed()
        return io_obj

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_io", "_descriptor", "_owner"):
            raise AttributeError(name)
        if name == "name":  # the property raised: the wrapped object has no name
            raise AttributeError(f"{type(self).__name__} wraps {self._descriptor.fobj!r}, "
                                 f"which has no 'name'")
        return getattr(self._live(), name)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __enter__(self):
        self._live()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._io is None else repr(self._io)
        return f"<{type(self).__name__} at {id(self):#x} {state}>"


class _GreenFD(WriteallMixin, _io.RawIOBase):
    """A raw, non-blocking fd whose reads and writes wait in the hub."""

    def __init__(self, fd: int, descriptor: _Descriptor, keep_alive: Any = None):
        super().__init__()
        self._fd = fd
        self._closefd = descriptor.closefd
        self._keep_alive = keep_alive            # the object whose fileno() we use
        self._readable, self._writable = descriptor.readable, descriptor.writable
        self.name = fd
        self.mode = descriptor.mode
        self._identity = _fd_identity(fd)      # to notice the number reused by another file
        self._was_blocking = _get_blocking(fd)
        if self._was_blocking:
            _set_blocking(fd, False)
        self._hub = None
        self._rw = self._ww = None

    # -- state -------------------------------------------------------------------------
    def fileno(self) -> int:
        self._checkClosed()
        return self._fd

    def readable(self) -> bool:
        self._checkClosed()
        return self._readable

    def writable(self) -> bool:
        self._checkClosed()
        return self._writable

    def seekable(self) -> bool:
        self._checkClosed()
        try:
            _os.lseek(self._fd, 0, _os.SEEK_CUR)
        except OSError as exc:
            if exc.errno == _ESPIPE:
                return False
            raise
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._checkClosed()
        return _os.lseek(self._fd, offset, whence)

    def tell(self) -> int:
        return self.seek(0, _os.SEEK_CUR)

    def isatty(self) -> bool:
        self._checkClosed()
        return _os.isatty(self._fd)

    # -- waiting -----------------------------------------------------------------------
    def _wait(self, events: int) -> None:
        hub = get_hub()
        if hub is not self._hub:
            self._drop_watchers()
            self._hub = hub
        w = self._rw if events == READ else self._ww
        if w is None:
            w = hub.loop.io(self._fd, events)
            if events == READ:
                self._rw = w
            else:
                self._ww = w
        wait_io(hub, w)
        if self.closed:
            raise FileObjectClosed()

    def _drop_watchers(self) -> None:
        for w in (self._rw, self._ww):
            if w is not None and w.callback is not None:
                _cancel_wait(w, cancel_wait_error())
        self._rw = self._ww = None

    # -- I/O ---------------------------------------------------------------------------
    def readinto(self, b) -> int:
        self._checkClosed()
        if not self._readable:
            raise _io.UnsupportedOperation("read")
        while True:
            try:
                if _readv is not None:
                    return _readv(self._fd, [b])
                data = _read(self._fd, len(b))
                b[:len(data)] = data
                return len(data)
            except BlockingIOError:
                pass
            self._wait(READ)

    def readall(self) -> bytes:
        chunks = []
        while True:
            self._checkClosed()
            try:
                chunk = _read(self._fd, _io.DEFAULT_BUFFER_SIZE * 8)
            except BlockingIOError:
                self._wait(READ)
                continue
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def write(self, b) -> int:
        self._checkClosed()
        if not self._writable:
            raise _io.UnsupportedOperation("write")
        while True:
            try:
                return _write(self._fd, b)
            except BlockingIOError:
                pass
            self._wait(WRITE)

    def close(self) -> None:
        """Close the fd (if ``closefd``). If the fd was closed behind this
        object's back and its number now names another file (a later
        ``os.pipe()``, ``open()``, socket), that file is left alone and
        OSError(EBADF) says so: closing it, or cancelling its waiters,
        would break whoever owns it now (late closes from a finalizer are
        the usual way)."""
        if self.closed:
            return
        fd = self._fd
        reused = (self._closefd and self._keep_alive is None
                  and _fd_identity(fd) not in (None, self._identity))
        try:
            super().close()           # flushes nothing: raw; marks closed
        finally:
            self._fd = -1
            hub = self._hub
            self._drop_watchers()
            keep, self._keep_alive = self._keep_alive, None
            if reused:
                raise OSError(_EBADF, f"fd {fd} was closed behind this FileObject's back and "
                                      f"now names another file; that file is left open")
            if hub is not None and hub.loop.thread_ident == _get_ident() and not hub.loop.closed:
                hub.loop.closing_fd(fd)
            if self._closefd:
                if keep is not None and callable(getattr(keep, "close", None)):
                    keep.close()
                else:
                    _close(fd)
            elif self._was_blocking:
                try:
                    _set_blocking(fd, True)
                except OSError:
                    pass


class FileObjectPosix(_FileObjectBase):
    """``io.open(fobj, mode, ...)`` on a non-blocking fd: reads and writes
    that would block wait in the hub. ``fobj`` is an fd, an object with
    ``fileno()`` (kept open as long as this object, closed with it if
    ``closefd``), or a path."""

    def __init__(self, fobj: Any, mode: str = "r", buffering: int = -1,
                 closefd: bool | None = None, encoding: str | None = None,
                 errors: str | None = None, newline: str | None = None, **kwargs: Any):
        d = _Descriptor(fobj, mode, buffering, closefd, encoding, errors, newline, **kwargs)
        keep = None
        if isinstance(fobj, _PATH_TYPES):
            keep = _io.FileIO(fobj, d.raw_mode())
            fd = keep.fileno()
        elif isinstance(fobj, int):
            fd = fobj
        else:
            keep = fobj
            fd = fobj.fileno()
        raw = _GreenFD(fd, d, keep)
        super().__init__(d.wrap(raw), d)
        self.fileio = raw


class FileObjectThread(_FileObjectBase):
    """``io.open(fobj, mode, ...)`` whose blocking calls each run in a thread
    pool (``threadpool``, default: the hub's). ``lock=True`` (the default)
    runs them one at a time; pass a ``Semaphore`` to share one, or False."""

    _BLOCKING = frozenset({"read", "read1", "readinto", "readinto1", "readline", "readlines",
                           "readall", "write", "writelines", "flush", "seek", "tell",
                           "truncate"})

    def __init__(self, fobj: Any, mode: str = "r", buffering: int = -1,
                 closefd: bool | None = None, encoding: str | None = None,
                 errors: str | None = None, newline: str | None = None, *,
                 lock: Any = True, threadpool: Any = None, **kwargs: Any):
        d = _Descriptor(fobj, mode, buffering, closefd, encoding, errors, newline, **kwargs)
        if lock is True:
            lock = Semaphore()
        elif lock is False or lock is None:
            lock = DummySemaphore()
        elif not (hasattr(lock, "__enter__") and hasattr(lock, "__exit__")):
            raise TypeError(f"lock must be True, False or a Semaphore, got {lock!r}")
        self.lock = lock
        self.threadpool = threadpool if threadpool is not None else get_hub().threadpool
        io_obj, owner = d.open_stdlib()
        super().__init__(io_obj, d, owner)

    def __getattr__(self, name):
        attr = super().__getattr__(name)
        if name in self._BLOCKING:
            return self._in_thread(name)
        return attr

    def _in_thread(self, name):
        def call(*args, **kwargs):
            method = getattr(self._live(), name)
            with self.lock:
                return self.threadpool.apply(method, args, kwargs)
        return _functools.update_wrapper(call, getattr(type(self._live()), name, call))

    def _do_close(self, io_obj) -> None:
        with self.lock:
            self.threadpool.apply(self._finish_close, (io_obj,))


class FileObjectBlock(_FileObjectBase):
    """``io.open(fobj, mode, ...)`` with plain blocking calls: blocks the
    whole thread. For tests and debugging."""

    def __init__(self, fobj: Any, mode: str = "r", buffering: int = -1,
                 closefd: bool | None = None, encoding: str | None = None,
                 errors: str | None = None, newline: str | None = None, **kwargs: Any):
        d = _Descriptor(fobj, mode, buffering, closefd, encoding, errors, newline, **kwargs)
        io_obj, owner = d.open_stdlib()
        super().__init__(io_obj, d, owner)


_SHORT_NAMES = {"posix": FileObjectPosix, "thread": FileObjectThread, "block": FileObjectBlock}


def _choose() -> type:
    """``COOPSHELL_FILE``'s choice, else posix where fcntl exists, else thread."""
    choice = _os.environ.get("COOPSHELL_FILE", "").strip()
    if not choice:
        return FileObjectPosix if _fcntl is not None else FileObjectThread
    if choice.lower() in _SHORT_NAMES:
        return _SHORT_NAMES[choice.lower()]
    module, _, name = choice.rpartition(".")
    try:
        return getattr(_importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ImportError(f"COOPSHELL_FILE={choice!r}: expected posix, thread, block or a "
                          f"dotted class name such as mypkg.MyFileObject ({exc})") from None


FileObject = _choose()
