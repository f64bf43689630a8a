"""A gunicorn worker that serves with ``coopshell.pywsgi``::

    gunicorn -k coopshell.gunicorn.Worker -w 4 --worker-connections 1000 app:app

Each worker process patches the stdlib when it starts (``monkey.patch_all``),
so blocking code in the application (``time.sleep``, ``requests``, database
drivers in pure Python) is cooperative, then serves up to
``worker_connections`` connections at once.

What it honours from gunicorn's settings:

- ``worker_connections``: the size of the handler pool;
- ``keepalive``: seconds an idle keep-alive connection is kept (0: one
  request per connection);
- ``max_requests`` (+ jitter): the worker stops accepting after that many
  requests, finishes those in flight and exits, and the master starts a
  fresh one;
- TERM (also what the master sends on HUP reload and on shutdown): stop
  accepting, let requests in flight finish for up to ``graceful_timeout``
  seconds, then close; QUIT/INT: exit at once;
- the heartbeat: ``notify()`` at least once a second, also while draining;
- ``accesslog``/``access_log_format`` through gunicorn's logger, and TLS
  (``certfile``/``keyfile``).

This module is an entry point, a layer above ``monkey`` (it patches, then
serves): it imports gunicorn and ``coopshell.monkey``, and nothing in
coopshell imports it. It is meant to be named by ``-k``.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from gunicorn.workers.base import Worker as _GunicornWorker

from . import monkey
from . import socket as csocket
from .pool import Pool
from .pywsgi import WSGIHandler, WSGIServer
from .socket import wait_read

__all__ = ["Worker", "GunicornHandler"]


class GunicornHandler(WSGIHandler):
    """A ``WSGIHandler`` that counts requests for ``max_requests`` and logs
    through gunicorn's access logger."""

    worker: Any = None

    def get_environ(self, head: bytes) -> dict:
        env = super().get_environ(head)
        env["RAW_URI"] = self.path
        env["gunicorn.socket"] = self.socket
        if not self.worker.alive or self.KEEPALIVE_TIMEOUT == 0:
            self.close_connection = True
        return env

    def log_request(self) -> None:
        worker = self.worker
        if self.environ is not None:
            worker.nr += 1
            if worker.nr >= worker.max_requests and worker.alive:
                worker.log.info("Autorestarting worker after current request.")
                worker.stop_soon()
        log = worker.log
        if self.environ is not None and log.access_log_enabled:
            took = timedelta(seconds=max(0.0, self.time_finish - self.time_start))
            log.access(_Response(self), self.environ, self.environ, took)


class Worker(_GunicornWorker):
    """gunicorn's worker contract (``init_process``/``run``/``notify``/the
    signal handlers) over one ``coopshell.pywsgi.WSGIServer`` per listener."""

    server_class = WSGIServer
    handler_class = GunicornHandler

    def init_process(self) -> None:
        self.patch()
        super().init_process()

    def patch(self) -> None:
        """Patch the stdlib and turn gunicorn's listeners into coopshell sockets."""
        monkey.patch_all()
        self.sockets = [csocket.socket(s.FAMILY, csocket.SOCK_STREAM, fileno=s.sock.detach())
                        for s in self.sockets]

    # -- signals: only flags here; the run loop acts on them ----------------------------

    def handle_exit(self, sig, frame) -> None:
        self.alive = False
        self._wake()

    def handle_quit(self, sig, frame) -> None:
        self.alive = False
        self._quit = True
        self._wake()

    def handle_usr1(self, sig, frame) -> None:
        self._reopen = True
        self._wake()

    def stop_soon(self) -> None:
        """End this worker after the requests in flight (``max_requests``)."""
        self.alive = False
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self.PIPE[1], b".")
        except OSError:
            pass    # the pipe is full: the run loop is awake anyway

    def notify(self) -> None:
        super().notify()
        if self.ppid != os.getppid():
            self.log.info("Parent changed, shutting down: %s", self)
            self.alive = False

    # -- the main loop -----------------------------------------------------------------

    def run(self) -> None:
        self._quit = getattr(self, "_quit", False)
        self._reopen = False
        cfg = self.cfg
        handler = type("Handler", (self.handler_class,),
                       {"worker": self, "KEEPALIVE_TIMEOUT": float(cfg.keepalive)})
        ssl_args = {}
        if cfg.is_ssl:
            from gunicorn.sock import ssl_context
            ssl_args["ssl_context"] = ssl_context(cfg)
        environ = {"wsgi.multithread": True, "wsgi.multiprocess": cfg.workers > 1,
                   "SERVER_SOFTWARE": f"coopshell gunicorn/{_gunicorn_version()}"}
        servers = []
        for sock in self.sockets:
            server = self.server_class(sock, application=self.wsgi,
                                       spawn=Pool(cfg.worker_connections), log=None,
                                       error_log=_ErrorLog(self.log), handler_class=handler,
                                       environ=environ, **ssl_args)
            server.start()
            servers.append(server)
        beat = min(1.0, max(0.1, self.timeout / 2.0)) if self.timeout else 1.0
        while self.alive:
            self.notify()
            try:
                wait_read(self.PIPE[0], timeout=beat)
            except TimeoutError:
                pass
            self._drain_pipe()
            if self._reopen:
                self._reopen = False
                self.log.reopen_files()
        for server in servers:
            server.close()       # stop accepting; idle keep-alive connections close now
        if self._quit:
            return
        deadline = time.monotonic() + cfg.graceful_timeout
        for server in servers:
            while len(server.pool) and time.monotonic() < deadline:
                self.notify()
                server.pool.join(timeout=min(beat, max(0.0, deadline - time.monotonic())))
        if any(len(server.pool) for server in servers):
            self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
        for server in servers:
            server.stop(timeout=0)

    def _drain_pipe(self) -> None:
        try:
            while os.read(self.PIPE[0], 512):
                pass
        except (BlockingIOError, InterruptedError):
            pass


# -- helpers ---------------------------------------------------------------------------

class _Response:
    """What gunicorn's access logger reads from a response."""

    __slots__ = ("status", "headers", "sent")

    def __init__(self, handler: WSGIHandler):
        self.status = handler.status or str(handler.code)
        self.headers = handler.response_headers if handler.headers_sent else []
        self.sent = handler.response_length


class _ErrorLog:
    """``error_log`` for the server: application errors go to gunicorn's error log."""

    def __init__(self, log: Any):
        self._log = log

    def write(self, msg: str) -> None:
        self._log.error(msg.rstrip("\n"))

    def flush(self) -> None:
        pass

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)


def _gunicorn_version() -> str:
    import gunicorn
    return gunicorn.__version__

