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

Both get the line magics ``%monkey``, ``%greenlets``, ``%where``, ``%kill``,
``%joinall``, ``%blocking``, ``%tag`` and ``%coophelp`` (``%help`` in the
coopshell kernel; see :mod:`coopshell.interactive.magics`), progress bars
(in Jupyter one display updated in place; in the terminal a stderr bar
that keeps off the prompt: :mod:`.bars`), tagged output when asked for (``c.Coopshell.tag = True`` in
the IPython config, ``COOPSHELL_TAG=1``, or ``%tag on``), HTML renderings of
``Greenlet``, ``Group`` and ``Pool`` in Jupyter (:mod:`.html`), the one
Ctrl-C policy (:mod:`.interrupt`) and trimmed tracebacks (:mod:`.errors`).
``%unload_ext coopshell`` undoes all of it; running greenlets keep their
state and run again on the next blocking call.
"""

from __future__ import annotations

import select as _select
import signal as _signal
import sys
import time
from typing import Any, Callable

from .. import monkey as _monkey
from .. import progress as _progress
from .._core.hub import get_hub
from . import bars as _bars
from . import bridge as _bridge
from . import errors as _errors
from . import html as _html
from . import interrupt as _interrupt
from . import tagging as _tagging

__all__ = ["load_ipython_extension", "unload_ipython_extension", "install", "uninstall",
           "MAGIC_NAMES", "greenlet_table_html", "INPUTHOOK_NAME", "greenlet_aware_sigint",
           "KERNEL_MODULES", "TERMINAL_MODULES"]

#: The line magics the extension registers (``help`` as ``%coophelp``, unless ``help_name``).
MAGIC_NAMES = ("monkey", "greenlets", "where", "kill", "joinall", "blocking", "tag", "help")

#: The name the terminal input hook is registered under (``%gui coopshell``).
INPUTHOOK_NAME = "coopshell"

#: Module prefixes of a Jupyter kernel's own machinery (reported apart by ``%monkey``).
KERNEL_MODULES = ("ipykernel", "jupyter_client", "jupyter_core", "zmq", "tornado", "IPython",
                  "traitlets", "comm", "debugpy", "_pydevd_bundle", "_pydev_bundle", "pydevd",
                  "_pydevd_frame_eval", "_pydev_runfiles", "pydevd_plugins", "prompt_toolkit",
                  "psutil", "jedi", "parso", "matplotlib_inline", "nest_asyncio")
#: Module prefixes of terminal IPython's own machinery.
TERMINAL_MODULES = ("IPython", "prompt_toolkit", "traitlets", "jedi", "parso", "pygments")

greenlet_table_html = _html.greenlet_table_html

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
                 "interactive", "tracking", "custom_exc", "reporter", "front_end", "bars", "tagged")

    def __init__(self) -> None:
        self.bridge: _bridge.Bridge | None = None
        self.kernel: Any = None
        self.magics: list[str] = []
        self.formatters: list[tuple[Any, Any, Any]] = []
        self.events: list[tuple[str, Callable]] = []
        self.gui = False
        self.sigint: Any = None
        self.interactive = False
        self.tracking = False    # we turned on the magics' greenlet registry
        self.custom_exc: Any = None
        self.reporter: Any = None
        self.front_end: tuple[str, ...] = ()
        self.bars = False        # we set the Jupyter progress renderer
        self.tagged = False      # we turned tagging on at install


def install(ip: Any, kernel: Any = None, help_name: str = "coophelp",
            tag: bool | None = None) -> None:
    """Wire coopshell into the IPython shell ``ip`` (idempotent).

    ``kernel`` is the ipykernel ``Kernel`` when there is one (default:
    ``ip.kernel`` if it exists); its asyncio loop must already exist.
    ``help_name``: the name ``%help`` gets (IPython has no ``%help`` of its own,
    but a stock kernel's users may define one; the coopshell kernel uses ``help``).
    ``tag``: start with tagged output on (None: ``c.Coopshell.tag`` in the
    IPython config, else ``$COOPSHELL_TAG``).
    """
    if getattr(ip, "_coopshell_installed", None) is not None:
        return
    from . import magics as _magics

    state = _Installed()
    state.interactive = _monkey.INTERACTIVE
    _monkey.INTERACTIVE = True
    if kernel is None:
        kernel = getattr(ip, "kernel", None)
    state.kernel = kernel
    state.front_end = KERNEL_MODULES if kernel is not None else TERMINAL_MODULES
    _magics.set_front_end_modules(state.front_end)
    _register_magics(ip, state, rich=kernel is not None, help_name=help_name)
    state.formatters = _html.register_formatters(ip)
    state.custom_exc = _errors.install_ipython(ip)
    hub = get_hub()
    policy = _interrupt.get_policy(hub)
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
    policy.loop = state.bridge.loop if state.bridge is not None else None
    if "print_exception" not in hub.__dict__:
        state.reporter = _errors.ErrorReporter(hub, policy.loop, foreground=lambda: policy.foreground)
        hub.print_exception = state.reporter
    _progress.set_default_renderer(_bars.display_bar if kernel is not None
                                   else _bars.terminal_bars(ip))
    state.bars = True
    if tag is None:
        section = getattr(ip, "config", {}).get("Coopshell", {})
        tag = section.get("tag") if hasattr(section, "get") else None
    try:
        if _tagging.wanted(tag) and not _tagging.enabled():
            _tagging.enable()
            state.tagged = True
    except ValueError as exc:
        print(f"coopshell: {exc}; tagged output stays off", file=sys.stderr)
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
    if state.sigint is not None:
        _interrupt.get_policy().uninstall()
    hub = get_hub()
    if state.reporter is not None and hub.__dict__.get("print_exception") is state.reporter:
        if state.reporter.pending:
            state.reporter.flush()
        del hub.print_exception
    if state.bars:
        _progress.set_default_renderer(None)
    _tagging.disable()
    _errors.uninstall_ipython(ip, state.custom_exc)
    _html.unregister_formatters(state.formatters)
    magics = ip.magics_manager.magics["line"]
    for name in state.magics:
        magics.pop(name, None)
    from . import magics as _magics

    if state.tracking:
        _magics.disable_tracking()
    _magics.set_front_end_modules(())
    _monkey.INTERACTIVE = state.interactive


# -- interrupts --------------------------------------------------------------------

def greenlet_aware_sigint(signum: int, frame: Any) -> None:
    """SIGINT handler: the policy of :mod:`coopshell.interactive.interrupt`
    (``KeyboardInterrupt`` for the foreground only; a second SIGINT kills a
    greenlet that starves the hub)."""
    _interrupt.get_policy().handle(signum, frame)


def main_is_parked(hub: Any) -> bool:
    """True when the main greenlet is blocked in the hub (not running a bridge pass)."""
    from greenlet import getcurrent

    if getcurrent() is hub.parent:
        return False
    b = _bridge.get_bridge(hub)
    return not (b is not None and b.in_pass)


# -- magics ------------------------------------------------------------------------

def _register_magics(ip: Any, state: _Installed, rich: bool, help_name: str) -> None:
    from . import magics as _magics

    if not _magics.tracking_enabled():
        _magics.enable_tracking()
        state.tracking = True
    for name in MAGIC_NAMES:
        fn = _make_magic(_magics, name, rich)
        as_name = help_name if name == "help" else name
        ip.register_magic_function(fn, "line", as_name)
        state.magics.append(as_name)


def _make_magic(magics: Any, name: str, rich: bool) -> Callable[[str], None]:
    def line_magic(line: str = "") -> None:
        try:
            if rich and name == "greenlets":
                shown, summary = magics.commands.select_rows(line)
                _display_html(_html.greenlet_table_html(shown, caption=summary),
                              magics.greenlets(line))
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
    if _signal.getsignal(_signal.SIGINT) is _default_int_handler:
        policy = _interrupt.get_policy()
        policy.mode = "exec"
        policy.install()
        state.sigint = True


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
    while True:
        if hl.has_pending_work():
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
