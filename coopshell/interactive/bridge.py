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
a cell, an asyncio task) can schedule hub work without the hub running:
``co.spawn(f)``, ``event.set()``, ``spawn_later``. Nothing in the hub's epoll
set changes, so asyncio would not notice. Rejected: a hook on every schedule
(a cost per switch on the hottest path). Chosen, zero cost per switch: a
selector by composition, :class:`BridgeSelector`, which asyncio calls just
before it may block. It asks the hub loop through its doors
(``has_pending_work()``, ``next_deadline()``): if the hub has work it
schedules a pass and polls with timeout 0; if the first timer moved, it
re-arms and shortens the timeout. One check per asyncio iteration.

- Where the front end owns the asyncio loop (the coopshell shell) it builds
  it as ``asyncio.SelectorEventLoop(BridgeSelector())`` and passes the
  selector to :meth:`Bridge.attach`, the way prompt_toolkit's
  ``InputHookSelector`` is used.
- Where it does not (a Jupyter kernel's tornado loop, IPython's loop), the
  bridge wraps the loop's existing selector in a ``BridgeSelector`` and puts
  it in the loop's ``_selector`` slot, and puts the original back on detach.
  That single attribute is the least private hook asyncio offers: the
  loop's own code reads it on every iteration, and the wrapper delegates
  every other selector method unchanged.
- Loops without a Python selector (uvloop): front ends call
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
import selectors
from time import monotonic as _monotonic
from typing import Any, Callable

from greenlet import getcurrent as _getcurrent

from .._core.hub import Hub, get_hub

__all__ = ["Bridge", "BridgeSelector", "attach", "detach", "get_bridge", "new_event_loop"]


class BridgeSelector(selectors.BaseSelector):
    """A selector that lets a :class:`Bridge` look at the hub before asyncio blocks.

    Wraps another selector (default: ``selectors.DefaultSelector()``) and
    delegates everything to it; only ``select()`` first asks the bridge for
    hub work scheduled since the last pass (and may shorten the timeout),
    and runs the bridge's ``idle_hooks`` around a blocking select.
    """

    def __init__(self, selector: selectors.BaseSelector | None = None, bridge: Bridge | None = None):
        self.inner: selectors.BaseSelector = selector if selector is not None else selectors.DefaultSelector()
        #: The bridge consulted before each select (None: a plain selector).
        self.bridge = bridge

    def register(self, fileobj, events, data=None):
        return self.inner.register(fileobj, events, data)

    def unregister(self, fileobj):
        return self.inner.unregister(fileobj)

    def modify(self, fileobj, events, data=None):
        return self.inner.modify(fileobj, events, data)

    def select(self, timeout=None):
        b = self.bridge
        if b is None:
            return self.inner.select(timeout)
        timeout = b._before_select(timeout)
        hooks = b.idle_hooks
        if hooks is None or timeout == 0:
            return self.inner.select(timeout)
        hooks[0]()
        try:
            return self.inner.select(timeout)
        finally:
            hooks[1]()

    def close(self):
        self.bridge = None
        self.inner.close()

    def get_key(self, fileobj):
        return self.inner.get_key(fileobj)

    def get_map(self):
        return self.inner.get_map()


def new_event_loop() -> tuple[asyncio.AbstractEventLoop, BridgeSelector]:
    """A new asyncio loop built on a :class:`BridgeSelector`, and the selector
    (for front ends that own the loop: pass both to :func:`attach`)."""
    selector = BridgeSelector()
    return asyncio.SelectorEventLoop(selector), selector


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
        #: The BridgeSelector consulted before asyncio blocks (None: uvloop & co).
        self.selector: BridgeSelector | None = None
        self._swapped: selectors.BaseSelector | None = None  # the loop's own selector we wrapped
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

    def attach(self, loop: asyncio.AbstractEventLoop, selector: BridgeSelector | None = None) -> None:
        """Start driving the hub from ``loop`` (must run in the hub's thread).

        ``selector``: the :class:`BridgeSelector` ``loop`` was built on, if
        the caller built it (see :func:`new_event_loop`); otherwise the
        loop's own selector is wrapped (see the module docstring).
        """
        if not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(f"attach() expected an asyncio event loop, got {loop!r}")
        if selector is not None and not isinstance(selector, BridgeSelector):
            raise TypeError(f"attach(selector=) expected a BridgeSelector, got {selector!r}")
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
        self._hook_selector(loop, selector)
        hub.bridge = self
        det = getattr(hub, "blocking_detector", None)
        if det is not None and det.running:
            det.hook_bridge()
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
        self._unhook_selector(loop)
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

    def _before_select(self, timeout):
        # Runs once per asyncio iteration, just before it may block.
        if self._soon is not None or self._in_pass or self.loop is None:
            return timeout
        hl = self.hub.loop
        if hl.closed:
            return timeout
        if hl.has_pending_work():
            self.wake()
            return 0
        deadline = hl.next_deadline()
        if deadline != self._armed:
            self._arm(deadline)
            if deadline is not None:
                delay = deadline - _monotonic()
                delay = delay if delay > 0 else 0
                if timeout is None or delay < timeout:
                    timeout = delay
        return timeout

    def _hook_selector(self, loop, selector):
        if selector is None:
            inner = getattr(loop, "_selector", None)   # the one private slot: see the docstring
            if isinstance(inner, BridgeSelector):
                selector = inner
            elif isinstance(inner, selectors.BaseSelector):
                selector = BridgeSelector(inner)
                loop._selector = selector
                self._swapped = inner
            else:
                return  # not a Python selector (uvloop…): front ends call wake()
        selector.bridge = self
        self.selector = selector

    def _unhook_selector(self, loop):
        sel, inner = self.selector, self._swapped
        self.selector = self._swapped = None
        if sel is not None and sel.bridge is self:
            sel.bridge = None
        if inner is not None and getattr(loop, "_selector", None) is sel:
            loop._selector = inner

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


def attach(loop: asyncio.AbstractEventLoop | None = None,
           selector: BridgeSelector | None = None) -> Bridge:
    """Drive this thread's hub from ``loop`` (default: the running, else the
    current, asyncio loop); ``selector`` as in :meth:`Bridge.attach`.
    Idempotent: returns the existing bridge."""
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
    bridge.attach(loop, selector)
    return bridge


def detach() -> None:
    """Detach this thread's hub from its asyncio loop, if attached."""
    bridge = getattr(get_hub(), "bridge", None)
    if bridge is not None:
        bridge.detach()

