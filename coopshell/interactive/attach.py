"""``coopshell attach [PID | PATH | HOST:PORT]``: a prompt inside a running program.

The program made itself attachable with ``coopshell.backdoor.listen()``. This
client speaks the attach protocol (``coopshell.backdoor``) over the program's
Unix socket (or TCP with a token) and gives a prompt_toolkit prompt:
highlighting, completion of the remote namespace, history, multi-line input.
Each input runs in the program, in a new greenlet; its output and value come
back. Ctrl-C interrupts that statement only. ``%greenlets``, ``%where ID``,
``%kill ID``, ``%blocking`` and ``EXPR?`` run remotely; ``%detach``, Ctrl-D,
``quit()`` or ``exit()`` leave the program running as it was.

With no argument it lists this user's attachable programs.

The client is plain threads and blocking sockets: it needs no hub of its own.
One reader thread prints output frames as they come (above the prompt, through
``patch_stdout``), including later output of greenlets a statement spawned.
"""

from __future__ import annotations

import argparse
import codeop
import itertools
import json
import os
import queue
import re
import socket
import sys
import threading
from typing import Any, Callable, Iterable

from ..backdoor import PROTOCOL_VERSION, FrameDecoder, ProtocolError, encode_frame, list_endpoints, runtime_dir

__all__ = ["AttachClient", "AttachError", "main", "resolve_target", "list_programs", "TOKEN_ENV",
           "HISTORY_ENV", "DEFAULT_HISTORY"]

TOKEN_ENV = "COOPSHELL_ATTACH_TOKEN"
HISTORY_ENV = "COOPSHELL_ATTACH_HISTORY"
DEFAULT_HISTORY = "~/.coopshell_attach_history"
_TOKEN = re.compile(r"[\w.]*$")
_LOCAL_EXIT = {"quit()", "exit()", "quit", "exit", "%detach", "%quit", "%exit"}


class AttachError(Exception):
    """The program could not be reached or refused the attach; ``str()`` says why and what to do."""


# -- the connection ---------------------------------------------------------------------------

class AttachClient:
    """A connection to an attachable program. ``call()`` sends a request and
    waits for its reply; output frames go to ``on_output(stream, text)``."""

    def __init__(self, sock: socket.socket, token: str | None = None,
                 on_output: Callable[[str, str], Any] | None = None):
        self.sock = sock
        self.on_output = on_output or _default_output
        self._ids = itertools.count(1)
        self._pending: dict[int, queue.SimpleQueue] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self.closed = False
        self.close_reason: str | None = None
        self._send({"op": "hello", "version": PROTOCOL_VERSION, **({"token": token} if token else {})})
        self.welcome = self._handshake()
        self._reader = threading.Thread(target=self._read_loop, name="coopshell-attach-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.welcome["pid"]

    def _send(self, message: dict) -> None:
        data = encode_frame(message)
        with self._send_lock:
            self.sock.sendall(data)

    def _handshake(self) -> dict:
        decoder = FrameDecoder()
        self._decoder = decoder
        self._backlog: list[dict] = []
        while True:
            data = self.sock.recv(65536)
            if not data:
                raise AttachError("the program closed the connection during the handshake")
            messages = decoder.feed(data)
            if messages:
                first, self._backlog = messages[0], messages[1:]
                if first["op"] == "refused":
                    raise AttachError(f"the program refused the attach: {first.get('reason')}")
                if first["op"] != "welcome":
                    raise AttachError(f"unexpected reply to hello: {first!r:.100}")
                return first

    def _read_loop(self):
        try:
            for msg in self._backlog:
                self._deliver(msg)
            while True:
                try:
                    data = self.sock.recv(65536)
                except OSError as exc:
                    self.close_reason = str(exc)
                    break
                if not data:
                    self.close_reason = "the program closed the connection"
                    break
                for msg in self._decoder.feed(data):
                    self._deliver(msg)
        except ProtocolError as exc:
            self.close_reason = f"protocol error: {exc}"
        finally:
            self.closed = True
            with self._lock:
                waiting = list(self._pending.values())
            for q in waiting:
                q.put({"op": "closed"})

    def _deliver(self, msg):
        op = msg["op"]
        if op == "output":
            self.on_output(msg.get("stream", "stdout"), str(msg.get("data", "")))
            return
        ident = msg.get("id")
        with self._lock:
            q = self._pending.get(ident)
        if q is not None:
            q.put(msg)
        elif op == "error":
            self.on_output("stderr", f"[attach] server error: {msg.get('reason')}\n")

    def start(self, op: str, **fields: Any) -> tuple[int, queue.SimpleQueue]:
        """Send a request; returns its id and the queue its reply arrives on."""
        if self.closed:
            raise AttachError(f"not connected: {self.close_reason}")
        ident = next(self._ids)
        q: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            self._pending[ident] = q
        try:
            self._send({"op": op, "id": ident, **fields})
        except OSError as exc:
            with self._lock:
                self._pending.pop(ident, None)
            self.closed = True
            self.close_reason = self.close_reason or str(exc)
            raise AttachError(f"not connected: {self.close_reason}") from None
        return ident, q

    def wait(self, ident: int, q: queue.SimpleQueue, timeout: float | None = None) -> dict:
        """The reply to request ``ident`` (``{'op': 'closed'}`` if the connection ended)."""
        try:
            reply = q.get(timeout=timeout)
        except queue.Empty:
            raise AttachError(f"no reply from the program within {timeout:g}s") from None
        with self._lock:
            self._pending.pop(ident, None)
        return reply

    def call(self, op: str, timeout: float | None = None, **fields: Any) -> dict:
        ident, q = self.start(op, **fields)
        return self.wait(ident, q, timeout)

    def interrupt(self, ident: int) -> None:
        """Raise KeyboardInterrupt in the greenlet running request ``ident``."""
        if not self.closed:
            try:
                self._send({"op": "interrupt", "id": ident})
            except OSError:
                pass   # the connection died: the reader thread reports it to the waiter

    def close(self) -> None:
        """Detach: say bye and close; the program goes on as before."""
        if not self.closed:
            try:
                self._send({"op": "bye"})
            except OSError:
                pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.closed = True


def _default_output(stream, text):
    out = sys.stderr if stream == "stderr" else sys.stdout
    out.write(text)
    out.flush()


# -- finding the program --------------------------------------------------------------------------

def resolve_target(target: str, token: str | None = None) -> tuple[socket.socket, str | None, str]:
    """Connect to ``PID``, a socket ``PATH`` or ``HOST:PORT``; returns the socket,
    the token to present and a description. Raises :class:`AttachError`."""
    if target.isdigit():
        path = os.path.join(runtime_dir(create=False), f"{target}.json")
        try:
            with open(path, encoding="utf-8") as f:
                info = json.load(f)
        except FileNotFoundError:
            raise AttachError(f"no attachable program with PID {target} (no {path}); the program must call "
                              "coopshell.backdoor.listen(); `coopshell attach` lists attachable programs") from None
        except (OSError, ValueError) as exc:
            raise AttachError(f"cannot read {path}: {exc}") from None
        if info.get("unix"):
            return _connect_unix(info["unix"]), None, f"PID {target} ({info['unix']})"
        host, port = info["tcp"]
        return _connect_tcp(host, port), token or info.get("token"), f"PID {target} ({host}:{port})"
    host, sep, port = target.rpartition(":")
    if sep and port.isdigit() and "/" not in target and not os.path.exists(target):
        host = host.strip("[]")
        token = token or os.environ.get(TOKEN_ENV) or _token_for(host, int(port))
        if not token:
            raise AttachError(f"{target} is a TCP endpoint: it needs its token; pass --token or set "
                              f"${TOKEN_ENV} (the program's endpoint file in {runtime_dir(create=False)} has it)")
        return _connect_tcp(host, int(port)), token, target
    return _connect_unix(target), None, target


def _token_for(host, port):
    for info in list_endpoints():
        if info.get("tcp") == [host, port]:
            return info.get("token")
    return None


def _connect_unix(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except FileNotFoundError:
        sock.close()
        raise AttachError(f"no socket at {path}: is the program still running?") from None
    except PermissionError:
        sock.close()
        raise AttachError(f"permission denied on {path}: only the program's user may attach") from None
    except OSError as exc:
        sock.close()
        raise AttachError(f"cannot connect to {path}: {exc.strerror or exc}") from None
    return sock


def _connect_tcp(host, port):
    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError as exc:
        raise AttachError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    sock.settimeout(None)
    return sock


def list_programs() -> str:
    """A table of this user's attachable programs (what ``coopshell attach`` prints)."""
    found = list_endpoints()
    if not found:
        return (f"no attachable programs of uid {os.getuid()} (endpoints live in {runtime_dir(create=False)}); "
                "make one with coopshell.backdoor.listen()")
    rows = [["PID", "ENDPOINT", "COMMAND"]]
    for info in found:
        endpoint = info.get("unix") or "{}:{} (token)".format(*info.get("tcp", ("?", "?")))
        argv = list(info.get("argv") or [])
        if argv:
            argv[0] = os.path.basename(argv[0])   # the script's name; its directory is noise here
        command = " ".join(argv)
        rows.append([str(info["pid"]), endpoint, command if len(command) <= 80 else command[:77] + "..."])
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2]}".rstrip() for r in rows)


# -- the prompt -------------------------------------------------------------------------------------

def _input_complete(text: str) -> bool:
    """Is ``text`` a whole input (or a syntax error the program should report)?"""
    stripped = text.strip()
    if not stripped or stripped.startswith(("%", "!")) or stripped.endswith("?"):
        return True
    last = text.rsplit("\n", 1)[-1]
    if "\n" in text and not last.strip():
        return True   # a blank line ends a block, as in the standard REPL
    try:
        return codeop.compile_command(text, "<input>", "single") is not None
    except (SyntaxError, ValueError, OverflowError):
        return True


def run_input(client: AttachClient, text: str, print_: Callable[[str], Any] = print) -> str:
    """Run one input remotely and print its result; returns the reply's status.
    Ctrl-C while it runs interrupts it in the program."""
    stripped = text.strip()
    if stripped.startswith("!"):
        print_("[attach] shell commands (!) are not run in the attached program; use a local shell")
        return "error"
    try:
        if stripped.startswith("%"):
            ident, q = client.start("magic", line=stripped[1:])
        elif stripped.endswith("?") and not stripped.startswith("#"):
            ident, q = client.start("magic", line="pinfo " + stripped.rstrip("?"))
        else:
            ident, q = client.start("exec", source=text)
    except (AttachError, OSError) as exc:
        print_(f"[attach] connection lost: {client.close_reason or exc}")
        return "closed"
    interrupts = 0
    while True:
        try:
            reply = client.wait(ident, q)
            break
        except KeyboardInterrupt:
            interrupts += 1
            client.interrupt(ident)
            if interrupts > 1:
                print_("[attach] interrupt sent again; the statement has not yielded to the hub yet")
    status = reply.get("status", reply["op"])
    if reply["op"] == "closed":
        print_(f"[attach] connection lost: {client.close_reason}")
        return "closed"
    if reply.get("text"):
        print_(reply["text"])
    if "value" in reply:
        print_(reply["value"])
    if reply.get("error"):
        sys.stdout.write(reply["error"])
        sys.stdout.flush()
    return status


def _make_session(client: AttachClient, history_path: str):
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion, ThreadedCompleter
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.lexers import PygmentsLexer
    from pygments.lexers.python import PythonLexer

    class RemoteCompleter(Completer):
        """Names and attributes of the program's namespace, asked for over the connection."""

        def get_completions(self, document, complete_event):
            token = _TOKEN.search(document.text_before_cursor).group(0)
            if not token and not complete_event.completion_requested:
                return
            try:
                reply = client.call("complete", timeout=3.0, text=token)
            except (AttachError, OSError):
                return
            for match in reply.get("matches") or ():
                yield Completion(match, start_position=-len(token))

    kb = KeyBindings()

    @kb.add("enter")
    def _enter(event):
        buf = event.current_buffer
        if buf.complete_state is not None and buf.complete_state.current_completion is not None:
            buf.apply_completion(buf.complete_state.current_completion)
            return
        if _input_complete(buf.text):
            buf.validate_and_handle()
            return
        line = buf.document.current_line_before_cursor
        indent = line[:len(line) - len(line.lstrip())]
        if line.rstrip().endswith(":"):
            indent += "    "
        buf.insert_text("\n" + indent)

    try:
        from .shell.session import private_history_file
        history = FileHistory(private_history_file(history_path))
    except OSError:
        history = InMemoryHistory()
    return PromptSession(multiline=True, key_bindings=kb, history=history, lexer=PygmentsLexer(PythonLexer),
                         completer=ThreadedCompleter(RemoteCompleter()), complete_while_typing=False,
                         prompt_continuation=lambda width, line, soft: "... ".rjust(width))


def repl(client: AttachClient, history_path: str | None = None) -> int:
    """The prompt against ``client``'s program until detach; the exit status."""
    from prompt_toolkit.patch_stdout import patch_stdout
    if history_path is None:
        history_path = os.path.expanduser(os.environ.get(HISTORY_ENV) or DEFAULT_HISTORY)
    session = _make_session(client, history_path)
    prompt = f"[{client.pid}]>>> "
    while not client.closed:
        try:
            # Output that arrives while typing is printed above the prompt; outside
            # the prompt (a statement running) it goes straight to the terminal, in order.
            with patch_stdout(raw=True):
                text = session.prompt(prompt)
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        if text.strip() in _LOCAL_EXIT:
            break
        if not text.strip():
            continue
        if run_input(client, text) == "closed":
            return 1
    print(f"detached from PID {client.pid}; it keeps running")
    client.close()
    return 0


def main(argv: Iterable[str] | None = None) -> int:
    """``coopshell attach [--token TOKEN] [PID | PATH | HOST:PORT]``."""
    parser = argparse.ArgumentParser(
        prog="coopshell attach",
        description="Open a prompt inside a running coopshell program (one that called "
                    "coopshell.backdoor.listen()). With no target, list attachable programs.")
    parser.add_argument("target", nargs="?", help="PID, Unix socket PATH, or HOST:PORT (TCP, needs a token)")
    parser.add_argument("--token", help=f"the TCP endpoint's token (default: ${TOKEN_ENV}, "
                                        "or this user's endpoint file)")
    parser.add_argument("--history", help=f"history file (default: ${HISTORY_ENV} or {DEFAULT_HISTORY})")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.target is None:
            print(list_programs())
            return 0
        sock, token, where = resolve_target(args.target, args.token)
        try:
            client = AttachClient(sock, token)
        except (AttachError, OSError, ProtocolError):
            sock.close()
            raise
    except (AttachError, PermissionError) as exc:
        print(f"coopshell attach: {exc}", file=sys.stderr)
        return 1
    except (OSError, ProtocolError) as exc:
        print(f"coopshell attach: {exc}", file=sys.stderr)
        return 1
    argv0 = " ".join(client.welcome.get("argv") or [])
    print(f"attached to PID {client.pid} ({argv0 or where}), Python {client.welcome.get('python')}.\n"
          "Statements run in the program, each in a new greenlet; Ctrl-C interrupts it. "
          "%help lists the remote magics; Ctrl-D or %detach leaves the program running.")
    history = os.path.expanduser(args.history) if args.history else None
    return repl(client, history)


if __name__ == "__main__":
    sys.exit(main())
