"""Signals handled in greenlets: ``signal_handler(signum, handler)``, and a
cooperative ``signal.signal`` for monkey patching.

The handler runs in a new greenlet in the hub's thread, so it may block
(sleep, take a lock, do I/O), unlike a stdlib signal handler that runs
between two bytecodes of whatever was running. ``signal()`` and
``getsignal()`` are what ``patch_signal`` installs in the stdlib module.
Other names of the stdlib module are re-exported unchanged.

Differs from the stdlib: a handler installed with :func:`signal` is called
as ``handler(signum, None)`` (there is no interrupted frame: it runs in its
own greenlet), soon after the signal arrives rather than at once. An
exception a handler raises is printed and raised in the main greenlet (where
the stdlib would raise it in the main thread), as gevent does.
"""

from __future__ import annotations

import signal as _signal
from signal import *  # noqa: F401,F403  (the stdlib names, re-exported)
from typing import Any, Callable

from ._core.exceptions import GreenletExit
from ._core.hub import get_hub
from .greenlet import spawn

__all__ = [n for n in dir(_signal) if not n.startswith("_")] + ["signal_handler", "SignalHandle"]

#: Stdlib names this module replaces (``patch_signal``).
__implements__ = ["signal", "getsignal"]

# Originals, captured before any patching.
_std_signal = _signal.signal
_std_getsignal = _signal.getsignal
_SPECIAL = (_signal.SIG_DFL, _signal.SIG_IGN)

# signum -> (the user's handler, the SignalHandle running it)
_installed: dict[int, tuple[Callable[..., Any], SignalHandle]] = {}


class SignalHandle:
    """A running ``signal_handler``; ``cancel()`` restores the previous handler."""

    def __init__(self, signalnum: int, handler: Callable[..., Any], args, kwargs):
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {handler!r}")
        self.signalnum = signalnum
        self.handler = handler
        self.args = args
        self.kwargs = kwargs
        self._watcher = get_hub().loop.signal(signalnum)
        self._watcher.start(self._fire)

    def _fire(self):
        spawn(self._run)

    def _run(self) -> None:
        """Run the handler; an exception it raises is printed and raised in
        the main greenlet, as a stdlib handler's exception interrupts the
        main thread (and as gevent does for errors with no context)."""
        try:
            self.handler(*self.args, **self.kwargs)
        except GreenletExit:
            raise
        except BaseException as exc:
            hub = get_hub()
            hub.print_exception(None, type(exc), exc, exc.__traceback__)
            hub.handle_system_error(type(exc), exc, exc.__traceback__)

    def cancel(self) -> None:
        self._watcher.stop()

    @property
    def active(self) -> bool:
        return self._watcher.active

    @property
    def ref(self) -> bool:
        """Whether this handler alone keeps the hub's loop running (gevent's
        ``signal.ref``; False by default: waiting for a signal is not work)."""
        return self._watcher.ref

    @ref.setter
    def ref(self, value: bool) -> None:
        self._watcher.ref = value

    def __repr__(self):
        return f"<SignalHandle {_signal.Signals(self.signalnum).name} -> {self.handler!r}>"


def signal_handler(signalnum: int, handler: Callable[..., Any], *args: Any, **kwargs: Any) -> SignalHandle:
    """Call ``handler(*args, **kwargs)`` in a new greenlet whenever
    ``signalnum`` is delivered (main thread only)."""
    return SignalHandle(signalnum, handler, args, kwargs)


def signal(signalnum: int, handler: Any) -> Any:
    """``signal.signal``, cooperative: a callable ``handler`` runs as
    ``handler(signalnum, None)`` in a new greenlet each time the signal
    arrives, so it may block. ``SIG_DFL``/``SIG_IGN`` go to the stdlib.
    Returns the previous handler, as the stdlib does."""
    if not callable(handler) and handler not in _SPECIAL:
        raise TypeError(f"signal handler must be signal.SIG_IGN, signal.SIG_DFL, or a callable "
                        f"object, got {handler!r}")
    previous = getsignal(signalnum)
    entry = _installed.pop(signalnum, None)
    if entry is not None:
        entry[1].cancel()  # restores the handler that was there before it
    if handler in _SPECIAL:
        _std_signal(signalnum, handler)
    else:
        _installed[signalnum] = (handler, SignalHandle(signalnum, handler, (signalnum, None), {}))
    return previous


def getsignal(signalnum: int) -> Any:
    """``signal.getsignal``: the handler given to :func:`signal` (not the
    runtime's internal one), else the stdlib's answer."""
    entry = _installed.get(signalnum)
    return entry[0] if entry is not None else _std_getsignal(signalnum)
