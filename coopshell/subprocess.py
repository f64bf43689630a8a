"""Cooperative ``subprocess``: children are waited for and talked to without
blocking the hub.

``Popen`` is a subclass of the stdlib's. Differs from the stdlib:

- ``wait(timeout)`` waits cooperatively (a pidfd watched by the loop on
  Linux; see ``coopshell.os.wait_child`` for the fallbacks) and raises
  ``subprocess.TimeoutExpired``; ``poll()`` is the stdlib's (never blocks).
- ``communicate(input, timeout)`` moves data through the pipes with loop I/O
  watchers; after a ``TimeoutExpired`` it can be called again and goes on
  where it stopped, as in the stdlib. ``run``, ``call``, ``check_call``,
  ``check_output``, ``getoutput`` and ``getstatusoutput`` use this Popen.
- ``proc.stdin``/``stdout``/``stderr`` are the usual buffered (or text)
  file objects, but over a cooperative raw pipe: ``read()``, ``readline()``,
  iteration and ``write()`` wait in the hub instead of blocking the thread.
  The pipe fds are therefore non-blocking: code that calls ``os.read`` on
  ``proc.stdout.fileno()`` directly gets ``BlockingIOError`` when it is empty.
- Still blocking, briefly: the fork/exec itself (the stdlib reads the exec
  error pipe until the child has exec'd, typically well under 10 ms).
"""

from __future__ import annotations

import io as _io
import subprocess as _std
from time import monotonic as _monotonic
from typing import Any

from ._core.exceptions import TIMED_OUT, InvalidSwitchError, check_can_block
from ._core.hub import get_hub, get_hub_if_exists, sleep as _sleep
from ._core.loop import READ, WRITE
from ._core.waiter import check_timeout as _check_timeout, park
from .event import AsyncResult
from .greenlet import spawn as _spawn
from .os import _read as _os_read, _write as _os_write, make_nonblocking, wait_child, wait_fd

__implements__ = ["Popen", "call", "check_call", "check_output", "run", "getoutput", "getstatusoutput"]
__extensions__: list[str] = []
# Stdlib callables reviewed to never block: plain data classes.
_REVIEWED = {"CompletedProcess"}


def _is_constant_or_exception(obj) -> bool:
    return not callable(obj) or (isinstance(obj, type) and issubclass(obj, BaseException))


__imports__ = [n for n in _std.__all__ if n not in __implements__
               and (n in _REVIEWED or _is_constant_or_exception(getattr(_std, n)))]
globals().update({n: getattr(_std, n) for n in __imports__})
__all__ = __implements__ + __imports__ + __extensions__

PIPE = _std.PIPE
STDOUT = _std.STDOUT
DEVNULL = _std.DEVNULL
CalledProcessError = _std.CalledProcessError
TimeoutExpired = _std.TimeoutExpired
CompletedProcess = _std.CompletedProcess
SubprocessError = _std.SubprocessError

_CHUNK = 32768


class _PipeIO(_io.RawIOBase):
    """Raw I/O on the parent's end of a pipe: the fd is non-blocking and
    reads/writes wait cooperatively for readiness."""

    def __init__(self, fileio: _io.FileIO):
        super().__init__()
        self._file = fileio
        self._fd = fileio.fileno()
        make_nonblocking(self._fd)

    @property
    def name(self):
        return self._file.name

    @property
    def mode(self):
        return self._file.mode

    def fileno(self) -> int:
        return self._fd

    def readable(self) -> bool:
        return self._file.readable()

    def writable(self) -> bool:
        return self._file.writable()

    def isatty(self) -> bool:
        return False

    def readinto(self, buffer) -> int:
        while True:
            n = self._file.readinto(buffer)   # None: would block
            if n is not None:
                return n
            wait_fd(self._fd, READ)

    def write(self, data) -> int:
        while True:
            n = self._file.write(data)        # None: would block
            if n is not None:
                return n
            wait_fd(self._fd, WRITE)

    def close(self) -> None:
        if not self.closed:
            hub = get_hub_if_exists()
            if hub is not None:
                hub.loop.closing_fd(self._fd)
            self._file.close()
        super().close()


def _close_pipe(f: Any) -> None:
    """``f.close()``; when another greenlet of this thread is inside ``f``
    (the buffered object's lock is held: "reentrant call"), close the raw
    pipe under it, which cancels that greenlet's wait on the fd."""
    if f is None:
        return
    try:
        f.close()
    except RuntimeError:
        raw = getattr(f, "buffer", f)
        raw = getattr(raw, "raw", raw)
        if not isinstance(raw, _PipeIO):
            raise
        raw.close()


def _cooperative_file(f, bufsize):
    """Rebuild the stdlib's pipe file object ``f`` over a ``_PipeIO``."""
    text = None
    if isinstance(f, _io.TextIOWrapper):
        text = dict(encoding=f.encoding, errors=f.errors, line_buffering=f.line_buffering,
                    write_through=f.write_through)
        f = f.detach()
    if isinstance(f, _io.FileIO):
        obj = _PipeIO(f)
    else:
        raw = _PipeIO(f.detach())
        size = bufsize if bufsize > 1 else _io.DEFAULT_BUFFER_SIZE
        obj = _io.BufferedReader(raw, size) if raw.readable() else _io.BufferedWriter(raw, size)
    if text is not None:
        obj = _io.TextIOWrapper(obj, **text)
    return obj


class Popen(_std.Popen):
    """``subprocess.Popen`` whose waits and pipe I/O are cooperative.

    ``rawlink(callback)`` calls ``callback(self)`` in the hub once the child
    has exited, so ``coopshell.wait()``/``iwait()`` accept a Popen (gevent's API).
    """

    text_mode: Any   # set by the stdlib's __init__ (encoding or errors or text or universal_newlines)

    def __init__(self, args, bufsize: int = -1, *more: Any, **kwargs: Any):
        super().__init__(args, bufsize, *more, **kwargs)
        self._coop_state = None
        self._exited: AsyncResult | None = None
        self._links_map: dict[Any, Any] = {}
        # gevent's record of the reader greenlets communicate() spawned: this
        # communicate() moves the data in the calling greenlet, so never any
        self._communicating_greenlets = None
        for name in ("stdin", "stdout", "stderr"):
            f = getattr(self, name)
            if f is not None:
                setattr(self, name, _cooperative_file(f, bufsize))

    def __exit__(self, exc_type: Any, value: Any, traceback: Any) -> None:
        """The stdlib's: close the pipes, then reap the child. A pipe that
        another greenlet is parked in (``proc.stdout.read()`` in a reader
        greenlet) is closed under it instead of raising the buffered
        object's ``RuntimeError: reentrant call``: the parked greenlet's
        wait ends with the closed-fd error, and the child is still reaped."""
        _close_pipe(self.stdout)
        _close_pipe(self.stderr)
        try:
            _close_pipe(self.stdin)
        finally:
            if exc_type is KeyboardInterrupt:
                # as the stdlib: a short grace wait for the child, once
                if self._sigint_wait_secs > 0:
                    try:
                        self._wait(timeout=self._sigint_wait_secs)
                    except TimeoutExpired:
                        pass
                self._sigint_wait_secs = 0
            else:
                self.wait()

    def rawlink(self, callback: Any) -> None:
        """Call ``callback(self)`` in the hub when the child exits."""
        if not callable(callback):
            raise TypeError(f"Expected callable: {callback!r}")
        exited = self._exited
        if exited is None:
            exited = self._exited = AsyncResult()
            if self.returncode is not None:
                exited.set(self.returncode)
            else:
                _spawn(self._watch_exit, exited)
        wrapper = self._links_map.get(callback)
        if wrapper is None:
            def wrapper(_result: Any, callback: Any = callback) -> None:
                callback(self)
            self._links_map[callback] = wrapper
        exited.rawlink(wrapper)

    def unlink(self, callback: Any) -> None:
        wrapper = self._links_map.pop(callback, None)
        if wrapper is not None and self._exited is not None:
            self._exited.unlink(wrapper)

    def _watch_exit(self, exited: AsyncResult) -> None:
        try:
            exited.set(self.wait())
        except BaseException as exc:  # pragma: no cover - wait() itself failed
            exited.set_exception(exc)

    def _wait(self, timeout):
        # Called by the stdlib's wait() (and so by __exit__).
        if self.returncode is not None:
            return self.returncode
        timeout = _check_timeout(timeout)
        deadline = None if timeout is None else _monotonic() + timeout
        while self.poll() is None:
            if deadline is None:
                exited = wait_child(self.pid)
            else:
                remaining = deadline - _monotonic()
                exited = remaining > 0 and wait_child(self.pid, remaining)
                if not exited:
                    if self.poll() is None:
                        raise TimeoutExpired(self.args, timeout)
                    break
            if exited and self.returncode is None and self.poll() is None:
                _sleep(0.001)  # another thread holds the waitpid lock: let it reap
        return self.returncode

    def communicate(self, input: Any = None, timeout: float | None = None):
        """Send ``input``, read stdout/stderr to EOF and wait for the child,
        all cooperatively; returns ``(stdout, stderr)``."""
        if self._communication_started and input:
            raise ValueError("Cannot send input after starting communication")
        timeout = _check_timeout(timeout)
        endtime = None if timeout is None else _monotonic() + timeout
        try:
            stdout, stderr = self._coop_communicate(input, endtime, timeout)
        finally:
            self._communication_started = True
        remaining = None if endtime is None else endtime - _monotonic()
        try:
            self.wait(timeout=remaining)
        except TimeoutExpired:
            raise TimeoutExpired(self.args, timeout) from None
        return stdout, stderr

    def _coop_communicate(self, input, endtime, orig_timeout):
        stdin = self.stdin
        if stdin is not None and not self._communication_started:
            try:
                stdin.flush()
            except BrokenPipeError:
                pass
            if not input:
                try:
                    stdin.close()
                except BrokenPipeError:
                    pass
        state = self._coop_state
        if state is None:
            outputs = {}
            for f in (self.stdout, self.stderr):
                if f is not None and not f.closed:
                    outputs[f] = []
            data = None
            if input and stdin is not None:
                if self.text_mode:
                    input = input.encode(stdin.encoding, stdin.errors)
                data = memoryview(input).cast("B")
            state = self._coop_state = {"outputs": outputs, "input": data, "offset": 0}
        outputs = state["outputs"]
        readers = {f.fileno(): (f, chunks) for f, chunks in outputs.items() if not f.closed}
        writing = state["input"] is not None and stdin is not None and not stdin.closed
        watchers = {}
        hub = loop = None
        try:
            while True:
                for fd, (f, chunks) in list(readers.items()):
                    while True:
                        try:
                            data = _os_read(fd, _CHUNK)
                        except BlockingIOError:
                            break
                        if not data:
                            w = watchers.pop(fd, None)
                            if w is not None:
                                w.stop()
                            del readers[fd]
                            f.close()
                            break
                        chunks.append(data)
                if writing:
                    writing = self._coop_write_some(state, watchers)
                if not readers and not writing:
                    break
                if hub is None:
                    hub = get_hub()
                    loop = hub.loop
                    cur = check_can_block(hub)
                for fd in readers:
                    if fd not in watchers:
                        w = watchers[fd] = loop.io(fd, READ)
                        w.start(cur.switch, w)
                if writing:
                    fd = stdin.fileno()
                    if fd not in watchers:
                        w = watchers[fd] = loop.io(fd, WRITE)
                        w.start(cur.switch, w)
                result = park(hub, cur, None if endtime is None else endtime - _monotonic())
                if result is TIMED_OUT:
                    raise TimeoutExpired(self.args, orig_timeout,
                                         output=b"".join(outputs[self.stdout]) if self.stdout in outputs else None,
                                         stderr=b"".join(outputs[self.stderr]) if self.stderr in outputs else None)
                if result not in watchers.values():
                    raise InvalidSwitchError(f"Invalid switch into {cur!r} during communicate(): got {result!r}")
        finally:
            for w in watchers.values():
                w.stop()
        out = self._coop_result(outputs, self.stdout)
        err = self._coop_result(outputs, self.stderr)
        return out, err

    def _coop_write_some(self, state, watchers) -> bool:
        """Write what the stdin pipe takes now; False once all is sent (or the
        child closed its end) and stdin is closed."""
        stdin = self.stdin
        data = state["input"]
        fd = stdin.fileno()
        try:
            while state["offset"] < len(data):
                state["offset"] += _os_write(fd, data[state["offset"]:state["offset"] + _CHUNK])
        except BlockingIOError:
            return True
        except BrokenPipeError:
            pass
        w = watchers.pop(fd, None)
        if w is not None:
            w.stop()
        try:
            stdin.close()
        except BrokenPipeError:
            pass
        return False

    def _coop_result(self, outputs, f):
        if f is None or f not in outputs:
            return None
        data = b"".join(outputs[f])
        if self.text_mode:
            data = data.decode(f.encoding, f.errors).replace("\r\n", "\n").replace("\r", "\n")
        return data


def run(*popenargs: Any, input: Any = None, capture_output: bool = False, timeout: float | None = None,
        check: bool = False, **kwargs: Any) -> CompletedProcess:
    """``subprocess.run`` on the cooperative Popen."""
    if input is not None:
        if kwargs.get("stdin") is not None:
            raise ValueError("stdin and input arguments may not both be used.")
        kwargs["stdin"] = PIPE
    if capture_output:
        if kwargs.get("stdout") is not None or kwargs.get("stderr") is not None:
            raise ValueError("stdout and stderr arguments may not be used with capture_output.")
        kwargs["stdout"] = kwargs["stderr"] = PIPE
    timeout = _check_timeout(timeout)   # before the child exists: a bad value leaves none behind
    with Popen(*popenargs, **kwargs) as process:
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except TimeoutExpired:
            process.kill()
            process.wait()
            raise
        except BaseException:
            process.kill()
            raise
        retcode = process.poll()
        if check and retcode:
            raise CalledProcessError(retcode, process.args, output=stdout, stderr=stderr)
    return CompletedProcess(process.args, retcode, stdout, stderr)


def call(*popenargs: Any, timeout: float | None = None, **kwargs: Any) -> int:
    """``subprocess.call``: run, wait cooperatively, return the exit code."""
    timeout = _check_timeout(timeout)
    with Popen(*popenargs, **kwargs) as p:
        try:
            return p.wait(timeout=timeout)
        except BaseException:
            p.kill()
            raise


def check_call(*popenargs: Any, **kwargs: Any) -> int:
    """``subprocess.check_call``: ``call``, raising CalledProcessError on a non-zero code."""
    retcode = call(*popenargs, **kwargs)
    if retcode:
        cmd = kwargs.get("args")
        if cmd is None:
            cmd = popenargs[0]
        raise CalledProcessError(retcode, cmd)
    return 0


def check_output(*popenargs: Any, timeout: float | None = None, **kwargs: Any) -> Any:
    """``subprocess.check_output`` on the cooperative ``run``."""
    if "stdout" in kwargs:
        raise ValueError("stdout argument not allowed, it will be overridden.")
    if "input" in kwargs and kwargs["input"] is None:
        text = (kwargs.get("universal_newlines") or kwargs.get("text") or kwargs.get("encoding")
                or kwargs.get("errors"))
        kwargs["input"] = "" if text else b""
    return run(*popenargs, stdout=PIPE, timeout=timeout, check=True, **kwargs).stdout


def getstatusoutput(cmd: Any, *, encoding: str | None = None, errors: str | None = None) -> tuple[int, str]:
    """``subprocess.getstatusoutput``: (exit code, output without the last newline)."""
    try:
        data = check_output(cmd, shell=True, text=True, stderr=STDOUT, encoding=encoding, errors=errors)
        exitcode = 0
    except CalledProcessError as ex:
        data = ex.output
        exitcode = ex.returncode
    if data[-1:] == "\n":
        data = data[:-1]
    return exitcode, data


def getoutput(cmd: Any, *, encoding: str | None = None, errors: str | None = None) -> str:
    """``subprocess.getoutput``: the output of ``cmd`` run by the shell."""
    return getstatusoutput(cmd, encoding=encoding, errors=errors)[1]
