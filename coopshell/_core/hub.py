"""The hub: one greenlet per thread that runs the loop.

A greenlet that must wait registers a wakeup (usually its own ``switch``) with
whatever it waits for, switches to the hub, and removes the wakeup in a
``finally`` when it resumes, however it resumes. Following that one rule
everywhere is what makes spurious wakeups impossible without allocating a
waiter object per wait.

The hub's parent is its thread's main greenlet. Errors that must reach the
user (``KeyboardInterrupt``, ``SystemExit``) are thrown into the parent; the
hub itself keeps running. When the parent waits and the loop has nothing
left that could wake it, the parent gets ``LoopExit`` naming what it waited on.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from types import TracebackType

from greenlet import GreenletExit, getcurrent as _getcurrent, greenlet

from . import sigint
from .exceptions import (BLOCKING_MESSAGE, TIMED_OUT, BlockingSwitchOutError, HubDestroyed,
                         InvalidSwitchError, LoopExit, check_can_block)
from .frames import describe_wait
from .io_wait import cancel_wait
from .loop import Loop
from .park import park

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: ``typing`` costs ~9 ms of a cold import
    from typing import Any, Callable, TextIO

__all__ = ["Hub", "get_hub", "get_hub_if_exists", "set_hub", "sleep", "idle", "reinit",
           "wait_on_watcher", "set_threadpool_factory", "TIMED_OUT", "BLOCKING_MESSAGE",
           "check_can_block"]

#: Makes a hub's default thread pool: ``factory(hub) -> pool``. The io layer
#: (``coopshell.threadpool``) registers it at import; the core never imports upward.
_threadpool_factory: Callable[[Any], Any] | None = None


def set_threadpool_factory(factory: Callable[[Any], Any]) -> None:
    """Register what ``Hub.threadpool`` calls to make a hub's default pool."""
    global _threadpool_factory
    _threadpool_factory = factory

_ThreadLocal = threading.local   # the original, even if threading is patched later
_tls = _ThreadLocal()
_get_ident = threading.get_ident  # the real one: patch_thread makes it per-greenlet
_main_ident = threading.main_thread().ident
_hub_idents = itertools.count(1)
_enumerate_threads = threading.enumerate   # the original (LoopExit messages)


def _root_greenlet() -> Any:
    g = _getcurrent()
    while g.parent is not None:
        g = g.parent
    return g


class Hub(greenlet):  # type: ignore[misc]  # greenlet ships no type information
    """Runs the loop; every blocking call switches here."""

    #: Exceptions forwarded to the parent (main) greenlet instead of printed.
    SYSTEM_ERROR = (KeyboardInterrupt, SystemExit, SystemError)
    #: Exceptions that end a greenlet without being an error.
    NOT_ERROR = (GreenletExit, SystemExit)

    loop_class = Loop

    #: gevent's blocking-monitor thread of this hub, or None when none runs.
    #: coopshell has no such per-hub thread (its blocked-hub detector is
    #: ``coopshell.interactive.watchdog``); the attribute says so to code
    #: that checks it.
    periodic_monitoring_thread: Any = None

    def __init__(self, loop: Loop | None = None) -> None:
        greenlet.__init__(self, parent=_root_greenlet())
        self.loop = loop if loop is not None else self.loop_class()
        self.loop.handle_error = self._report_error  # type: ignore[method-assign]  # the hub's policy
        self.thread_ident = _get_ident()
        self._exception_stream: TextIO | None = None
        self._destroyed = False
        self.workers: list[Any] = []   # idle worker greenlets, reused by coopshell.greenlet
        self._threadpool: Any = None
        if self.thread_ident == _main_ident:
            sigint.install(self)

    @property
    def minimal_ident(self) -> int:
        """A small number unique among this process's hubs (gevent's hubs
        have one, as greenlets do)."""
        i: int | None = self.__dict__.get("_minimal_ident")
        if i is None:
            i = self.__dict__["_minimal_ident"] = next(_hub_idents)
        return i

    # -- the default thread pool -------------------------------------------------

    @property
    def threadpool(self) -> Any:
        """This hub's default ``coopshell.threadpool.ThreadPool``, made on first use
        by the factory the io layer registered (``set_threadpool_factory``)."""
        pool = self._threadpool
        if pool is None:
            if _threadpool_factory is None:
                raise RuntimeError("no thread pool is registered with the hub: import "
                                   "coopshell.threadpool (it registers the default pool), or "
                                   "assign hub.threadpool")
            pool = _threadpool_factory(self)
        return pool

    @threadpool.setter
    def threadpool(self, pool: Any) -> None:
        self._threadpool = pool

    @threadpool.deleter
    def threadpool(self) -> None:
        """Forget the pool (without killing it): the next use makes a new one."""
        self._threadpool = None

    # -- error handling --------------------------------------------------------

    @property
    def exception_stream(self) -> TextIO:
        """Where tracebacks of failed greenlets go (default: the current sys.stderr)."""
        s = self._exception_stream
        return s if s is not None else sys.stderr

    @exception_stream.setter
    def exception_stream(self, stream: TextIO | None) -> None:
        self._exception_stream = stream

    @exception_stream.deleter
    def exception_stream(self) -> None:
        """Back to the default, the current sys.stderr."""
        self._exception_stream = None

    def _report_error(self, context: Any, type: type[BaseException] | None,
                      value: BaseException | None, tb: TracebackType | None) -> None:
        # Looked up per error: a handle_error set on the instance later counts.
        self.handle_error(context, type, value, tb)

    def handle_error(self, context: Any, type: type[BaseException] | None,
                     value: BaseException | None, tb: TracebackType | None) -> None:
        """Called for every exception that ends a greenlet or escapes a
        callback. Prints it; forwards ``SYSTEM_ERROR`` to the main greenlet."""
        if type is None or value is None:
            return
        if isinstance(value, self.SYSTEM_ERROR):
            self.handle_system_error(type, value, tb)
            return
        if isinstance(value, GreenletExit):
            return
        self.print_exception(context, type, value, tb)

    def handle_system_error(self, type: type[BaseException] | None, value: BaseException,
                            tb: TracebackType | None = None) -> None:
        """Raise ``value`` (KeyboardInterrupt, SystemExit...) in the main greenlet now.

        From another greenlet (one that died of it), that greenlet is
        rescheduled first, so it finishes if the main greenlet carries on,
        and the exception is thrown into the main greenlet at once: a
        ``join()`` there raises it instead of returning (gevent's order).
        """
        cur = _getcurrent()
        if cur is self:
            # Raised in a callback while the hub runs: the parent is parked
            # in a wait (or in a bridge pass); deliver there now.
            self.parent.throw(value)
        elif cur is self.parent:
            raise value
        else:
            self.loop.schedule_first(cur.switch)
            self.parent.throw(value)

    def _deliver_interrupt(self) -> None:
        """Raise a deferred Ctrl-C (see ``sigint``) in the main greenlet."""
        if not self.parent.dead:
            self.parent.throw(KeyboardInterrupt())

    def print_exception(self, context: Any, type: type[BaseException] | None,
                        value: BaseException | None, tb: TracebackType | None) -> None:
        import traceback  # lazily: it costs ~9 ms of import time
        stream = self.exception_stream
        try:
            text = "".join(traceback.format_exception(type, value, tb))
            try:
                ctx = repr(context)
            except Exception as exc:  # a broken __repr__ must not hide the error
                ctx = f"<{type_name(context)} (repr failed: {exc!r})>"
            name = type.__name__ if type is not None else type_name(value)
            stream.write(f"{text}{ctx} failed with {name}\n\n")
            flush = getattr(stream, "flush", None)
            if flush is not None:
                flush()
        except Exception:  # the stream itself is broken: last resort
            traceback.print_exception(type, value, tb, file=sys.__stderr__)

    # -- the loop ----------------------------------------------------------------

    def run(self) -> None:
        loop = self.loop
        while not self._destroyed:
            forward = None
            try:
                loop.run()
            except HubDestroyed:
                break
            except self.SYSTEM_ERROR as exc:
                forward = exc
            except BaseException:
                self.print_exception(self, *sys.exc_info())
                continue
            if forward is not None:
                self.parent.throw(forward)
                continue
            if self.destroyed:   # by a callback of this run()
                break
            if loop.nowait:
                self.parent.switch()
                continue
            self.parent.throw(LoopExit(self._describe_stuck_wait()))

    @property
    def destroyed(self) -> bool:
        """True once ``destroy()`` was called."""
        return self._destroyed

    def run_nowait(self) -> None:
        """From the parent greenlet: one non-blocking pass of the loop (ready
        callbacks, due timers, ready I/O), then return. Used by front ends
        whose own event loop does the blocking."""
        if _getcurrent() is not self.parent:
            raise BlockingSwitchOutError("run_nowait() must be called from the hub's parent greenlet")
        loop = self.loop
        loop.nowait = True
        try:
            self.switch()
        finally:
            loop.nowait = False

    def _describe_waiter(self) -> str:
        """Who waits: a greenlet, or the main greenlet of which thread."""
        if self.parent.parent is not None:
            return repr(self.parent)
        if self.thread_ident == _main_ident:
            return "the main greenlet"
        for t in _enumerate_threads():
            if t.ident == self.thread_ident:
                return f"the main greenlet of thread {t.name!r} (not the main thread)"
        return f"the main greenlet of thread {self.thread_ident} (not the main thread)"

    def _describe_stuck_wait(self) -> str:
        who = self._describe_waiter()
        what, where = describe_wait(self.parent.gr_frame, self)
        return (f"This operation would block forever: {who} waits in {what}{where}, "
                f"and nothing left in the loop (callbacks, timers, I/O watchers) can wake it.")

    # -- waiting -------------------------------------------------------------------

    def wait(self, watcher: Any) -> Any:
        """Start ``watcher`` and wait until it fires."""
        return wait_on_watcher(self, watcher)

    def cancel_wait(self, watcher: Any, error: BaseException, close_watcher: bool = False) -> None:
        """Make the greenlet waiting on the I/O ``watcher`` raise ``error``.
        A no-op if the wait has already ended some other way."""
        cancel_wait(watcher, error)
        if close_watcher:
            watcher.close()

    def join(self, timeout: float | None = None) -> bool:
        """Wait (from the main greenlet) until the loop has nothing left to do.
        Returns True if it ran out of work, False on timeout."""
        cur = check_can_block(self)
        if self.dead or self._destroyed:
            return True
        try:
            result = park(self, cur, timeout, ref=False)
        except LoopExit:
            return True
        return result is not TIMED_OUT

    def destroy(self, destroy_loop: bool | None = None) -> None:
        """Stop the hub: kill its thread pool, end the hub greenlet, and forget
        it as this thread's hub. ``destroy_loop`` (default True) also closes
        the loop; pass False to keep the loop for a new hub."""
        self._destroyed = True
        pool, self._threadpool = self._threadpool, None
        if pool is not None:
            # Queued tasks are not started for a hub that is going away.
            getattr(pool, "_kill_dropping_queued", pool.kill)()
        if (_getcurrent() is not self and not self.dead and self
                and self.thread_ident == _get_ident()):
            # Another thread's hub greenlet cannot be switched to (gevent
            # issue 1631: destroying a finished thread's hub from main).
            try:
                self.throw(HubDestroyed)
            except HubDestroyed:
                pass
        self._end_idle_workers()
        if destroy_loop is None:
            destroy_loop = True
        if destroy_loop:
            self.loop.destroy()
        sigint.uninstall(self)
        if getattr(_tls, "hub", None) is self:
            del _tls.hub

    def _end_idle_workers(self) -> None:
        # Parked worker greenlets (coopshell.greenlet's reusable runners) wait
        # in a switch to this hub; left suspended, their frames keep the hub,
        # the loop and the thread's main greenlet alive after the thread ends
        # (gevent issue 1601). End them now, in their own thread; the hub is
        # dead by now, so each one's end comes back here.
        workers, self.workers = self.workers, []
        if self.thread_ident != _get_ident() or not self.dead or _getcurrent() is not self.parent:
            return
        for w in workers:
            if not w.dead:
                try:
                    w.throw(GreenletExit)
                except GreenletExit:
                    pass

    def __repr__(self) -> str:
        state = "dead" if self.dead else ("running" if _getcurrent() is self else "started" if self else "new")
        return f"<Hub at {id(self):#x} {state} thread={self.thread_ident} {self.loop!r}>"


def type_name(obj: object) -> str:
    return type(obj).__name__


def get_hub() -> Hub:
    """The calling thread's hub, created on first use."""
    try:
        hub: Hub = _tls.hub
        return hub
    except AttributeError:
        hub = _tls.hub = Hub()
        return hub


def get_hub_if_exists() -> Hub | None:
    return getattr(_tls, "hub", None)


def set_hub(hub: Hub) -> None:
    _tls.hub = hub


def wait_on_watcher(hub: Hub, watcher: Any) -> Any:
    """Start ``watcher`` with the current greenlet's switch and wait until it fires."""
    cur = check_can_block(hub)
    watcher.start(cur.switch, watcher)
    try:
        result = hub.switch()
        if result is not watcher:
            raise InvalidSwitchError(
                f"Invalid switch into {cur!r} while it waited on {watcher!r}: got {result!r}")
        error = getattr(watcher, "_error", None)
        if error is not None:
            raise error
        return result
    finally:
        watcher.stop()


def sleep(seconds: float = 0, ref: bool = True) -> None:
    """Suspend the current greenlet for ``seconds``; ``sleep(0)`` lets every
    other ready greenlet run once. With ``ref=False`` the sleep alone does not
    keep the loop alive."""
    try:
        hub: Hub = _tls.hub   # get_hub() inlined: one call less per sleep(0)
    except AttributeError:
        hub = get_hub()
    cur = _getcurrent()
    if seconds == 0 and cur is not hub:   # the common yield, inlined: _yield's body
        ready = hub.loop._ready
        item = (cur.switch, ())
        ready.append(item)
        try:
            hub.switch()
        except BaseException:
            try:
                ready.remove(item)
            except ValueError:
                pass
            raise
        return
    try:
        positive = seconds > 0
    except TypeError:
        raise TypeError(f"seconds must be a number, got {seconds!r}") from None
    if positive:
        if park(hub, cur, seconds, ref) is not TIMED_OUT:
            _invalid_sleep_switch(cur, seconds)
    elif seconds <= 0:  # negative sleeps yield, as in gevent
        if cur is hub:
            check_can_block(hub, cur)
        _yield(hub, cur)
    else:
        raise ValueError(f"seconds must be a number, got {seconds!r} (NaN never expires)")


def _yield(hub: Hub, cur: Any) -> None:
    """Run ``cur`` again after the callbacks already ready (``sleep(0)``)."""
    ready = hub.loop._ready
    item = (cur.switch, ())
    ready.append(item)
    try:
        hub.switch()
    except BaseException:
        try:
            ready.remove(item)
        except ValueError:
            pass
        raise


def _invalid_sleep_switch(cur: Any, seconds: float) -> None:
    # Only the sleep's own timer may wake it (a throw, as by kill() or a
    # Timeout, raises instead of returning): anything else switched in is a bug.
    raise InvalidSwitchError(
        f"Invalid switch into {cur!r} while it slept for {seconds!r} s: something called its "
        f"switch() directly; only the sleep's own timer may wake it")


def idle(priority: int = 0) -> None:
    """Wait until the loop has nothing else ready to run."""
    hub = get_hub()
    check_can_block(hub)
    watcher = hub.loop.idle()
    wait_on_watcher(hub, watcher)


def reinit(hub: Hub | None = None) -> None:
    """Prepare the hub for use in a child process after ``fork()``."""
    if hub is None:
        hub = get_hub_if_exists()
    if hub is not None:
        hub.loop.reinit()


def _reinit_after_fork() -> None:
    # Registered once, here in the core, so that ANY fork (os.fork,
    # multiprocessing, pty.fork) gives the child its own epoll and wakeup fd:
    # an epoll instance is shared across fork, and a child that changed its
    # registrations would silently steal the parent's events.
    hub = get_hub_if_exists()
    if hub is not None and not hub.loop.closed:
        hub.loop.reinit()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)

