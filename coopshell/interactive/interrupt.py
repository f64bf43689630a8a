"""One Ctrl-C policy for every front end: the shell, the kernel and the IPython extension.

Python runs a signal handler in whatever greenlet is current when the signal
arrives. :class:`InterruptPolicy` decides what SIGINT means there:

- **The main greenlet runs** (the foreground: a statement, a cell): in mode
  ``"exec"`` it raises ``KeyboardInterrupt`` as the default handler does; in
  mode ``"await"`` (a top-level ``await``) it cancels the foreground future;
  in mode ``"prompt"`` it clears the prompt's line (``on_prompt``).
- **The hub or a greenlet runs** (the main greenlet is parked in a foreground
  wait, or a bridge pass runs): raising there would kill a background
  greenlet or break into the loop's bookkeeping. The interrupt is queued as
  a thread-safe hub callback (which also wakes a blocking poll) that throws
  ``KeyboardInterrupt`` (``CancelledError`` in mode ``"await"``) into the
  main greenlet's wait. During a bridge pass it cancels the foreground
  instead (the main greenlet is in the bridge, not in a wait).
- **A second SIGINT while the first is still queued** means a greenlet keeps
  the hub from running: that greenlet is killed (``GreenletExit`` raised
  in it, quietly; a message names it) and the interrupt of the main greenlet
  is put first in the hub's queue.

When the interrupted wait was a join of greenlets that keep running (they were
only waited on), :meth:`InterruptPolicy.still_running_message` gives the line
front ends print after the ``KeyboardInterrupt``.
"""

from __future__ import annotations

import asyncio
import signal as _signal
from typing import Any, Callable

from greenlet import GreenletExit
from greenlet import getcurrent as _getcurrent

from .._core.hub import Hub, get_hub
from ..greenlet import Greenlet
from . import bridge as _bridge

__all__ = ["InterruptPolicy", "get_policy", "waited_on", "still_running_message"]

_signal_signal = _signal.signal
_getsignal = _signal.getsignal
# Names of the coopshell functions whose frames hold the greenlets a wait waits on.
_WAIT_FUNCS = frozenset({"join", "joinall", "wait", "iwait", "_iwait", "get", "killall", "kill"})


class InterruptPolicy:
    """What SIGINT does in one thread's hub; see the module docstring."""

    def __init__(self, hub: Hub | None = None):
        self.hub = hub if hub is not None else get_hub()
        #: "exec" (the foreground runs code), "await" (a top-level await runs),
        #: "prompt" (a prompt waits for keys) or "idle" (between inputs: ignore).
        self.mode = "exec"
        #: The asyncio loop of the front end (needed in modes "await" and "prompt").
        self.loop: asyncio.AbstractEventLoop | None = None
        #: The awaited foreground future or task in mode "await".
        self.foreground: asyncio.Future | None = None
        #: Called (in the asyncio loop) on SIGINT in mode "prompt".
        self.on_prompt: Callable[[], Any] | None = None
        #: Set when an interrupt cancelled the foreground (tells it from other cancels).
        self.interrupted = False
        self._pending: list[object] = []
        self._waited: list[Greenlet] = []
        self._saved: Any = None
        self._installed = False

    # -- installing ------------------------------------------------------------------

    def install(self) -> None:
        """Make :meth:`handle` the SIGINT handler (main thread only)."""
        if not self._installed:
            self._saved = _signal_signal(_signal.SIGINT, self.handle)
            self._installed = True

    def uninstall(self) -> None:
        """Put back the handler :meth:`install` replaced."""
        if self._installed:
            self._installed = False
            if _getsignal(_signal.SIGINT) == self.handle:
                try:
                    _signal_signal(_signal.SIGINT, self._saved)
                except (TypeError, ValueError):
                    pass

    # -- the handler -------------------------------------------------------------------

    def handle(self, signum: int = _signal.SIGINT, frame: Any = None) -> None:
        """The SIGINT handler."""
        hub = self.hub
        cur = _getcurrent()
        if cur is hub.parent or hub.dead or hub.loop.closed:
            self._in_main()
            return
        loop = hub.loop
        if self._pending:
            # The hub never ran the first interrupt: whatever runs starves it.
            self._pending.clear()
            if cur is hub:
                raise KeyboardInterrupt         # the hub forwards it to the main greenlet
            token = object()
            self._pending.append(token)
            victim = getattr(cur, "task", None) or cur   # the Greenlet a worker runs
            # First in the queue: before the links that would wake the main
            # greenlet's join normally once the victim is dead.
            loop.schedule_first(self._interrupt_main, token, victim)
            raise GreenletExit
        token = object()
        self._pending.append(token)
        loop.run_callback_threadsafe(self._interrupt_main, token)

    def _in_main(self) -> None:
        mode = self.mode
        if mode == "await" and self.loop is not None:
            self.interrupted = True
            self.loop.call_soon_threadsafe(self.cancel_foreground)
        elif mode == "prompt" and self.loop is not None:
            if self.on_prompt is not None:
                self.loop.call_soon_threadsafe(self.on_prompt)
        elif mode == "exec":
            raise KeyboardInterrupt

    def _interrupt_main(self, token: object, killed: Any = None) -> None:
        # Runs in the hub.
        if token not in self._pending:
            return
        self._pending.clear()
        hub = self.hub
        if killed is not None:
            try:
                hub.exception_stream.write(f"KeyboardInterrupt: killed {killed!r}, which kept "
                                           "the hub busy\n")
            except Exception:
                pass
        b = _bridge.get_bridge(hub)
        if (b is not None and b.in_pass) or _getcurrent() is hub.parent:
            # The main greenlet runs the bridge, not a wait: nothing to throw into.
            if self.mode == "await":
                self.interrupted = True
                self.cancel_foreground()
            elif self.mode == "prompt" and self.on_prompt is not None:
                self.on_prompt()
            return
        mode = self.mode
        if mode not in ("exec", "await"):
            return
        self._waited = waited_on(hub.parent.gr_frame)
        if mode == "await":
            self.interrupted = True
            hub.parent.throw(asyncio.CancelledError())
        else:
            hub.parent.throw(KeyboardInterrupt())

    def cancel_foreground(self) -> None:
        """Cancel the awaited foreground, if any (in the asyncio loop's thread)."""
        fg = self.foreground
        if fg is not None and not fg.done():
            fg.cancel()

    def pass_interrupted(self, exc: BaseException) -> bool:
        """A bridge pass raised ``KeyboardInterrupt``: cancel the awaited
        foreground. Returns False if there was none (the caller reports it)."""
        if self.mode == "await" and self.foreground is not None:
            self.interrupted = True
            self.cancel_foreground()
            return True
        return False

    # -- after the interrupt -------------------------------------------------------------

    def still_running_message(self) -> str | None:
        """The hint line after an interrupted join, once (None if nothing to say)."""
        waited, self._waited = self._waited, []
        return still_running_message(waited)


def waited_on(frame: Any) -> list[Greenlet]:
    """The live Greenlets the coopshell wait functions in ``frame``'s stack wait on."""
    found: dict[int, Greenlet] = {}
    f = frame
    while f is not None:
        mod = f.f_globals.get("__name__", "")
        if mod.startswith("coopshell.") and f.f_code.co_name in _WAIT_FUNCS:
            for value in list(f.f_locals.values()):
                items = value if isinstance(value, (list, tuple, set, frozenset)) else (value,)
                for g in items:
                    if isinstance(g, Greenlet) and not g.dead:
                        found.setdefault(id(g), g)
        f = f.f_back
    return sorted(found.values(), key=lambda g: g.minimal_ident)


def still_running_message(greenlets: list[Greenlet]) -> str | None:
    """"1 greenlet you waited on is still running: %kill 5 stops it" (None if all are done)."""
    alive = [g for g in greenlets if not g.dead]
    if not alive:
        return None
    ids = [str(g.minimal_ident) for g in alive[:10]]
    more = " …" if len(alive) > 10 else ""
    if len(alive) == 1:
        return f"1 greenlet you waited on is still running: %kill {ids[0]} stops it"
    return (f"{len(alive)} greenlets you waited on are still running: "
            f"%kill {' '.join(ids)}{more} stops them")


def get_policy(hub: Hub | None = None) -> InterruptPolicy:
    """The policy of ``hub`` (default: this thread's hub), made on first use."""
    hub = hub if hub is not None else get_hub()
    policy = getattr(hub, "interrupt_policy", None)
    if policy is None:
        policy = hub.interrupt_policy = InterruptPolicy(hub)
    return policy
