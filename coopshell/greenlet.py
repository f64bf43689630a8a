"""Greenlet: a function running cooperatively, with a result you can wait for.

``Greenlet`` follows gevent's API, but a Greenlet is a handle, not a
``greenlet.greenlet`` subclass: it runs on a pooled worker greenlet
(``_worker``), because a new raw greenlet costs an mmap/munmap of a CPython
frame-stack chunk. ``coopshell.getcurrent()`` maps a worker back to the
Greenlet it runs, so code that asks "who am I" sees the Greenlet, as with
gevent; a worker that anyone still references after its task is never
reused, so state keyed on ``greenlet.getcurrent()`` does not leak from one
task to the next. Waiting (``join``, ``iwait``, ``joinall``...) is in ``_wait``;
every public name stays importable from here.

Each Greenlet runs in a copy of the ``contextvars`` context of the code that
created it; that is what lets Jupyter route a greenlet's output to the cell
that spawned it.
"""

from __future__ import annotations

import reprlib
import sys
import types
from contextvars import copy_context
from itertools import count
from time import monotonic
from types import FrameType, TracebackType
from typing import Any, Callable, Generator, Optional, Tuple, Type, Union

from _weakref import ref as _weakref
from greenlet import GreenletExit, getcurrent as _getcurrent, greenlet as _RawGreenlet

from ._core.hub import get_hub
from ._core.loop import TimerHandle
from ._core.waiter import check_timeout
from ._wait import iwait, joinall, kill, killall, wait, wait_link, wait_link_under
from . import _worker
from ._worker import _WORKER_CODE, Task, Worker as _Worker, getcurrent, is_task_entry_frame, run_task
from .timeout import Timeout

__all__ = ["Greenlet", "GreenletExit", "spawn", "spawn_later", "spawn_raw", "joinall",
           "killall", "kill", "wait", "iwait", "getcurrent",
           "add_spawn_observer", "remove_spawn_observer", "has_spawn_observer",
           "is_task_entry_frame"]

#: ``(type, value, traceback)`` of a failure, as ``sys.exc_info()``.
ExcInfo = Tuple[Type[BaseException], BaseException, Optional[TracebackType]]
#: What ``kill``/``throw`` accept: an exception class or instance, an
#: ``ExcInfo``-like triple, or (wrapped in ``BaseException``) anything else.
KillArg = Union[Type[BaseException], BaseException, Tuple[Any, Any, Any], Any]

_NEW, _SCHEDULED, _RUNNING, _DONE = 0, 1, 2, 3
_STATE_NAMES = {_NEW: "new", _SCHEDULED: "scheduled", _RUNNING: "running", _DONE: "dead"}
_idents = count(1)
#: Callables run with each new Greenlet (the interactive ``%greenlets`` registry);
#: empty unless a front end registers one, and then only checked per creation.
_spawn_observers: list[Callable[[Any], Any]] = []
#: gevent's spawn callbacks (``Greenlet.add_spawn_callback``): called at ``start()``.
_spawn_callbacks: list[Callable[[Any], Any]] = []
_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40
_short.maxlist = _short.maxtuple = _short.maxdict = 4


def _nothing() -> None:
    """What ``Greenlet()`` runs when given no function (gevent's default ``_run``)."""


_nothing.__name__ = _nothing.__qualname__ = "_run"


class Greenlet(Task):
    """A function scheduled to run in its own greenlet.

    ``Greenlet(func, *args, **kwargs)`` creates it; ``start()`` schedules it.
    Subclasses may override ``_run`` instead of passing ``func``.
    """

    __slots__ = ("_state", "_value",
                 "_exc_info", "_links", "_notify_pending", "_hub", "_timer", "_name",
                 "_ident", "spawn_time", "_spawner", "_tree_locals", "__dict__", "__weakref__")

    _state: int
    _value: Any
    _exc_info: ExcInfo | None
    _links: list[Callable[[Any], Any]] | None
    _notify_pending: bool
    _hub: Any   # coopshell._core.hub.Hub (untyped)
    _timer: TimerHandle | None
    _name: str | None
    _ident: int | None
    spawn_time: float
    _spawner: Callable[[], Any]   # a weak reference
    _tree_locals: dict[str, Any] | None

    def __init__(self, run: Callable[..., Any] | None = None, *args: Any, **kwargs: Any):
        if run is not None:
            if not callable(run):
                raise TypeError(f"The run argument or self._run must be callable, got {run!r}")
            self._run = run
        else:
            own = getattr(self, "_run", None)
            if own is None:
                self._run = _nothing
            elif not callable(own):
                raise TypeError(f"The run argument or self._run must be callable, got {own!r}")
        self.args = args
        self.kwargs = kwargs
        self._context = copy_context()
        self._state = _NEW
        self._worker = None
        self._value = None
        self._exc_info = None
        self._links = None   # a list once something links; most greenlets never need one
        self._notify_pending = False
        self._hub = get_hub()
        self._timer = None
        self._name = None
        self._ident = None
        self.spawn_time = monotonic()
        self._spawner = _weakref(getcurrent())
        self._tree_locals = None
        if _spawn_observers:
            for observer in _spawn_observers:
                observer(self)

    # -- starting ------------------------------------------------------------------

    @classmethod
    def spawn(cls, *args: Any, **kwargs: Any) -> Greenlet:
        g = cls(*args, **kwargs)
        g.start()
        return g

    @classmethod
    def spawn_later(cls, seconds: float, *args: Any, **kwargs: Any) -> Greenlet:
        g = cls(*args, **kwargs)
        g.start_later(seconds)
        return g

    def start(self) -> None:
        """Schedule the greenlet to run in the next loop iteration."""
        if self._state == _NEW:
            if _spawn_callbacks:
                _call_spawn_callbacks(self)
            self._state = _SCHEDULED
            self._hub.loop.schedule(self._launch)

    def start_later(self, seconds: float) -> None:
        """Schedule the greenlet to run ``seconds`` from now."""
        checked = check_timeout(seconds)
        if checked is None:
            raise TypeError("start_later() needs a number of seconds, got None")
        if self._state == _NEW:
            if _spawn_callbacks:
                _call_spawn_callbacks(self)
            self._state = _SCHEDULED
            self._timer = self._hub.loop.add_timer(checked, self._launch)

    def _launch(self) -> None:
        if self._state != _SCHEDULED:
            return
        self._switch_in()

    # -- finishing ---------------------------------------------------------------------

    def _finish(self, result: Any) -> None:
        self._state = _DONE
        self._worker = None
        self._value = result
        if self._links:
            self._schedule_notify()

    def _finish_error(self, exc: BaseException) -> None:
        tb = exc.__traceback__
        if tb is not None and tb.tb_frame.f_code is _WORKER_CODE:
            exc.__traceback__ = tb = tb.tb_next  # the user's frames only
        in_own_context = self._worker is not None and _getcurrent() is self._worker
        self._state = _DONE
        self._worker = None
        if isinstance(exc, GreenletExit):
            self._value = exc
        else:
            self._exc_info = (type(exc), exc, exc.__traceback__)
        if self._links:
            self._schedule_notify()
        if not isinstance(exc, GreenletExit):
            # In the greenlet's own context, so the report goes where its
            # output went (Jupyter routes output by a ContextVar).
            if in_own_context:
                self._hub.handle_error(self, type(exc), exc, exc.__traceback__)
            else:
                self._context.run(self._hub.handle_error, self, type(exc), exc, exc.__traceback__)

    def _schedule_notify(self) -> None:
        if not self._notify_pending:
            self._notify_pending = True
            self._hub.loop.schedule(self._notify_links)

    def _notify_links(self) -> None:
        self._notify_pending = False
        links = self._links
        while links:
            link = links.pop(0)
            try:
                link(self)
            except BaseException:
                self._hub.handle_error((link, self), *sys.exc_info())

    # -- state ------------------------------------------------------------------------

    @property
    def dead(self) -> bool:
        """True once the greenlet finished, or was killed before it started."""
        return self._state == _DONE

    @property
    def state(self) -> str:
        """'new', 'scheduled', 'delayed' (spawn_later), 'running', 'dead', or
        'failed' (dead by an error)."""
        if self._state == _SCHEDULED and self._timer is not None:
            return "delayed"
        if self._state == _DONE and self._exc_info is not None:
            return "failed"
        return _STATE_NAMES[self._state]

    @property
    def gr_frame(self) -> FrameType | None:
        """The top frame of the task while it is suspended, else None."""
        w = self._worker
        if w is None or w is _getcurrent():
            return None
        frame: FrameType | None = w.gr_frame
        return frame

    @property
    def started(self) -> bool:
        """gevent's (deprecated) ``started``: ``bool(self)``, so false again once dead."""
        return self._state == _SCHEDULED or self._state == _RUNNING

    def __bool__(self) -> bool:
        """True while scheduled or running; false when new or dead."""
        return self._state == _SCHEDULED or self._state == _RUNNING

    def ready(self) -> bool:
        """True once the greenlet has finished (successfully or not)."""
        return self._state == _DONE

    def successful(self) -> bool:
        return self._state == _DONE and self._exc_info is None

    @property
    def value(self) -> Any:
        """The return value, once finished successfully; else None."""
        return self._value

    @property
    def exception(self) -> BaseException | None:
        """The exception that ended the greenlet, or None."""
        e = self._exc_info
        return e[1] if e is not None else None

    @property
    def exc_info(self) -> ExcInfo | None:
        """``(type, value, traceback)`` of the failure, or None."""
        return self._exc_info

    @property
    def name(self) -> str:
        n = self._name
        return n if n is not None else f"Greenlet-{self.minimal_ident}"

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)

    @property
    def minimal_ident(self) -> int:
        """A small number unique among this process's greenlets."""
        i = self._ident
        if i is None:
            i = self._ident = next(_idents)
        return i

    @property
    def loop(self) -> Any:
        return self._hub.loop

    @property
    def parent(self) -> Any:
        return self._hub

    @property
    def function(self) -> Callable[..., Any]:
        return self._run

    @property
    def spawning_greenlet(self) -> Any:
        """A weak reference to the greenlet that created this one (gevent's)."""
        return self._spawner

    @property
    def spawn_tree_locals(self) -> dict[str, Any]:
        """A dict shared by a tree of greenlets: the spawner's, or a new one when
        the spawner is a root (the main greenlet, the hub) or gone (gevent's)."""
        d = self._tree_locals
        if d is None:
            d = self._tree_locals = _tree_locals_of(self._spawner())
        return d

    @spawn_tree_locals.setter
    def spawn_tree_locals(self, value: dict[str, Any]) -> None:
        self._tree_locals = value

    #: gevent records the creator's stack here; coopshell records nothing per spawn.
    spawning_stack = None

    @staticmethod
    def add_spawn_callback(callback: Callable[[Greenlet], Any]) -> None:
        """Call ``callback(g)`` each time a Greenlet is started (gevent's)."""
        if callback not in _spawn_callbacks:
            _spawn_callbacks.append(callback)

    @staticmethod
    def remove_spawn_callback(callback: Callable[[Greenlet], Any]) -> None:
        """Undo ``add_spawn_callback``; a no-op if it was not added."""
        if callback in _spawn_callbacks:
            _spawn_callbacks.remove(callback)

    def switch(self, *args: Any, **kwargs: Any) -> Any:
        """Switch into this greenlet now, as ``greenlet.switch`` (gevent's
        ``Greenlet`` is a greenlet): a greenlet not started yet starts at once;
        a dead one switches to its parent, the hub."""
        state = self._state
        if state == _NEW or state == _SCHEDULED:
            if state == _NEW and _spawn_callbacks:
                _call_spawn_callbacks(self)
            if self._timer is not None:
                self._timer.cancel()
            self._state = _SCHEDULED   # the scheduled _launch will find it running
            return self._switch_in()
        w = self._worker
        if w is None:
            return self._hub.switch(*args, **kwargs)
        return w.switch(*args, **kwargs)

    def _switch_in(self) -> Any:
        """Run the task on a worker, from the current greenlet."""
        self._timer = None
        self._state = _RUNNING
        return run_task(self._hub, self)

    # -- waiting for it --------------------------------------------------------------

    def join(self, timeout: float | Timeout | None = None) -> None:
        """Wait until the greenlet finishes or ``timeout`` passes; never raises
        the greenlet's own exception."""
        if self._state == _DONE:
            return
        if isinstance(timeout, Timeout):
            wait_link_under(self, timeout)
            return
        wait_link(self, check_timeout(timeout))

    def get(self, block: bool = True, timeout: float | Timeout | None = None) -> Any:
        """Return the result, or raise the exception, once finished. Raises
        ``Timeout`` if it is not finished within ``timeout`` (or at once with
        ``block=False``)."""
        if self._state != _DONE:
            if not block:
                raise Timeout()
            if isinstance(timeout, Timeout):
                wait_link_under(self, timeout)
            else:
                seconds = check_timeout(timeout)
                if not wait_link(self, seconds):
                    raise Timeout(seconds)
        e = self._exc_info
        if e is not None:
            raise e[1].with_traceback(e[2])
        return self._value

    def rawlink(self, callback: Callable[[Greenlet], Any]) -> None:
        """Call ``callback(self)`` in the hub when the greenlet finishes."""
        if not callable(callback):
            raise TypeError(f"Expected callable: {callback!r}")
        links = self._links
        if links is None:
            links = self._links = []
        links.append(callback)
        if self._state == _DONE:
            self._schedule_notify()

    def link(self, callback: Callable[[Greenlet], Any], SpawnedLink: Any = None) -> None:
        """Run ``callback(self)`` in a new greenlet when this one finishes."""
        if not callable(callback):
            raise TypeError(f"Expected callable: {callback!r}")
        self.rawlink(_SpawnedLink(callback))

    def link_value(self, callback: Callable[[Greenlet], Any], SpawnedLink: Any = None) -> None:
        """Like ``link``, only if the greenlet finished successfully."""
        if not callable(callback):
            raise TypeError(f"Expected callable: {callback!r}")
        self.rawlink(_SpawnedLink(callback, successful=True))

    def link_exception(self, callback: Callable[[Greenlet], Any], SpawnedLink: Any = None) -> None:
        """Like ``link``, only if the greenlet failed."""
        if not callable(callback):
            raise TypeError(f"Expected callable: {callback!r}")
        self.rawlink(_SpawnedLink(callback, successful=False))

    def unlink(self, callback: Callable[[Greenlet], Any]) -> None:
        links = self._links or []
        for i, link in enumerate(links):
            if link == callback or getattr(link, "callback", None) == callback:
                del links[i]
                return

    def unlink_all(self) -> None:
        self._links = None

    def has_links(self) -> bool:
        """True if any link or rawlink callback is registered."""
        return bool(self._links)

    # -- killing ----------------------------------------------------------------------

    def kill(self, exception: Any = GreenletExit, block: bool = True,
             timeout: float | None = None) -> None:
        """Raise ``exception`` in the greenlet (a class, an instance, or an
        ``exc_info`` triple). A greenlet that has not started never runs, and
        dies of it at once. With ``block``, wait up to ``timeout`` for it to die."""
        timeout = check_timeout(timeout)
        state = self._state
        if state == _DONE:
            return
        if state != _RUNNING:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._finish_error(_as_exception(exception))
            return
        self._hub.loop.schedule(self._throw, exception)
        if block:
            self.join(timeout)   # through the method: a subclass's join sees it (gevent)

    def _throw(self, exception: KillArg) -> None:
        w = self._worker
        if w is not None and w.task is self and not w.dead:
            if isinstance(exception, tuple) and len(exception) == 3:
                w.throw(*exception)
            else:
                w.throw(exception)

    def throw(self, *args: Any) -> Any:
        """Raise an exception in the greenlet now (from another greenlet)."""
        w = self._worker
        if w is None:
            self.kill(args[0] if args else GreenletExit, block=False)
        else:
            w.throw(*args)

    # -- the rest -------------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, Any]:
        """``await greenlet``: its value, or its exception raised, on an asyncio
        loop that drives this greenlet's hub (``coopshell.interactive.bridge``)."""
        if self._state != _DONE:
            bridge = getattr(self._hub, "bridge", None)
            if bridge is None:
                raise RuntimeError(f"cannot await {self!r}: its hub is not bridged to an asyncio loop; "
                                   "call coopshell.interactive.bridge.attach() first")
            fut = bridge.loop.create_future()

            def wake(_: Any, fut: Any = fut) -> None:
                if not fut.done():
                    fut.set_result(None)

            self.rawlink(wake)
            bridge.wake()   # the greenlet may have just been spawned (loops without a selector hook)
            try:
                yield from fut.__await__()
            finally:
                self.unlink(wake)
        e = self._exc_info
        if e is not None:
            raise e[1].with_traceback(e[2])
        return self._value

    def __enter__(self) -> Greenlet:
        return self

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        """gevent's: after a clean block, wait for the greenlet, then kill it
        (a no-op if it finished); if the block raised, kill the greenlet with
        that exception."""
        if typ is None:
            try:
                self.join()
            finally:
                self.kill()
        else:
            self.kill((typ, value, tb))

    def _formatinfo(self) -> str:
        func = self._run
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or _short.repr(func)
        if getattr(func, "__self__", None) is self:
            name = f"{type(self).__name__}._run"
        parts = [_short.repr(a) for a in self.args]
        parts += [f"{k}={_short.repr(v)}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(parts)})"

    def _repr_info(self) -> str:
        """gevent's form: the function's ``__name__`` (``_run`` for a subclass's
        own, the repr of another object's bound method), then ``(args)`` if any,
        each argument's repr cut at 50 characters."""
        func = self._run
        owner = getattr(func, "__self__", None)
        if owner is self:
            text = "_run"
        elif owner is not None:
            text = repr(func)
        else:
            text = getattr(func, "__name__", "") or repr(func)
        parts = [repr(a)[:50] for a in self.args]
        parts += [f"{k}={repr(v)[:50]}" for k, v in self.kwargs.items()]
        return f"{text}({', '.join(parts)})" if parts else text

    def __repr__(self) -> str:
        # gevent shows the name once one is assigned or an ident was made.
        named = f' "{self.name}"' if self._name is not None or self._ident is not None else ""
        return f"<{type(self).__name__}{named} at {id(self):#x}: {self._repr_info()}>"

    def __class_getitem__(cls, item: Any) -> type[Greenlet]:
        return cls


class _SpawnedLink:
    """A link that runs its callback in a new Greenlet, started at once."""

    __slots__ = ("callback", "successful")

    def __init__(self, callback: Callable[[Greenlet], Any], successful: bool | None = None) -> None:
        self.callback = callback
        self.successful = successful

    def __call__(self, source: Greenlet) -> None:
        # Runs the callback's greenlet now, from the hub, up to its first
        # wait: links registered before a join() have run when it returns
        # (gevent's order).
        want = self.successful
        if want is None or want == source.successful():
            g = Greenlet(self.callback, source)
            g._state = _SCHEDULED
            g._launch()

    def __eq__(self, other: object) -> bool:
        return self is other or self.callback == other or (
            isinstance(other, _SpawnedLink) and self.callback == other.callback)

    __hash__ = object.__hash__


# -- module-level API ---------------------------------------------------------------

def spawn(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Greenlet:
    """Create a Greenlet running ``function(*args, **kwargs)`` and start it."""
    g = Greenlet(function, *args, **kwargs)
    if _spawn_callbacks:
        _call_spawn_callbacks(g)
    g._state = _SCHEDULED
    g._hub.loop.schedule(g._launch)
    return g


def spawn_later(seconds: float, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Greenlet:
    """Like ``spawn``, but start ``seconds`` from now."""
    g = Greenlet(function, *args, **kwargs)
    g.start_later(seconds)
    return g


def _as_exception(exception: Any) -> BaseException:
    """What ``kill(exception)`` raises, as gevent: a class is instantiated, an
    ``exc_info`` triple gives its value, anything else is wrapped in a
    ``BaseException`` (so the greenlet still dies, as not successful)."""
    if isinstance(exception, tuple) and len(exception) == 3:
        typ, value = exception[0], exception[1]
        if value is None and isinstance(typ, type) and issubclass(typ, BaseException):
            value = typ()
        exception = value
    elif isinstance(exception, type) and issubclass(exception, BaseException):
        return exception()
    if isinstance(exception, BaseException):
        return exception
    return BaseException(exception)


def _call_spawn_callbacks(g: Greenlet) -> None:
    for callback in list(_spawn_callbacks):
        callback(g)


def _tree_locals_of(spawner: Any) -> dict[str, Any]:
    if spawner is None:
        return {}
    shared: dict[str, Any] | None = getattr(spawner, "spawn_tree_locals", None)
    if shared is not None:
        return shared
    d: dict[str, Any] = {}
    if spawner.parent is not None:
        spawner.spawn_tree_locals = d   # not a root: its other children share it
    return d


def add_spawn_observer(observer: Callable[[Any], Any]) -> None:
    """Call ``observer(g)`` with every Greenlet created from now on."""
    if observer not in _spawn_observers:
        _spawn_observers.append(observer)


def remove_spawn_observer(observer: Callable[[Any], Any]) -> None:
    """Undo ``add_spawn_observer``; a no-op if it was not added."""
    try:
        _spawn_observers.remove(observer)
    except ValueError:
        pass


def has_spawn_observer(observer: Callable[[Any], Any]) -> bool:
    return observer in _spawn_observers


def spawn_raw(function: Callable[..., Any], *args: Any, **kwargs: Any) -> _RawGreenlet:
    """Run ``function`` in a plain greenlet (no result, no links): cheapest."""
    if not callable(function):
        raise TypeError(f"function must be callable, got {function!r}")
    hub = get_hub()
    ctx = copy_context()
    if kwargs:
        g = _RawGreenlet(lambda: function(*args, **kwargs), hub)
        hub.loop.schedule(g.switch)
    else:
        g = _RawGreenlet(function, hub)
        hub.loop.schedule(g.switch, *args)
    g.gr_context = ctx
    g.spawning_greenlet = _weakref(getcurrent())
    g.spawn_tree_locals = _tree_locals_of(g.spawning_greenlet())
    return g


class _Module(types.ModuleType):
    """This module's type: ``MAX_IDLE_WORKERS`` reads and sets the worker
    pool's limit in ``_worker`` (assigning a plain module global here would
    silently change nothing)."""

    @property
    def MAX_IDLE_WORKERS(self) -> int:  # noqa: N802 - a module constant's name
        """Idle worker greenlets kept per hub for reuse (0: a fresh greenlet per task)."""
        return _worker.MAX_IDLE_WORKERS

    @MAX_IDLE_WORKERS.setter
    def MAX_IDLE_WORKERS(self, value: int) -> None:  # noqa: N802
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"MAX_IDLE_WORKERS must be an int >= 0, got {value!r}")
        _worker.MAX_IDLE_WORKERS = value


sys.modules[__name__].__class__ = _Module
