"""Run the hub from a running asyncio loop: greenlets and asyncio share one thread.

The asyncio loop drives the hub; nothing polls and no helper thread runs:

- ``add_reader(hub.loop.fileno())``: the hub's epoll fd is readable whenever
  the hub has I/O to dispatch (its thread-safe wakeup eventfd is in that epoll
  set too, so other threads and signal watchers wake it the same way);
- one ``call_at`` handle for the hub's next timer deadline (monotonic time
  converted to ``loop.time()``).

When either fires, the bridge switches from the main greenlet (where asyncio
runs, the hub's parent) into the hub for one bounded, non-blocking pass
(``Hub.run_nowait``). After every pass it re-arms: ready hub callbacks left
over mean another pass with ``call_soon``; otherwise the timer handle is
moved to the new next deadline. An idle session therefore sleeps in the
asyncio selector with the hub's deadline as its only timeout: zero CPU.

Work scheduled *outside* a pass
-------------------------------
Code running in the main greenlet outside a pass (a statement at the prompt,
a cell, an asyncio task) can append hub callbacks or timers without the hub
running: ``co.spawn(f)``, ``event.set()``, ``spawn_later``. Nothing in the
hub's epoll set changes, so asyncio would not notice. Rejected designs: a
hook on every ``_ready.append`` (per-switch cost on the hottest path; most
appends do not even go through a method), swapping the deque between passes
(the loop binds it to locals). Chosen design, zero cost per switch:

1. On a ``SelectorEventLoop`` (the default loop on Unix, and the one
   ipykernel and prompt_toolkit use) the bridge wraps that loop's selector
   ``select()``. Just before asyncio would block, the wrapper looks at the
   hub loop (ready callbacks, dirty fd registrations, the first timer): if
   the hub has work it schedules a pass and polls with timeout 0; if the
   first timer moved, it re-arms and shortens the timeout. One check per
   asyncio iteration, nothing per greenlet switch. So ``co.spawn(f)`` followed
   by ``await asyncio.sleep(1)`` in one cell runs ``f`` at once.
2. For loops without a Python selector (uvloop), front ends call
   ``Bridge.wake()`` after running user code; the shell and the kernel do it
   after every input anyway.

Blocking in the main greenlet (``g.join()`` at the prompt) simply switches
into the hub, which then runs its own blocking loop until the waiter is woken;
asyncio is paused meanwhile.

Interrupts: a ``KeyboardInterrupt`` raised while the hub runs a pass is
forwarded by the hub into the main greenlet, where it surfaces in the pass.
The bridge hands it to ``Bridge.interrupt_handler``; the default cancels
``Bridge.foreground`` (an asyncio future the front end sets while user code
awaits) or, if none, prints ``KeyboardInterrupt`` to the hub's error stream.
"""

from __future__ import annotations

import asyncio
from time import monotonic as _monotonic
from typing import Any, Callable

from greenlet import getcurrent as _getcurrent

from .._core.hub import Hub, get_hub

__all__ = ["Bridge", "attach", "detach", "get_bridge"]


class Bridge:
    """Drives one hub from one asyncio loop. See the module docstring."""

    def __init__(self, hub: Hub | None = None):
        self.hub: Hub = hub if hub is not None else get_hub()
        self.loop: asyncio.AbstractEventLoop | None = None
        #: An asyncio future the front end sets while user code awaits; an
        #: interrupt caught during a pass cancels it.
        self.foreground: asyncio.Future | None = None
        #: Called with the KeyboardInterrupt or SystemExit a pass raised (the hub
        #: forwards them to the main greenlet). The default cancels
        #: ``foreground`` on an interrupt and re-raises SystemExit.
        self.interrupt_handler: Callable[[BaseException], Any] = self._default_interrupt
        #: Passes run so far (a heartbeat for watchdogs and tests).
        self.passes = 0
        self._fd: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed: float | None = None         # hub-loop (monotonic) deadline of _timer
        self._soon: asyncio.Handle | None = None  # a pass scheduled with call_soon
        self._selector = None
        self._in_pass = False
        #: Optional ``(enter_idle, leave_idle)`` callables run around asyncio's
        #: blocking select (the blocking-hub detector uses them).
        self.idle_hooks: tuple[Callable[[], None], Callable[[], None]] | None = None

    # -- attach / detach -------------------------------------------------------

    @property
    def attached(self) -> bool:
        """True while an asyncio loop drives the hub."""
        return self.loop is not None

    @property
    def in_pass(self) -> bool:
        """True while a hub pass runs (the main greenlet is inside the bridge, not in a wait)."""
        return self._in_pass

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start driving the hub from ``loop`` (must run in the hub's thread)."""
        if not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(f"attach() expected an asyncio event loop, got {loop!r}")
        if self.loop is loop:
            return
        if self.loop is not None:
            raise RuntimeError(f"bridge already attached to {self.loop!r}; detach() it first")
        if loop.is_closed():
            raise RuntimeError(f"cannot attach to a closed loop: {loop!r}")
        hub = self.hub
        if hub.dead or hub.loop.closed:
            raise RuntimeError(f"cannot attach a dead hub: {hub!r}")
        self.loop = loop
        self._fd = hub.loop.fileno()
        loop.add_reader(self._fd, self._on_readable)
        self._hook_selector(loop)
        hub.bridge = self
        det = getattr(hub, "blocking_detector", None)
        if det is not None and det.running:
            det._hook_bridge()
        self.wake()

    def detach(self) -> None:
        """Stop driving the hub; pending hub work waits for the next wait or attach."""
        loop = self.loop
        if loop is None:
            return
        self.loop = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed = None
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        if not loop.is_closed():
            try:
                loop.remove_reader(self._fd)
            except (OSError, ValueError, RuntimeError):
                pass
        self._fd = None
        self._unhook_selector()
        if getattr(self.hub, "bridge", None) is self:
            self.hub.bridge = None

    # -- scheduling passes ---------------------------------------------------------

    def wake(self) -> None:
        """Schedule a pass soon. Call after main-greenlet code may have
        scheduled hub work (needed only for loops without a Python selector)."""
        if self.loop is not None and self._soon is None:
            self._soon = self.loop.call_soon(self._on_soon)

    def run_pass(self) -> None:
        """Run one non-blocking hub pass now (from the main greenlet), then re-arm."""
        if self._in_pass:
            return
        hub = self.hub
        if _getcurrent() is not hub.parent:
            raise RuntimeError("Bridge.run_pass() must be called from the hub's parent (main) greenlet")
        if hub.dead:
            self.detach()
            return
        self._in_pass = True
        try:
            hub.run_nowait()
        except (KeyboardInterrupt, SystemExit) as exc:
            self._in_pass = False
            self.interrupt_handler(exc)
        finally:
            self._in_pass = False
            self.passes += 1
            if self.loop is not None:
                self._rearm()

    def _on_readable(self):
        self.run_pass()

    def _on_soon(self):
        self._soon = None
        self.run_pass()

    def _on_timer(self):
        self._timer = None
        self._armed = None
        self.run_pass()

    def _rearm(self):
        hl = self.hub.loop
        if hl.closed:
            self.detach()
            return
        if hl.has_pending_work():
            self.wake()
            return
        self._arm(hl.next_deadline())

    def _arm(self, deadline):
        if deadline == self._armed:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed = deadline
        if deadline is not None:
            loop = self.loop
            self._timer = loop.call_at(loop.time() + (deadline - _monotonic()), self._on_timer)

    # -- learning about work scheduled outside a pass ------------------------------

    def _hook_selector(self, loop):
        sel = getattr(loop, "_selector", None)
        select = getattr(sel, "select", None)
        if select is None or getattr(select, "__self__", None) is not sel:
            return  # not a Python selector (uvloop…): front ends call wake()
        hl = self.hub.loop
        has_pending_work = hl.has_pending_work
        next_deadline = hl.next_deadline

        def select_with_hub(timeout=None):
            # Runs once per asyncio iteration, just before it may block.
            if self._soon is None and not self._in_pass:
                if has_pending_work():
                    self.wake()
                    timeout = 0
                else:
                    deadline = next_deadline()
                    if deadline != self._armed:
                        self._arm(deadline)
                        if deadline is not None:
                            delay = deadline - _monotonic()
                            delay = delay if delay > 0 else 0
                            if timeout is None or delay < timeout:
                                timeout = delay
            hooks = self.idle_hooks
            if hooks is None or timeout == 0:
                return select(timeout)
            hooks[0]()
            try:
                return select(timeout)
            finally:
                hooks[1]()

        self._selector = sel
        sel.select = select_with_hub

    def _unhook_selector(self):
        sel = self._selector
        self._selector = None
        if sel is not None and "select" in getattr(sel, "__dict__", {}):
            del sel.select

    # -- interrupts -------------------------------------------------------------------

    def _default_interrupt(self, exc: BaseException) -> None:
        if isinstance(exc, SystemExit):
            raise exc          # sys.exit() in a greenlet ends the program, as with gevent
        fg = self.foreground
        if fg is not None and not fg.done():
            fg.cancel("KeyboardInterrupt")
            return
        try:
            self.hub.exception_stream.write("KeyboardInterrupt\n")
        except Exception:
            pass

    def __repr__(self):
        state = f"attached to {self.loop!r}" if self.loop is not None else "detached"
        return f"<Bridge at {id(self):#x} {state} passes={self.passes}>"


def get_bridge(hub: Hub | None = None) -> Bridge | None:
    """The bridge of ``hub`` (default: this thread's hub), attached or not; None if never made."""
    if hub is None:
        hub = get_hub()
    return getattr(hub, "bridge", None) or getattr(hub, "_last_bridge", None)


def attach(loop: asyncio.AbstractEventLoop | None = None) -> Bridge:
    """Drive this thread's hub from ``loop`` (default: the running, else the
    current, asyncio loop). Idempotent: returns the existing bridge."""
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
    hub = get_hub()
    bridge = get_bridge(hub)
    if bridge is None:
        bridge = Bridge(hub)
        hub._last_bridge = bridge
    if bridge.loop is not None and bridge.loop is not loop:
        bridge.detach()
    bridge.attach(loop)
    return bridge


def detach() -> None:
    """Detach this thread's hub from its asyncio loop, if attached."""
    bridge = getattr(get_hub(), "bridge", None)
    if bridge is not None:
        bridge.detach()

