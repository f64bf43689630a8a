"""gevent's line-mode backdoor: ``BackdoorServer``."""

from __future__ import annotations

import builtins
import code
import sys
from typing import Any

from ..event import Event
from ..greenlet import Greenlet
from ..server import StreamServer
from ._routing import route_output, sink_var, unroute_output

__all__ = ["BackdoorServer"]


class _Quitter:
    """``quit()``/``exit()`` at the backdoor: end this connection, not the program."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"Use {self.name}() or Ctrl-D (EOF) to close this connection"

    def __call__(self, code=None):
        raise SystemExit(code)


class _LineConsole(code.InteractiveConsole):
    def __init__(self, session, namespace):
        super().__init__(namespace, filename="<backdoor>")
        self._session = session

    def write(self, data):
        self._session.write_output("stderr", data)

    def raw_input(self, prompt=""):
        self._session.write_output("stdout", prompt)
        line = self._session.readline()
        if not line:
            raise EOFError
        return line.decode("utf-8", "replace").rstrip("\r\n")


class _LineSession:
    """One line-mode connection: buffered output (writes may come from the hub,
    which must not block) sent by a writer greenlet, and line reads."""

    def __init__(self, sock):
        self.sock = sock
        self.closed = False
        self._out = bytearray()
        self._wake = Event()
        self._drained = Event()
        self._drained.set()
        self._rfile = sock.makefile("rb")
        self._writer = Greenlet(self._write_loop)
        self._writer.start()

    def write_output(self, stream, text):
        if self.closed:
            return len(text)
        self._out += text.encode("utf-8", "replace").replace(b"\n", b"\r\n")
        self._drained.clear()
        self._wake.set()
        return len(text)

    def readline(self):
        self.flush()
        return self._rfile.readline()

    def flush(self):
        """Wait until the writer sent what is buffered (or the connection died)."""
        if self._out and not self.closed:
            self._drained.wait()

    def _write_loop(self):
        try:
            while not self.closed:
                self._wake.wait()
                self._wake.clear()
                while self._out:
                    data = bytes(self._out)
                    self._out.clear()
                    self.sock.sendall(data)
                self._drained.set()
        except OSError:
            self.closed = True
        finally:
            self._drained.set()

    def close(self):
        try:
            self.flush()
        finally:
            self.closed = True
            self._wake.set()
            self._rfile.close()


class BackdoorServer(StreamServer):
    """gevent's backdoor: a line-mode Python prompt per connection.

    ``locals`` (a dict) is copied per connection; ``banner`` replaces the
    default greeting. Blocking statements block only their connection.
    There is no authentication: bind it to 127.0.0.1, or use :func:`listen`.
    """

    def __init__(self, listener: Any, locals: dict | None = None, banner: str | None = None,
                 **server_args: Any):
        if locals is not None and not isinstance(locals, dict):
            raise TypeError(f"locals must be a dict or None, got {locals!r}")
        if banner is not None and not isinstance(banner, str):
            raise TypeError(f"banner must be a str or None, got {banner!r}")
        super().__init__(listener, spawn=server_args.pop("spawn", "default"), **server_args)
        self.locals = locals
        self.banner = banner

    def _create_interactive_locals(self) -> dict:
        namespace = dict(self.locals) if self.locals is not None else {}
        namespace.setdefault("__builtins__", builtins)
        namespace["quit"] = _Quitter("quit")
        namespace["exit"] = _Quitter("exit")
        return namespace

    def _create_banner(self) -> str:
        if self.banner is not None:
            return self.banner
        return (f"Python {sys.version} on {sys.platform}\n"
                f"({type(self).__name__}; quit() or Ctrl-D closes this connection)")

    def handle(self, conn, address) -> None:
        session = _LineSession(conn)
        console = _LineConsole(session, self._create_interactive_locals())
        sink_var.set(session)   # this handler greenlet's own context copy
        route_output()
        try:
            console.interact(banner=self._create_banner(), exitmsg="")
        except SystemExit:
            pass
        finally:
            unroute_output()
            session.close()
