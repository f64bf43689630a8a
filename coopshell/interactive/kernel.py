"""The coopshell Jupyter kernel: IPython's kernel with the hub running in it.

``python -m coopshell.kernel -f {connection_file}`` (the ``coopshell``
kernelspec, display name "Python 3 (coopshell)") starts
:class:`CoopKernelApp`, an ``IPKernelApp`` whose kernel is
:class:`CoopKernel`:

- On start the bridge is attached to the kernel's main-thread asyncio loop
  (``kernel.io_loop.asyncio_loop``; ipykernel 7 runs tornado on asyncio
  there). Background greenlets run between cells at zero CPU, and greenlets
  progress while an ``await`` cell waits.
- Cells run in the main greenlet: ``g.join()``, ``joinall``, ``sleep`` in a
  cell switch into the hub until they are woken.
- A spawned greenlet runs in a copy of the spawning cell's context, where
  ipykernel keeps the cell's parent header: its output goes to that cell,
  even after later cells ran.
- Interrupts follow the one policy of :mod:`coopshell.interactive.interrupt`:
  SIGINT raises ``KeyboardInterrupt`` in the foreground (the cell) only; a
  background greenlet that happened to be running is not hurt; a second
  SIGINT kills a greenlet that starves the hub.
- The magics (``%monkey``, ``%greenlets``, ``%where``, ``%kill``,
  ``%joinall``, ``%blocking``, ``%tag``, ``%help``), progress bars as one
  display updated in place, the HTML reprs and trimmed
  tracebacks are those of the IPython extension, and
  ``coopshell.monkey.INTERACTIVE`` is set, so ``%monkey`` leaves the kernel's
  own threads (iopub, control, heartbeat) their real ``threading``.
- ``co``, ``spawn``, ``joinall`` and ``sleep`` are predefined, as in the shell.
- ``--CoopKernel.tag=True`` (or ``COOPSHELL_TAG=1``) starts with ``%tag on``.
- ``python -m coopshell.kernel install [--user|--sys-prefix|--prefix P]
  [--name N] [--display-name D]`` writes a kernelspec that starts this
  kernel with this interpreter (how a Jupyter installed elsewhere gets it).
- Shutdown and restart kill the remaining greenlets quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator

from ipykernel.ipkernel import IPythonKernel
from ipykernel.kernelapp import IPKernelApp
from traitlets import Bool, Type

from .. import __version__
from .._core.hub import get_hub, get_hub_if_exists
from ..greenlet import Greenlet
from . import interrupt as _interrupt
from . import ipython_ext as _ext

__all__ = ["CoopKernel", "CoopKernelApp", "main", "kill_all_greenlets", "install_kernel_spec",
           "DEFAULT_NAME", "DEFAULT_DISPLAY_NAME"]

DEFAULT_NAME = "coopshell"
DEFAULT_DISPLAY_NAME = "Python 3 (coopshell)"
#: Names every coopshell front end predefines.
PREDEFINED = ("spawn", "joinall", "sleep")


class CoopKernel(IPythonKernel):
    """An ``IPythonKernel`` whose asyncio loop also drives the coopshell hub."""

    implementation = "coopshell"
    implementation_version = __version__

    tag = Bool(None, allow_none=True,
               help="Start with %tag on: lines that background greenlets print start with "
                    "[name] (default: $COOPSHELL_TAG)").tag(config=True)

    @property
    def banner(self) -> str:  # type: ignore[override]
        return (super().banner + f"coopshell {__version__}: greenlets keep running between "
                "cells; co, spawn, joinall, sleep are ready. %help lists the magics.\n")

    def start(self) -> None:
        """Start the kernel, then attach the bridge, load the magics, predefine names."""
        super().start()
        if self.shell is not None:
            _ext.install(self.shell, kernel=self, help_name="help", tag=self.tag)
            import coopshell

            ns = self.shell.user_ns
            ns.setdefault("co", coopshell)
            for name in PREDEFINED:
                ns.setdefault(name, getattr(coopshell, name))
            # Predefined names, not the user's: %who and `del` behave as for IPython's own.
            hidden = getattr(self.shell, "user_ns_hidden", None)
            if isinstance(hidden, dict):
                for name in ("co",) + PREDEFINED:
                    hidden.setdefault(name, ns[name])

    def pre_handler_hook(self) -> None:
        """While a request runs, SIGINT follows the one interrupt policy."""
        policy = _interrupt.get_policy(get_hub())
        policy.mode = "exec"
        import signal

        self.saved_sigint_handler = signal.signal(signal.SIGINT, policy.handle)

    @contextmanager
    def _cancel_on_sigint(self, future: asyncio.Future) -> Iterator[None]:
        """While an ``await`` cell runs, SIGINT cancels it, promptly.

        ipykernel's version schedules the cancel with ``call_soon`` from the
        signal handler, which does not wake the selector: the interrupt waits
        for the next unrelated event (measured: the whole ``asyncio.sleep``).
        The policy schedules the cancel thread-safely (the self-pipe wakes the
        loop), and if the cell is blocked in the hub (a ``join`` inside an
        ``await`` cell) throws ``CancelledError`` into that wait.
        """
        import signal

        policy = _interrupt.get_policy(get_hub())
        saved_mode, saved_fg, saved_loop = policy.mode, policy.foreground, policy.loop
        policy.mode, policy.foreground = "await", future
        policy.loop = asyncio.get_running_loop()
        policy.interrupted = False
        saved = signal.signal(signal.SIGINT, policy.handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, saved)
            policy.mode, policy.foreground, policy.loop = saved_mode, saved_fg, saved_loop

    def shutdown_greenlets(self) -> None:
        """In the main thread, once the loop stopped (shutdown or restart):
        kill the remaining greenlets quietly and detach the hub."""
        kill_all_greenlets()
        if self.shell is not None:
            _ext.uninstall(self.shell)


class CoopKernelApp(IPKernelApp):
    """``IPKernelApp`` running :class:`CoopKernel`."""

    name = "coopshell-kernel"
    kernel_class = Type(CoopKernel, klass="ipykernel.kernelbase.Kernel",
                        help="The kernel class to run (a CoopKernel).").tag(config=True)

    def start(self) -> None:
        """Run the kernel; after a shutdown request stops its loop (the
        request itself is handled in the control thread), clean up here in
        the main thread, where the hub lives."""
        try:
            super().start()
        finally:
            kernel = getattr(self, "kernel", None)
            if isinstance(kernel, CoopKernel):
                kernel.shutdown_greenlets()


def kill_all_greenlets(timeout: float = 1.0) -> int:
    """Kill every live Greenlet of this thread's hub without printing their
    exits; wait up to ``timeout`` for them. Returns how many were alive."""
    hub = get_hub_if_exists()
    if hub is None or hub.dead:
        return 0
    alive = [o for o in gc.get_objects() if isinstance(o, Greenlet) and o and o.parent is hub]
    if not alive:
        return 0
    stream = hub.exception_stream
    hub.exception_stream = io.StringIO()   # quietly: a greenlet's finally may still fail
    try:
        for g in alive:
            g.kill(block=False)
        from ..greenlet import joinall

        joinall(alive, timeout=timeout)
    except BaseException:
        pass
    finally:
        hub.exception_stream = stream
    return len(alive)


# -- python -m coopshell.kernel install ------------------------------------------------------

def _logo_dir() -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(sys.prefix, "share", "jupyter", "kernels", DEFAULT_NAME),
              os.path.normpath(os.path.join(here, "..", "..", "kernel"))):
        if os.path.isfile(os.path.join(d, "logo-64x64.png")):
            return d
    return None


def install_kernel_spec(name: str = DEFAULT_NAME, display_name: str = DEFAULT_DISPLAY_NAME,
                        user: bool = False, prefix: str | None = None) -> str:
    """Write a kernelspec that starts the coopshell kernel with this Python;
    returns the directory it was installed in (see ``jupyter kernelspec list``)."""
    from jupyter_client.kernelspec import KernelSpecManager

    if not name or not all(c.isalnum() or c in "-._" for c in name):
        raise ValueError(f"kernel name must be letters, digits, '-', '.' or '_', got {name!r}")
    spec = {
        "argv": [sys.executable, "-m", "coopshell.kernel", "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "kernel.json"), "w") as f:
            json.dump(spec, f, indent=1)
        logos = _logo_dir()
        if logos is not None:
            for logo in ("logo-32x32.png", "logo-64x64.png"):
                src = os.path.join(logos, logo)
                if os.path.isfile(src):
                    shutil.copy(src, tmp)
        return KernelSpecManager().install_kernel_spec(tmp, name, user=user, prefix=prefix)


def _install_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coopshell.kernel install",
        description="Install the coopshell Jupyter kernelspec: a Python kernel where coopshell "
                    "greenlets keep running between cells. The spec starts this interpreter "
                    f"({sys.executable}).")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true",
                       help="install for the current user (~/.local/share/jupyter/kernels)")
    where.add_argument("--sys-prefix", action="store_true",
                       help=f"install into this Python's prefix ({sys.prefix})")
    where.add_argument("--prefix", metavar="PREFIX",
                       help="install into PREFIX/share/jupyter/kernels (e.g. another environment)")
    parser.add_argument("--name", default=DEFAULT_NAME,
                        help=f"the kernelspec's name (default: {DEFAULT_NAME})")
    parser.add_argument("--display-name", default=None,
                        help=f"the name Jupyter shows (default: {DEFAULT_DISPLAY_NAME!r}, "
                             "or the --name if given)")
    args = parser.parse_args(argv)
    display = args.display_name
    if display is None:
        display = DEFAULT_DISPLAY_NAME if args.name == DEFAULT_NAME else f"Python 3 ({args.name})"
    prefix = sys.prefix if args.sys_prefix else args.prefix
    try:
        dest = install_kernel_spec(args.name, display, user=args.user, prefix=prefix)
    except (ValueError, OSError) as exc:
        print(f"coopshell.kernel install: {exc}", file=sys.stderr)
        return 1
    print(f"Installed kernelspec {args.name} ({display}) in {dest}")
    return 0


def main(argv: list[str] | None = None) -> None:
    """``python -m coopshell.kernel -f CONNECTION_FILE`` runs the kernel;
    ``python -m coopshell.kernel install …`` installs its kernelspec."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] == "install":
        sys.exit(_install_main(args[1:]))
    CoopKernelApp.launch_instance(argv=argv)
