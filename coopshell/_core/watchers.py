"""gevent's watcher objects (``loop.timer()``, ``loop.async_()``...), built on
the loop's doors. ``IOWatcher`` lives with the fd records in ``_poll``.

A watcher that is active and has ``ref`` set keeps the loop alive; the loop
counts those in ``Loop._refs``, which only this module and ``_poll`` change.
"""

from __future__ import annotations

import signal as _signal
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable
    from ._timers import TimerHandle
    from .loop import Loop

__all__ = ["Callback", "Watcher", "TimerWatcher", "AsyncWatcher", "SignalWatcher",
           "IdleWatcher", "PrepareWatcher"]

_signal_signal = _signal.signal   # captured: monkey patching never turns these against the loop
_get_ident = threading.get_ident
_main_thread = threading.main_thread


class Callback:
    """Handle for a scheduled callback; ``stop()`` keeps it from running."""

    __slots__ = ("callback", "args")

    def __init__(self, callback: Callable[..., Any] | None, args: tuple[Any, ...] | None) -> None:
        self.callback = callback
        self.args = args

    def _run(self) -> None:
        cb = self.callback
        if cb is not None:
            self.callback = None
            cb(*(self.args or ()))

    def stop(self) -> None:
        self.callback = self.args = None

    close = stop

    @property
    def pending(self) -> bool:
        return self.callback is not None

    def __repr__(self) -> str:
        return f"<Callback {self.callback!r} {'pending' if self.callback else 'done'}>"


class Watcher:
    """Start/stop/ref/close behaviour common to gevent-style watchers."""

    __slots__ = ("loop", "callback", "args", "_ref", "_active", "__weakref__")

    def __init__(self, loop: Loop, ref: bool) -> None:
        self.loop = loop
        self.callback: Callable[..., Any] | None = None
        self.args: tuple[Any, ...] = ()
        self._ref = bool(ref)
        self._active = False

    @property
    def active(self) -> bool:
        return self._active

    @property
    def ref(self) -> bool:
        return self._ref

    @ref.setter
    def ref(self, value: bool) -> None:
        value = bool(value)
        if value != self._ref:
            if self._active:
                self.loop._refs += 1 if value else -1
            self._ref = value

    @property
    def pending(self) -> bool:
        return False

    def _set_active(self, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if not callable(callback):
            raise TypeError(f"watcher callback must be callable, got {callback!r}")
        self.callback = callback
        self.args = args
        if not self._active:
            self._active = True
            if self._ref:
                self.loop._refs += 1

    def _set_inactive(self) -> None:
        if self._active:
            self._active = False
            if self._ref:
                self.loop._refs -= 1
        self.callback = None
        self.args = ()

    def stop(self) -> None:
        """Stop calling back; subclasses also release what they registered."""
        self._set_inactive()

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "active" if self._active else "stopped"
        return f"<{type(self).__name__} at {id(self):#x} {state}{'' if self._ref else ' unref'}>"


class TimerWatcher(Watcher):
    """Calls back once after ``after`` seconds, then every ``repeat`` seconds
    while ``repeat`` is positive."""

    __slots__ = ("after", "repeat", "_timer")

    def __init__(self, loop: Loop, after: float = 0.0, repeat: float = 0.0, ref: bool = True) -> None:
        try:
            bad = not (after >= 0 and repeat >= 0)
        except TypeError:
            bad = True
        if bad:
            raise ValueError(f"timer delays must be numbers >= 0, got after={after!r} repeat={repeat!r}")
        super().__init__(loop, ref)
        self.after = after
        self.repeat = repeat
        self._timer: TimerHandle | None = None

    def start(self, callback: Callable[..., Any], *args: Any, update: Any = None) -> None:
        self._stop_timer()
        self._set_active(callback, args)
        self._schedule(self.after)

    def _schedule(self, delay: float) -> None:
        # The watcher's ref is counted by _set_active; the timer itself is unref'd.
        self._timer = self.loop.add_timer(delay, self._fire, ref=False)

    def _fire(self) -> None:
        self._timer = None
        cb, args = self.callback, self.args
        if self.repeat > 0:
            self._schedule(self.repeat)
        else:
            self._set_inactive()
        if cb is not None:
            cb(*args)

    def again(self, callback: Callable[..., Any], *args: Any, update: Any = None) -> None:
        """Restart with ``repeat`` as the delay (``after`` if no repeat)."""
        self._stop_timer()
        self._set_active(callback, args)
        self._schedule(self.repeat or self.after)

    def _stop_timer(self) -> None:
        t = self._timer
        if t is not None:
            self._timer = None
            t.cancel()

    def stop(self) -> None:
        self._stop_timer()
        self._set_inactive()

    @property
    def at(self) -> float:
        t = self._timer
        return t.when if t is not None else 0.0


class AsyncWatcher(Watcher):
    """Wakes the loop from any thread: ``send()`` runs the callback in the hub."""

    __slots__ = ("_pending",)

    def __init__(self, loop: Loop, ref: bool = True) -> None:
        super().__init__(loop, ref)
        self._pending = False

    def start(self, callback: Callable[..., Any], *args: Any) -> None:
        self._set_active(callback, args)

    def send(self) -> None:
        if not self._pending:
            self._pending = True
            self.loop.run_callback_threadsafe(self._fire)

    send_ignoring_arg = send

    def _fire(self) -> None:
        self._pending = False
        cb = self.callback
        if cb is not None:
            cb(*self.args)

    @property
    def pending(self) -> bool:
        return self._pending


class SignalWatcher(Watcher):
    """Runs the callback in the hub when ``signum`` arrives (main thread only).
    The previous Python-level handler is restored when the last watcher of
    that signal stops."""

    __slots__ = ("signum",)

    def __init__(self, loop: Loop, signum: int, ref: bool = False) -> None:
        if not isinstance(signum, int) or not 0 < signum < _signal.NSIG:
            raise ValueError(f"signum must be a signal number from 1 to {_signal.NSIG - 1}, got {signum!r}")
        super().__init__(loop, ref)
        self.signum = signum

    def start(self, callback: Callable[..., Any], *args: Any) -> None:
        if _get_ident() != _main_thread().ident:
            raise ValueError("signal watchers can only be started in the main thread")
        loop = self.loop
        self._set_active(callback, args)
        watchers = loop._signal_watchers.get(self.signum)
        if watchers is None:
            def on_signal(signum: int, frame: Any, loop: Loop = loop) -> None:
                loop.run_callback_threadsafe(_deliver_signal, loop, signum)
            previous = _signal_signal(self.signum, on_signal)
            watchers = loop._signal_watchers[self.signum] = [previous]  # slot 0: handler to restore
        if self not in watchers:
            watchers.append(self)

    def stop(self) -> None:
        loop = self.loop
        watchers = loop._signal_watchers.get(self.signum)
        if watchers is not None and self in watchers:
            watchers.remove(self)
            if len(watchers) == 1:
                del loop._signal_watchers[self.signum]
                previous = watchers[0]
                try:
                    _signal_signal(self.signum, previous if previous is not None else _signal.SIG_DFL)
                except (ValueError, TypeError, OSError):
                    pass
        self._set_inactive()


def _deliver_signal(loop: Loop, signum: int) -> None:
    watchers = loop._signal_watchers.get(signum)
    if watchers:
        for w in watchers[1:]:
            cb = w.callback
            if cb is not None:
                cb(*w.args)


class PrepareWatcher(Watcher):
    """Calls back once per loop iteration, just before polling."""

    __slots__ = ("_hook",)

    def __init__(self, loop: Loop, ref: bool = True) -> None:
        super().__init__(loop, ref)
        self._hook: Callable[[], None] | None = None

    def start(self, callback: Callable[..., Any], *args: Any) -> None:
        self._set_active(callback, args)
        if self._hook is None:
            self._hook = self._fire
            self.loop._prepare.append(self._hook)

    def _fire(self) -> None:
        cb = self.callback
        if cb is not None:
            cb(*self.args)

    def stop(self) -> None:
        if self._hook is not None:
            if self._hook in self.loop._prepare:
                self.loop._prepare.remove(self._hook)
            self._hook = None
        self._set_inactive()


class IdleWatcher(Watcher):
    """Calls back when the loop has nothing else ready, repeatedly until
    stopped (an active idle watcher keeps the loop from blocking)."""

    __slots__ = ("_timer",)

    def __init__(self, loop: Loop, ref: bool = True) -> None:
        super().__init__(loop, ref)
        self._timer: TimerHandle | None = None

    def start(self, callback: Callable[..., Any], *args: Any) -> None:
        self._set_active(callback, args)
        if self._timer is None:
            self._schedule()

    def _schedule(self) -> None:
        self._timer = self.loop.add_timer(0, self._fire, ref=False)

    def _fire(self) -> None:
        self._timer = None
        if not self._active:
            return
        self._schedule()
        if not self.loop.has_ready_callbacks():
            cb = self.callback
            if cb is not None:
                cb(*self.args)

    def stop(self) -> None:
        t = self._timer
        if t is not None:
            self._timer = None
            t.cancel()
        self._set_inactive()
