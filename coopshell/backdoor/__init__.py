"""A Python prompt inside a running program: gevent's ``BackdoorServer`` and ``listen()``.

``BackdoorServer(listener, locals=None, banner=None)`` is gevent's backdoor: a
plain line-mode REPL per connection (``nc 127.0.0.1 PORT``), with no
authentication, so bind it to loopback. ``quit()`` closes that connection only.

``listen()`` makes the program attachable by ``coopshell attach PID``: it serves
the attach protocol below from the program's own hub, as greenlets that wait
on unreferenced watchers (no CPU, and no effect on ``wait()``/``hub.join()``
while idle; it answers whenever the program's greenlets yield).

Where it listens, and who gets in:

- by default a Unix socket ``<dir>/<PID>.sock``, mode 0600, in a per-user
  directory (mode 0700) ``$XDG_RUNTIME_DIR/coopshell`` or
  ``<tempdir>/coopshell-<uid>``; each connection's ``SO_PEERCRED`` uid must be
  the program's uid, others are refused (and the refusal is logged on stderr);
- with ``tcp=`` a TCP socket on the address given (``127.0.0.1`` for a bare
  port; ``0.0.0.0`` only if passed), where a random token (or ``token=``) is
  required; the token is kept in the 0600 file ``<dir>/<PID>.json``.

``<dir>/<PID>.json`` (0600) describes the endpoint for ``coopshell attach``.

The attach protocol: each message is a frame, a 4-byte big-endian length and
that many bytes of a UTF-8 JSON object with an ``"op"`` key (frames over
16 MiB are refused). The client speaks first:

=============================================  ==================================================
client -> server                               server -> client
=============================================  ==================================================
``hello {version: 1, token?}``                 ``welcome {version, pid, argv, python}`` or
                                               ``refused {reason}`` (then the server closes)
``exec {id, source}``: run statements in a     ``output {id, stream: stdout|stderr, data}`` (any
new greenlet; the last expression's value      number, also later from greenlets it spawned), then
is returned                                    ``done {id, status: ok|error|interrupted, value?,
                                               error?}``
``interrupt {id}``: KeyboardInterrupt in       (the ``done`` of that ``exec``)
that statement's greenlet
``magic {id, line}``: ``greenlets [-a]``,      ``done {id, status, text}``
``where ID``, ``kill ID…``, ``blocking [S]``,
``pinfo EXPR``, ``help``
``complete {id, text}``                        ``completions {id, matches}``
``bye``                                        (the server closes; the program is untouched)
=============================================  ==================================================

Statements run in the namespace given to ``listen(locals=...)``, by default
the ``__main__`` module's globals. Their output (``print``, ``sys.stdout`` and
``sys.stderr``) is routed to the client by a ContextVar while a session
exists, so the program's own output stays where it was.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import sys
from typing import Any

from ._endpoint import (bind_tcp, bind_unix, list_endpoints, parse_tcp, peer_credentials, remove_stale,
                        runtime_dir, write_private)
from ._line import BackdoorServer
from ._protocol import MAX_FRAME, PROTOCOL_VERSION, FrameDecoder, ProtocolError, encode_frame
from ._session import AttachServer, active_servers

__all__ = ["BackdoorServer", "listen", "AttachServer", "run_attachable", "runtime_dir", "list_endpoints",
           "peer_credentials", "encode_frame", "FrameDecoder", "ProtocolError", "PROTOCOL_VERSION",
           "MAX_FRAME"]


def listen(path: str | None = None, *, tcp: Any = None, token: str | None = None,
           locals: dict | None = None) -> AttachServer:
    """Make this program attachable (``coopshell attach PID``) and return the server.

    ``path``: the Unix socket (default ``<runtime_dir()>/<PID>.sock``).
    ``tcp``: a port, ``"host:port"`` or ``(host, port)`` to listen on TCP instead
    (a bare port binds 127.0.0.1); a token is then required, ``token`` or a
    random one, written to the 0600 endpoint file. ``locals``: the namespace of
    statements (default: ``__main__``'s globals)."""
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        raise ValueError(f"token must be a str of at least 16 characters, got {token!r}")
    if token is not None and tcp is None:
        raise ValueError("token= only applies with tcp=: a Unix socket is protected by its mode and SO_PEERCRED")
    if locals is not None and not isinstance(locals, dict):
        raise TypeError(f"locals must be a dict or None, got {locals!r}")
    directory = runtime_dir()
    remove_stale(directory)
    pid = os.getpid()
    info = {"pid": pid, "argv": list(sys.argv)}
    if tcp is None:
        if path is None:
            path = os.path.join(directory, f"{pid}.sock")
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or None, got {path!r}")
        path = os.fspath(path)
        listener = bind_unix(path)
        info["unix"] = path
        unix_path, token = path, None
    else:
        if path is not None:
            raise ValueError("pass path= (a Unix socket) or tcp= (TCP with a token), not both")
        host, port = parse_tcp(tcp)
        listener = bind_tcp(host, port)
        token = token if token is not None else secrets.token_urlsafe(32)
        bound = listener.getsockname()
        info["tcp"] = [bound[0], bound[1]]
        info["token"] = token
        unix_path = None
    listener.setblocking(False)
    info_path = os.path.join(directory, f"{pid}.json")
    write_private(info_path, json.dumps(info))
    server = AttachServer(listener, locals, token=token, info_path=info_path, unix_path=unix_path)
    active_servers[id(server)] = server
    return server


def run_attachable(target: str, args: list[str] | tuple[str, ...] = (), *, module: bool = False,
                   **listen_args: Any) -> None:
    """Run a script (or ``module=True``: a module) as ``__main__``, attachable
    while it runs: what ``python -m coopshell.monkey --attachable`` needs."""
    import runpy
    server = listen(**listen_args)
    saved = sys.argv
    sys.argv = [target, *args]
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    finally:
        sys.argv = saved
        server.close()


@atexit.register
def _close_all():
    """Remove this process's sockets and endpoint files at exit."""
    for server in list(active_servers.values()):
        try:
            server.close()
        except Exception:
            pass

