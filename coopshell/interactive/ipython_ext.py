"""The IPython extension: ``%load_ext coopshell`` runs the hub in IPython.

``%load_ext coopshell`` works in two hosts:

- **terminal IPython**: an input hook (``%gui coopshell``) runs the hub while
  the prompt waits for keys. The hook sleeps in one ``poll()`` on the
  terminal's fd and the hub loop's poll fd, with the hub's next timer as the
  timeout: no polling interval, no CPU while idle. The bridge is also
  attached to IPython's own asyncio loop, so greenlets progress while an
  ``await`` cell runs.
- **a Jupyter kernel** (stock ipykernel, or the coopshell kernel, which calls
  :func:`install` itself): the bridge is attached to the kernel's main-thread
  asyncio loop (never ``%gui``: a gui loop integration starves the kernel's
  own asyncio tasks).

Both get the line magics ``%monkey``, ``%greenlets``, ``%kill``, ``%joinall``
and ``%blocking`` (see :mod:`coopshell.interactive.magics`), and HTML
renderings of ``Greenlet``, ``Group`` and ``Pool`` in Jupyter.
``%unload_ext coopshell`` undoes all of it; running greenlets keep their
state and run again on the next blocking call.

The sync layer knows nothing of IPython: the HTML reprs are display
formatters registered here for those types, not methods on the classes.
"""

from __future__ import annotations

import html
import re
import select as _select
import signal as _signal
import sys
import time
from typing import Any, Callable

from greenlet import GreenletExit, getcurrent as _raw_getcurrent

from .. import monkey as _monkey
from .._core.hub import get_hub, get_hub_if_exists
from ..greenlet import Greenlet
from . import bridge as _bridge

__all__ = ["load_ipython_extension", "unload_ipython_extension", "install", "uninstall",
           "MAGIC_NAMES", "greenlet_table_html", "INPUTHOOK_NAME"]

#: The line magics the extension registers.
MAGIC_NAMES = ("monkey", "greenlets", "kill", "joinall", "blocking")

#: The name the terminal input hook is registered under (``%gui coopshell``).
INPUTHOOK_NAME = "coopshell"

# Captured at import: monkey patching select must not turn the hook against itself.
_poll = getattr(_select, "poll", None)
_POLLIN = getattr(_select, "POLLIN", 1)
_default_int_handler = _signal.default_int_handler
_monotonic = time.monotonic


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext coopshell``: magics, formatters, and the hub running while idle."""
    install(ip)


def unload_ipython_extension(ip: Any) -> None:
    """``%unload_ext coopshell``: detach the hub and remove the magics and formatters."""
    uninstall(ip)


class _Installed:
    """What :func:`install` changed in one shell, so :func:`uninstall` can undo it."""

    __slots__ = ("bridge", "kernel", "magics", "formatters", "events", "gui", "sigint",
                 "interactive", "tracking")

    def __init__(self) -> None:
        self.bridge: _bridge.Bridge | None = None
        self.kernel: Any = None
        self.magics: list[str] = []
        self.formatters: list[tuple[Any, Any, Any]] = []   # (formatter, type or (mod, name), old)
        self.events: list[tuple[str, Callable]] = []
        self.gui = False
        self.sigint: Any = None
        self.interactive = False
        self.tracking = False    # we turned on the magics' greenlet registry


def install(ip: Any, kernel: Any = None) -> None:
    """Wire coopshell into the IPython shell ``ip`` (idempotent).

    ``kernel`` is the ipykernel ``Kernel`` when there is one (default:
    ``ip.kernel`` if it exists); its asyncio loop must already exist.
    """
    if getattr(ip, "_coopshell_installed", None) is not None:
        return
    state = _Installed()
    state.interactive = _monkey.INTERACTIVE
    _monkey.INTERACTIVE = True
    if kernel is None:
        kernel = getattr(ip, "kernel", None)
    state.kernel = kernel
    _register_magics(ip, state, rich=kernel is not None)
    _register_formatters(ip, state)
    if kernel is not None:
        io_loop = getattr(kernel, "io_loop", None)
        if io_loop is None:
            # Loaded at startup (``c.InteractiveShellApp.extensions``), before the
            # kernel's start(): the main thread's current IOLoop is the one it will run.
            from tornado.ioloop import IOLoop

            io_loop = IOLoop.current()
        loop = io_loop.asyncio_loop
        state.bridge = _bridge.attach(loop)
    else:
        _install_terminal(ip, state)
    wake = _wake_after_cell
    ip.events.register("post_run_cell", wake)
    state.events.append(("post_run_cell", wake))
    ip._coopshell_installed = state


def uninstall(ip: Any) -> None:
    """Undo :func:`install` on ``ip``."""
    state = getattr(ip, "_coopshell_installed", None)
    if state is None:
        return
    ip._coopshell_installed = None
    for event, cb in state.events:
        try:
            ip.events.unregister(event, cb)
        except ValueError:
            pass
    if state.bridge is not None:
        state.bridge.detach()
    if state.gui:
        if getattr(ip, "active_eventloop", None) == INPUTHOOK_NAME:
            ip.enable_gui(None)
    if state.sigint is not None and _signal.getsignal(_signal.SIGINT) is greenlet_aware_sigint:
        _signal.signal(_signal.SIGINT, state.sigint)
    for fmt, key, old in state.formatters:
        try:
            if isinstance(key, tuple):
                fmt.deferred_printers.pop(key, None)
                fmt.type_printers.pop(_resolve(key), None)
            else:
                fmt.pop(key, None)
            if old is not None:
                if isinstance(key, tuple):
                    fmt.for_type_by_name(key[0], key[1], old)
                else:
                    fmt.for_type(key, old)
        except Exception:
            pass
    magics = ip.magics_manager.magics["line"]
    for name in state.magics:
        magics.pop(name, None)
    if state.tracking:
        from . import magics as _magics

        _magics.disable_tracking()
    _monkey.INTERACTIVE = state.interactive


# -- interrupts --------------------------------------------------------------------

def greenlet_aware_sigint(signum: int, frame: Any) -> None:
    """SIGINT handler: ``KeyboardInterrupt`` for the foreground (main greenlet) only.

    Python runs signal handlers in whatever greenlet is current. In the main
    greenlet this raises as the default handler does. Anywhere else the main
    greenlet is parked in the hub (a ``join`` or ``sleep`` in a cell), and
    raising here would kill a background greenlet or break into the loop's
    bookkeeping; so the interrupt is queued as a thread-safe hub callback
    (which also wakes a blocking poll) that throws it into the main greenlet.

    A greenlet that computes without ever yielding keeps the hub from running
    that callback: a second SIGINT while the first is still pending kills
    that greenlet (``GreenletExit``, quietly) and the main greenlet gets the
    ``KeyboardInterrupt`` first thing when the hub runs again.
    """
    hub = get_hub_if_exists()
    cur = _raw_getcurrent()
    if hub is None or cur is hub.parent or hub.dead or hub.loop.closed:
        raise KeyboardInterrupt
    if _pending_interrupt:
        _pending_interrupt.clear()          # the queued one becomes a no-op
        if cur is hub:
            raise KeyboardInterrupt         # the hub forwards it to the main greenlet
        token = object()
        _pending_interrupt.append(token)
        # Runs before anything else the hub has queued, e.g. the links that
        # would wake the main greenlet's join normally once `cur` is dead.
        victim = getattr(cur, "task", None) or cur   # the Greenlet a worker runs
        hub.loop.schedule_first(_interrupt_main, hub, token, victim)
        raise GreenletExit
    token = object()
    _pending_interrupt.append(token)
    hub.loop.run_callback_threadsafe(_interrupt_main, hub, token)


# The token of the interrupt queued by greenlet_aware_sigint, if any.
_pending_interrupt: list[object] = []


def _interrupt_main(hub: Any, token: object, killed: Any = None) -> None:
    if token not in _pending_interrupt:
        return
    _pending_interrupt.clear()
    if killed is not None:
        try:
            hub.exception_stream.write(f"KeyboardInterrupt: killed {killed!r}, which kept "
                                       "the hub busy\n")
        except Exception:
            pass
    if main_is_parked(hub):     # else the foreground wait is over already
        hub.parent.throw(KeyboardInterrupt())


def _throw_into_main(hub: Any, exc_type: type) -> None:
    hub.parent.throw(exc_type())


def main_is_parked(hub: Any) -> bool:
    """True when the main greenlet is blocked in the hub (not running a bridge pass)."""
    if _raw_getcurrent() is hub.parent:
        return False
    b = _bridge.get_bridge(hub)
    return not (b is not None and b._in_pass)


# -- magics ------------------------------------------------------------------------

def _register_magics(ip: Any, state: _Installed, rich: bool) -> None:
    from .. import greenlet as _greenlet_mod
    from . import magics as _magics

    if _magics._observe not in _greenlet_mod._spawn_observers:
        _magics.enable_tracking()
        state.tracking = True
    for name in MAGIC_NAMES:
        fn = _make_magic(_magics, name, rich)
        ip.register_magic_function(fn, "line", name)
        state.magics.append(name)


def _make_magic(magics: Any, name: str, rich: bool) -> Callable[[str], None]:
    def line_magic(line: str = "") -> None:
        try:
            if rich and name == "greenlets" and all(a in ("-a", "--all") for a in line.split()):
                gs = magics.tracked(include_finished=bool(line.split()))
                _display_html(greenlet_table_html(gs), magics.greenlets(line))
                return
            if rich and name == "joinall":
                _joinall_with_progress(magics, line)
                return
            out = magics.run_magic(f"{name} {line}")
        except magics.MagicError as exc:
            print(str(exc), file=sys.stderr)
            return
        if out:
            print(out)

    line_magic.__name__ = name
    doc = getattr(magics.MAGICS.get(name), "__doc__", None)
    line_magic.__doc__ = doc or f"coopshell %{name}"
    return line_magic


def _display_html(html_text: str, plain: str) -> None:
    from IPython.display import display

    display({"text/html": html_text, "text/plain": plain}, raw=True)


_PROGRESS = re.compile(r"(\d+)/(\d+) done")


def _progress_html(text: str) -> str:
    m = _PROGRESS.search(text)
    bar = ""
    if m is not None:
        bar = (f'<progress value="{m.group(1)}" max="{m.group(2)}" style="width:16em">'
               "</progress> ")
    return f'<div class="coopshell-joinall">{bar}{html.escape(text)}</div>'


def _joinall_with_progress(magics: Any, line: str) -> None:
    """``%joinall`` in Jupyter: the same wait, with a live progress bar."""
    from IPython.display import HTML, display

    handle = None

    def progress(text: str) -> None:
        nonlocal handle
        if handle is None:
            handle = display(HTML(_progress_html(text)), display_id=True)
        else:
            handle.update(HTML(_progress_html(text)))

    out = magics.run_magic(f"joinall {line}", progress=progress)
    if handle is not None and out:
        handle.update(HTML(_progress_html(out)))
    if out:
        print(out)


# -- HTML formatters ------------------------------------------------------------------

_TABLE_STYLE = "border-collapse:collapse;font-family:monospace;font-size:90%"


def _greenlet_row(g: Greenlet, now: float) -> str:
    e = html.escape
    age = now - getattr(g, "spawn_time", now)
    try:
        func = g._formatinfo()
    except Exception:
        func = "?"
    try:
        from .magics import describe_state

        state = describe_state(g)
    except Exception:
        state = g.state
    return (f"<tr><td>{g.minimal_ident}</td><td>{e(g.name)}</td><td>{e(func)}</td>"
            f"<td>{e(state)}</td><td>{age:.1f} s</td></tr>")


def greenlet_table_html(greenlets: Any, caption: str | None = None) -> str:
    """An HTML table (id, name, function, state, age) of ``greenlets``."""
    now = _monotonic()
    rows = "".join(_greenlet_row(g, now) for g in greenlets if isinstance(g, Greenlet))
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    if not rows:
        rows = '<tr><td colspan="5"><i>no greenlets</i></td></tr>'
    return (f'<table class="coopshell-greenlets" style="{_TABLE_STYLE}">{cap}'
            "<thead><tr><th>id</th><th>name</th><th>function</th><th>state</th>"
            f"<th>age</th></tr></thead><tbody>{rows}</tbody></table>")


def _greenlet_html(g: Greenlet) -> str:
    return greenlet_table_html([g])


def _group_html(group: Any) -> str:
    members = sorted(group, key=lambda g: g.minimal_ident)
    size = getattr(group, "size", None)
    what = type(group).__name__
    cap = f"{what}: {len(members)} greenlet(s)"
    if size is not None:
        cap += f", size {size}, {getattr(group, 'free_count', lambda: '?')()} free"
    return greenlet_table_html(members, cap)


# (module, class name) of types rendered as tables; resolved lazily by IPython.
_DEFERRED = (("coopshell.pool", "Group", _group_html), ("coopshell.pool", "Pool", _group_html))


def _register_formatters(ip: Any, state: _Installed) -> None:
    fmt = ip.display_formatter.formatters.get("text/html")
    if fmt is None:
        return
    old = fmt.for_type(Greenlet, _greenlet_html)
    state.formatters.append((fmt, Greenlet, old))
    for mod, name, fn in _DEFERRED:
        key = (mod, name)
        cls = _resolve(key)
        if cls is not None:
            old = fmt.for_type(cls, fn)
            state.formatters.append((fmt, cls, old))
        else:
            old = fmt.for_type_by_name(mod, name, fn)
            state.formatters.append((fmt, key, old))


def _resolve(key):
    mod = sys.modules.get(key[0])
    return getattr(mod, key[1], None) if mod is not None else None


# -- running the hub while idle ---------------------------------------------------------

def _wake_after_cell(*args: Any) -> None:
    # A cell may have spawned greenlets without blocking: make sure a pass follows.
    b = _bridge.get_bridge()
    if b is not None and b.attached:
        b.wake()


def _install_terminal(ip: Any, state: _Installed) -> None:
    from IPython.terminal import pt_inputhooks

    pt_inputhooks.register(INPUTHOOK_NAME, inputhook)
    if getattr(ip, "active_eventloop", None) in (None, INPUTHOOK_NAME):
        ip.enable_gui(INPUTHOOK_NAME)
        state.gui = True
    else:
        print(f"coopshell: %gui {ip.active_eventloop} is active; greenlets run only while "
              f"a cell blocks (run %gui, then %gui {INPUTHOOK_NAME})", file=sys.stderr)
    # ``await`` cells run on IPython's own asyncio loop: let it drive the hub too.
    try:
        from IPython.core.async_helpers import get_asyncio_loop

        state.bridge = _bridge.attach(get_asyncio_loop())
    except Exception:  # pragma: no cover - a host without an asyncio loop
        state.bridge = None
    old = _signal.getsignal(_signal.SIGINT)
    if old is _default_int_handler:
        _signal.signal(_signal.SIGINT, greenlet_aware_sigint)
        state.sigint = old


def inputhook(context: Any) -> None:
    """prompt_toolkit input hook: run the hub until the terminal has input.

    Sleeps in ``poll()`` on the terminal fd and the hub loop's fd, with the
    hub's next timer deadline as timeout; each wakeup runs one non-blocking
    hub pass. Returns as soon as input is ready.
    """
    hub = get_hub()
    hl = hub.loop
    if hub.dead or hl.closed or _poll is None:
        return
    in_fd = context.fileno()
    poller = _poll()
    poller.register(in_fd, _POLLIN)
    poller.register(hl.fileno(), _POLLIN)
    has_pending_work = hl.has_pending_work
    while True:
        if has_pending_work():
            timeout: int | None = 0
        else:
            deadline = hl.next_deadline()
            if deadline is None:
                timeout = None
            else:
                delay = deadline - _monotonic()
                timeout = 0 if delay <= 0 else int(delay * 1000) + 1
        try:
            events = poller.poll(timeout)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            events = ()
        if context.input_is_ready() or any(fd == in_fd for fd, _ in events):
            return
        if hub.dead or hl.closed:
            return
        try:
            hub.run_nowait()
        except KeyboardInterrupt:
            hub.exception_stream.write("KeyboardInterrupt\n")
