"""Where attachable programs listen: the per-user directory, sockets, endpoint files, peer checks."""

from __future__ import annotations

import json
import os
import socket as _std_socket
import stat
import struct
import tempfile
from typing import Any

import _socket

__all__ = ["runtime_dir", "peer_credentials", "list_endpoints", "bind_unix", "bind_tcp", "parse_tcp",
           "write_private", "remove_stale", "pid_alive"]


def runtime_dir(create: bool = True) -> str:
    """This user's directory for attach sockets and endpoint files.

    ``$XDG_RUNTIME_DIR/coopshell`` when that variable names a directory of
    this user, else ``<tempdir>/coopshell-<uid>``. It must be a real directory
    owned by this user with no group or other permissions: anything else is
    refused with ``PermissionError`` (someone may be trying to intercept)."""
    uid = os.getuid()
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base) and os.stat(base).st_uid == uid:
        path = os.path.join(base, "coopshell")
    else:
        path = os.path.join(tempfile.gettempdir(), f"coopshell-{uid}")
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    if not stat.S_ISDIR(st.st_mode):
        raise PermissionError(f"{path} should be this user's private directory but is not a directory; "
                              "remove it")
    if st.st_uid != uid:
        raise PermissionError(f"{path} belongs to uid {st.st_uid}, not to you (uid {uid}); "
                              "refusing to use it: remove it or set XDG_RUNTIME_DIR")
    if st.st_mode & 0o077:
        raise PermissionError(f"{path} has mode {stat.S_IMODE(st.st_mode):04o}; it must be 0700: "
                              f"chmod 700 {path}")
    return path


def peer_credentials(sock: Any) -> tuple[int, int, int]:
    """``(pid, uid, gid)`` of the process at the other end of a connected Unix
    socket (``SO_PEERCRED``)."""
    fmt = "3i"
    data = sock.getsockopt(_std_socket.SOL_SOCKET, _std_socket.SO_PEERCRED, struct.calcsize(fmt))
    pid, uid, gid = struct.unpack(fmt, data)
    return pid, uid, gid



def bind_unix(path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise FileExistsError(f"{path} exists and is not a socket; remove it or pass another path")
        if _unix_alive(path):
            raise FileExistsError(f"{path} is already served by a running program; pass another path")
        os.unlink(path)
    listener = _socket.socket(_std_socket.AF_UNIX, _std_socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(16)
    except BaseException:
        listener.close()
        raise
    finally:
        os.umask(old)
    return listener


def bind_tcp(host: str, port: int):
    """A listening TCP socket on ``(host, port)``, exactly the address given."""
    listener = _socket.socket(_std_socket.AF_INET6 if ":" in host else _std_socket.AF_INET,
                              _std_socket.SOCK_STREAM)
    try:
        listener.setsockopt(_std_socket.SOL_SOCKET, _std_socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(16)
    except BaseException:
        listener.close()
        raise
    return listener


def list_endpoints(directory: str | None = None) -> list[dict]:
    """The endpoint files of this user's attachable programs that still run,
    oldest PID first: dicts with ``pid``, ``argv`` and ``unix`` or ``tcp``/``token``."""
    if directory is None:
        directory = runtime_dir(create=False)
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        stem, _, ext = name.partition(".")
        if ext != "json" or not stem.isdigit() or not pid_alive(int(stem)):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and info.get("pid") == int(stem):
            info["path"] = os.path.join(directory, name)
            found.append(info)
    found.sort(key=lambda i: i["pid"])
    return found


def _unix_alive(path) -> bool:
    probe = _socket.socket(_std_socket.AF_UNIX, _std_socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def parse_tcp(tcp):
    if isinstance(tcp, bool):
        raise TypeError(f"tcp must be a port, 'host:port' or (host, port), got {tcp!r}")
    if isinstance(tcp, int):
        return "127.0.0.1", tcp
    if isinstance(tcp, str):
        host, sep, port = tcp.rpartition(":")
        if sep and port.isdigit():
            return host.strip("[]") or "127.0.0.1", int(port)
    if isinstance(tcp, tuple) and len(tcp) == 2 and isinstance(tcp[0], str) and isinstance(tcp[1], int):
        return tcp[0] or "127.0.0.1", tcp[1]
    raise ValueError(f"tcp must be a port, 'host:port' or (host, port), got {tcp!r}")


def write_private(path, text):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(path + ".tmp", path)


def remove_stale(directory):
    """Drop endpoint files of programs that are gone (their PID no longer runs)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        stem, _, ext = name.partition(".")
        if ext not in ("json", "sock") or not stem.isdigit() or int(stem) == os.getpid():
            continue
        if not pid_alive(int(stem)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
