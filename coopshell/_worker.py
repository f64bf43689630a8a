"""Pooled worker greenlets: the raw greenlets that Greenlets run on.

A new raw greenlet costs an mmap/munmap of a CPython frame-stack chunk (on
this project's loaded 2-core machine, 7 µs of kernel time per greenlet),
so a worker that finishes a task parks in ``hub.workers`` and takes the next
one instead of dying. A parked worker is reused only if nothing outside the
runtime references it: then state that a library keyed on
``greenlet.getcurrent()`` during the last task (a dict key, a weak key, a
``scoped_session`` scope) cannot reach the next task. Any other worker is
retired (ended), and the task gets a fresh one. See docs/design-notes.md,
"Greenlet identity".
"""

from __future__ import annotations

from contextvars import Context
from sys import getrefcount as _getrefcount
from types import FrameType
from typing import Any, Callable

from _weakref import getweakrefcount as _getweakrefcount
from greenlet import GreenletExit, getcurrent as _getcurrent, greenlet as _RawGreenlet

__all__ = ["MAX_IDLE_WORKERS", "Task", "Worker", "run_task", "getcurrent", "is_task_entry_frame"]

#: Idle worker greenlets kept per hub for reuse; extra ones exit.
MAX_IDLE_WORKERS = 1024


class Task:
    """What a worker runs: ``Greenlet`` is the one subclass. The worker reads
    these attributes and calls ``_finish``/``_finish_error`` when ``_run``
    returns or raises."""

    __slots__ = ("_run", "args", "kwargs", "_context", "_worker")

    _run: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    _context: Context
    _worker: Worker | None

    def _finish(self, result: Any) -> None:
        raise NotImplementedError

    def _finish_error(self, exc: BaseException) -> None:
        raise NotImplementedError


class Worker(_RawGreenlet):  # type: ignore[misc]  # greenlet ships no stubs for subclassing
    """A raw greenlet that runs Task after Task."""

    __slots__ = ("task",)
    task: Task | None


#: Switched into a parked worker to end it instead of giving it a task.
_RETIRE = object()


def _worker_main() -> None:
    me: Worker = _getcurrent()
    # The first task comes in ``me.task``, not as an argument: greenlet keeps
    # the arguments of a greenlet's first switch alive until it dies, which
    # would pin the first task (and all it references) to the worker.
    task = me.task
    assert task is not None
    hub = me.parent
    idle: list[Worker] = hub.workers
    hub_switch = hub.switch
    result: Any
    while True:
        me.task = task
        task._worker = me
        me.gr_context = task._context
        args = task.args
        try:
            # Fixed-arity calls are inlined by the interpreter; a *args call
            # adds a C-level eval frame that every parked greenlet would save.
            if task.kwargs:
                result = task._run(*args, **task.kwargs)
            elif not args:
                result = task._run()
            elif len(args) == 1:
                result = task._run(args[0])
            else:
                result = task._run(*args)
        except BaseException as exc:
            me.task = None
            task._finish_error(exc)
        else:
            me.task = None
            task._finish(result)
        # Drop the finished task, its result and its context before parking:
        # an idle worker must not keep them (and what they reference) alive.
        del task, args
        result = None
        me.gr_context = None
        if len(idle) >= MAX_IDLE_WORKERS:
            return
        idle.append(me)
        while True:
            try:
                got = hub_switch()
            except GreenletExit:
                return  # the hub is going away, or this worker is collected
            except BaseException:
                continue  # a stray throw (a leaked Timeout): stay parked
            if got is _RETIRE:
                return  # someone still holds this greenlet: end it (see run_task)
            if isinstance(got, Task):
                task = got
                del got   # else the parked worker would keep this task alive
                break


_WORKER_CODE = _worker_main.__code__


def _parked_refcounts() -> tuple[int, int]:
    """``(sys.getrefcount(w), weakref.getweakrefcount(w))`` of a parked worker ``w``
    that nobody but ``run_task`` (one local) and its own frame (``me``)
    references, measured on a real one so that it holds for this CPython and
    greenlet build."""
    def park_once() -> None:
        me = _getcurrent()
        me.parent.switch()
        del me
    w = Worker(park_once)
    w.switch()
    counts = (_getrefcount(w), _getweakrefcount(w))
    w.switch()   # let it finish
    return counts


#: A parked worker with exactly these counts is referenced by no one else:
#: no library can have kept ``greenlet.getcurrent()`` of its last task, so
#: the next task may reuse it without seeing that task's state.
_PARKED_REFS, _PARKED_WEAKREFS = _parked_refcounts()


def run_task(hub: Any, task: Task) -> Any:
    """Switch from the current greenlet into a worker of ``hub`` running ``task``;
    return what is switched back (as ``greenlet.switch``)."""
    idle: list[Worker] = hub.workers
    while idle:
        w = idle.pop()
        # Reuse a worker only if nothing outside the runtime references it
        # (see _PARKED_REFS): then state keyed on greenlet.getcurrent() by
        # its last task cannot reach this one.
        if _getrefcount(w) == _PARKED_REFS and _getweakrefcount(w) == _PARKED_WEAKREFS:
            return w.switch(task)
        w.switch(_RETIRE)
    w = Worker(_worker_main, hub)
    w.task = task
    return w.switch()


def getcurrent() -> Any:
    """The running Task (Greenlet), or the raw greenlet (main, hub) if none."""
    g = _getcurrent()
    task = getattr(g, "task", None)
    return g if task is None else task


def is_task_entry_frame(frame: FrameType | None) -> bool:
    """True for the runtime frame a Greenlet's task is called from (stack walks stop there)."""
    return frame is not None and frame.f_code is _WORKER_CODE
