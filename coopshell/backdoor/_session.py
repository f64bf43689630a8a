"""The attach server: accepting, checking who connects, one session per client."""

from __future__ import annotations

import contextvars
import hmac
import os
import socket as _std_socket
import sys
from typing import Any

import _socket
from greenlet import getcurrent as _raw_getcurrent

from .._core.hub import get_hub, sleep
from .._core.io_wait import cancel_wait, cancel_wait_error, wait_io
from .._core.loop import READ, WRITE
from ..event import Event
from ..greenlet import Greenlet
from . import _commands
from ._endpoint import peer_credentials
from ._protocol import PROTOCOL_VERSION, FrameDecoder, ProtocolError, encode_frame
from ._routing import route_output, sink_var, statement_var, unroute_output

__all__ = ["AttachServer", "HELLO_TIMEOUT", "active_servers"]

#: Seconds a new connection has to send its ``hello``.
HELLO_TIMEOUT = 10.0
_OUTBUF_HIGH = 1 << 20   # a greenlet writing more than this waits for the client to drain
#: Servers not closed yet (closed at exit, so their files go away).
active_servers: dict[int, AttachServer] = {}


class AttachServer:
    """Serves the attach protocol on one listening socket; made by :func:`listen`.

    ``address`` is the socket path or ``(host, port)``; ``token`` is None for a
    Unix socket; ``info_path`` is the endpoint file. ``close()`` stops listening
    and ends the sessions; the program's own greenlets are left alone."""

    def __init__(self, listener, namespace: dict | None, *, token: str | None,
                 info_path: str | None = None, unix_path: str | None = None):
        self._listener = listener
        self._namespace = namespace
        self.token = token
        self.info_path = info_path
        self.unix_path = unix_path
        self.address = listener.getsockname()
        self.sessions: set[_AttachSession] = set()
        self.refused = 0
        self.closed = False
        self._hub = get_hub()
        self._watcher = self._hub.loop.io(listener.fileno(), READ, ref=False)
        self._accepter = Greenlet(self._accept_loop)
        self._accepter.name = "coopshell-attach: accept"
        _commands.mark_internal(self._accepter)
        self._accepter.start()

    @property
    def namespace(self) -> dict:
        ns = self._namespace
        if ns is None:
            ns = sys.modules["__main__"].__dict__
        return ns

    def _accept_loop(self):
        sock = self._listener
        while not self.closed:
            try:
                fd, addr = sock._accept()
            except (BlockingIOError, InterruptedError):
                try:
                    wait_io(self._hub, self._watcher)
                except OSError:
                    return
                continue
            except OSError as exc:
                if self.closed:
                    return
                print(f"coopshell.backdoor: accept failed: {exc}", file=sys.__stderr__)
                sleep(0.1)
                continue
            conn = _socket.socket(sock.family, _std_socket.SOCK_STREAM, 0, fd)
            conn.setblocking(False)
            refusal = None
            if self.unix_path is not None:
                pid, uid, _gid = peer_credentials(conn)
                if uid != os.getuid():
                    self.refused += 1
                    print(f"coopshell.backdoor: refused an attach from uid {uid} (pid {pid}); "
                          f"only uid {os.getuid()} may attach", file=sys.__stderr__)
                    refusal = f"uid {uid} may not attach to a process of uid {os.getuid()}"
            # A refused peer still gets a session, which reads its hello before
            # answering: closing with unread data would reset the connection and
            # the peer would never see why.
            session = _AttachSession(self, conn, refusal)
            self.sessions.add(session)
            session.start()

    def close(self) -> None:
        """Stop listening, end every session, remove the socket and endpoint files."""
        if self.closed:
            return
        self.closed = True
        if self._watcher.callback is not None:
            cancel_wait(self._watcher, cancel_wait_error())
        self._hub.loop.closing_fd(self._listener.fileno())
        self._listener.close()
        for session in list(self.sessions):
            session.close(flush=True)   # what was already sent to the client reaches it (up to 1 s)
        for path in (self.unix_path, self.info_path):
            if path:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        active_servers.pop(id(self), None)

    def __enter__(self) -> AttachServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"{len(self.sessions)} session(s)"
        return f"<AttachServer {self.address!r} {state}>"


class _AttachSession:
    """One attached client: a reader greenlet, a writer greenlet, and a greenlet
    per running statement."""

    def __init__(self, server: AttachServer, conn, refusal: str | None = None):
        self.server = server
        self.conn = conn
        self.refusal = refusal
        self.closed = False
        self.authenticated = False
        self.running: dict[Any, Greenlet] = {}
        hub = self.hub = server._hub
        self._rw = hub.loop.io(conn.fileno(), READ, ref=False)
        self._ww = hub.loop.io(conn.fileno(), WRITE, ref=False)
        self._out = bytearray()
        self._wake = Event()
        self._drained = Event()
        self._drained.set()
        self._reader = self._writer = None

    def start(self):
        self._reader = Greenlet(self._read_loop)
        self._writer = Greenlet(self._write_loop)
        for g, name in ((self._reader, "read"), (self._writer, "write")):
            g.name = f"coopshell-attach: {name}"
            _commands.mark_internal(g)
            g.start()

    # -- sending (never blocks the hub) --------------------------------------------------

    def send(self, message: dict) -> None:
        if self.closed:
            return
        self._out += encode_frame(message)
        self._drained.clear()
        self._wake.set()

    def write_output(self, stream: str, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.closed:
            return len(text)
        self.send({"op": "output", "id": statement_var.get(), "stream": stream, "data": text})
        if len(self._out) > _OUTBUF_HIGH and _can_wait(self.hub):
            self._drained.wait()
        return len(text)

    def _write_loop(self):
        conn = self.conn
        while not self.closed:
            self._wake.wait()
            self._wake.clear()
            while self._out and not self.closed:
                try:
                    sent = conn.send(self._out)
                except (BlockingIOError, InterruptedError):
                    try:
                        wait_io(self.hub, self._ww)
                    except OSError:
                        return
                    continue
                except OSError:
                    self.close()
                    return
                del self._out[:sent]
            self._drained.set()

    # -- receiving -----------------------------------------------------------------------

    def _read_loop(self):
        sink_var.set(self)   # statements inherit it: their output comes here
        route_output()
        decoder = FrameDecoder()
        deadline = self.hub.loop.add_timer(HELLO_TIMEOUT, self._hello_timeout, ref=False)
        try:
            while not self.closed:
                try:
                    data = self.conn.recv(65536)
                except (BlockingIOError, InterruptedError):
                    try:
                        wait_io(self.hub, self._rw)
                    except OSError:
                        return
                    continue
                except OSError:
                    return
                if not data:
                    return
                try:
                    messages = decoder.feed(data)
                except ProtocolError as exc:
                    self.send({"op": "error", "reason": str(exc)})
                    return
                for msg in messages:
                    if not self.authenticated:
                        if not self._hello(msg):
                            return
                        deadline.cancel()
                    elif not self._dispatch(msg):
                        return
        finally:
            deadline.cancel()
            unroute_output()
            self.close(flush=True)

    def _hello_timeout(self):
        if not self.authenticated and not self.closed:
            self.send({"op": "refused", "reason": f"no hello within {HELLO_TIMEOUT:g}s"})
            self._reader.kill(block=False)

    def _hello(self, msg) -> bool:
        if self.refusal is not None:
            self.send({"op": "refused", "reason": self.refusal})
            return False
        if msg.get("op") != "hello":
            self.send({"op": "refused", "reason": f"expected a hello message first, got {msg.get('op')!r}"})
            return False
        if msg.get("version") != PROTOCOL_VERSION:
            self.send({"op": "refused", "reason": f"protocol version {PROTOCOL_VERSION} expected, "
                                                  f"got {msg.get('version')!r}"})
            return False
        expected = self.server.token
        if expected is not None:
            given = msg.get("token")
            if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
                self.server.refused += 1
                self.send({"op": "refused", "reason": "missing token" if given is None else "wrong token"})
                return False
        self.authenticated = True
        self.send({"op": "welcome", "version": PROTOCOL_VERSION, "pid": os.getpid(),
                   "argv": list(sys.argv), "python": sys.version.split()[0]})
        return True

    def _dispatch(self, msg) -> bool:
        op = msg["op"]
        ident = msg.get("id")
        if op == "bye":
            return False
        if op == "exec":
            self._spawn(ident, _commands.run_source, self, ident, msg.get("source"))
        elif op == "magic":
            self._spawn(ident, _commands.run_magic, self, ident, msg.get("line"))
        elif op == "complete":
            self._spawn(ident, _commands.complete, self, ident, msg.get("text"))
        elif op == "interrupt":
            self._interrupt(ident)
        else:
            self.send({"op": "error", "id": ident, "reason": f"unknown op {op!r}"})
        return True

    def _spawn(self, ident, func, *args):
        if ident in self.running:
            self.send({"op": "error", "id": ident, "reason": f"id {ident!r} is already running"})
            return
        ctx = contextvars.copy_context()
        ctx.run(statement_var.set, ident)
        g = ctx.run(Greenlet, func, *args)   # its context is a copy of ctx: output is tagged with ident
        g.name = f"coopshell-attach: statement {ident}"
        _commands.mark_internal(g)
        self.running[ident] = g
        g.start()

    def _interrupt(self, ident) -> None:
        """KeyboardInterrupt in the greenlet of request ``ident``; the request's
        own ``except`` reports it. One not started yet is dropped instead: a
        KeyboardInterrupt that ends a greenlet would reach the program's main."""
        g = self.running.get(ident)
        if g is None or g.dead:
            return
        if g.state == "scheduled":
            g.kill(block=False)
            self.finished(ident, {"status": "interrupted", "error": "KeyboardInterrupt (before it started)\n"})
        else:
            g.kill(KeyboardInterrupt, block=False)

    def finished(self, ident, reply: dict) -> None:
        self.running.pop(ident, None)
        reply["op"] = reply.get("op", "done")
        reply["id"] = ident
        self.send(reply)

    def close(self, flush: bool = False) -> None:
        if self.closed:
            return
        if flush and self._out and _can_wait(self.hub):
            self._wake.set()
            self._drained.wait(timeout=1.0)
        self.closed = True
        self.server.sessions.discard(self)
        for ident in list(self.running):
            self._interrupt(ident)
        self.running.clear()
        for w in (self._rw, self._ww):
            if w.callback is not None:
                cancel_wait(w, cancel_wait_error())
        self._wake.set()
        self.hub.loop.closing_fd(self.conn.fileno())
        self.conn.close()



def _can_wait(hub) -> bool:
    """True unless running in the hub itself (which must never block)."""
    return _raw_getcurrent() is not hub
