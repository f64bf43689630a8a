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
- Interrupts: while a cell runs, SIGINT raises ``KeyboardInterrupt`` in the
  foreground (the cell) only; a background greenlet that happened to be
  running when the signal arrived is not hurt (see
  :func:`~coopshell.interactive.ipython_ext.greenlet_aware_sigint`).
- The magics (``%monkey``, ``%greenlets``, ``%kill``, ``%joinall``,
  ``%blocking``) and HTML reprs are those of the IPython extension, and
  ``coopshell.monkey.INTERACTIVE`` is set, so ``%monkey`` leaves the kernel's
  own threads (iopub, control, heartbeat) their real ``threading``.
- Shutdown and restart kill the remaining greenlets quietly.
"""

from __future__ import annotations

import asyncio
import gc
import io
import signal as _signal
from contextlib import contextmanager
from typing import Any, Iterator

from ipykernel.ipkernel import IPythonKernel
from ipykernel.kernelapp import IPKernelApp
from traitlets import Type

from .. import __version__
from .._core.hub import get_hub, get_hub_if_exists
from ..greenlet import Greenlet
from . import ipython_ext as _ext

__all__ = ["CoopKernel", "CoopKernelApp", "main", "kill_all_greenlets"]

_signal_signal = _signal.signal


class CoopKernel(IPythonKernel):
    """An ``IPythonKernel`` whose asyncio loop also drives the coopshell hub."""

    implementation = "coopshell"
    implementation_version = __version__

    @property
    def banner(self) -> str:  # type: ignore[override]
        return (super().banner + f"coopshell {__version__}: greenlets keep running between "
                "cells. Magics: %monkey %greenlets %kill %joinall %blocking\n")

    def start(self) -> None:
        """Start the kernel, then attach the bridge and load the magics."""
        super().start()
        if self.shell is not None:
            _ext.install(self.shell, kernel=self)

    def pre_handler_hook(self) -> None:
        """While a request runs, SIGINT interrupts the foreground greenlet only."""
        self.saved_sigint_handler = _signal_signal(_signal.SIGINT, _ext.greenlet_aware_sigint)

    @contextmanager
    def _cancel_on_sigint(self, future: asyncio.Future) -> Iterator[None]:
        """While an ``await`` cell runs, SIGINT cancels it, promptly.

        ipykernel's version schedules the cancel with ``call_soon`` from the
        signal handler, which does not wake the selector: the interrupt waits
        for the next unrelated event (measured: the whole ``asyncio.sleep``).
        Here the cancel is scheduled thread-safely (the self-pipe wakes the
        loop), and if the cell is blocked in the hub (a ``join`` inside an
        ``await`` cell) ``CancelledError`` is thrown into that wait.
        """
        loop = asyncio.get_running_loop()
        hub = get_hub()

        def cancel() -> None:
            if not future.done():
                future.cancel()

        def handle_sigint(signum: int, frame: Any) -> None:
            if _ext.main_is_parked(hub) and not hub.dead:
                hub.loop.run_callback_threadsafe(_ext._throw_into_main, hub,
                                                 asyncio.CancelledError)
            else:
                loop.call_soon_threadsafe(cancel)

        saved = _signal_signal(_signal.SIGINT, handle_sigint)
        try:
            yield
        finally:
            _signal_signal(_signal.SIGINT, saved)

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
    alive = [o for o in gc.get_objects() if isinstance(o, Greenlet) and o and o._hub is hub]
    if not alive:
        return 0
    stream = hub._exception_stream
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


def main(argv: list[str] | None = None) -> None:
    """Run the coopshell kernel (``python -m coopshell.kernel -f CONNECTION_FILE``)."""
    CoopKernelApp.launch_instance(argv=argv)
