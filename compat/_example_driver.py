"""Child entry: ``python -m compat._example_driver {alias|control} NAME EXAMPLES_DIR``.

Runs one gevent example from a temporary copy of ``examples/`` (URLs and hosts
rewritten there to point at loopback servers this driver starts), exercises it
like a user would (a client for a server, a server for a client), and prints
one ``COMPAT-RESULT {json}`` line. It normally runs inside a private network
namespace (``unshare -n -m``), so the examples' fixed ports cannot collide and
``dns_mass_resolve`` can get a resolv.conf naming a DNS server on 127.0.0.1.
Standard library only: this process never imports gevent or coopshell.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from . import _local_servers as local

__all__ = ["main", "SPECS"]

EXAMPLE_TIMEOUT = 60.0


def _wait_port(proc, host, port, kind=socket.SOCK_STREAM, deadline=20.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the example exited ({proc.returncode}) before listening on {port}")
        if kind == socket.SOCK_DGRAM:
            return _wait_udp(proc, port, end)
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on {host}:{port} within {deadline:g}s")


def _wait_udp(proc, port, end) -> None:
    # Readiness of a UDP server shows only in its answer; the check itself retries.
    time.sleep(0.5)


def _wait_path(proc, path: Path, deadline=20.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the example exited ({proc.returncode}) before creating {path}")
        if path.exists():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{path} did not appear within {deadline:g}s")


def _http_get(url: str, context=None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=15, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _echoserver(proc, work, ctx):
    _wait_port(proc, "127.0.0.1", 16000)
    with socket.create_connection(("127.0.0.1", 16000), timeout=15) as s:
        f = s.makefile("rwb")
        greeting = f.readline()
        f.write(b"hello compat\r\n")
        f.flush()
        line = f.readline()
        if b"hello compat" not in line:
            return False, f"echo gave {line!r} (greeting {greeting!r})"
        f.write(b"quit\r\n")
        f.flush()
    return True, "echoed a line"


def _portforwarder(proc, work, ctx):
    _wait_port(proc, "127.0.0.1", 10011)
    with socket.create_connection(("127.0.0.1", 10011), timeout=15) as s:
        s.sendall(b"through the forwarder")
        got = s.recv(100)
    return got == b"through the forwarder", f"forwarded echo {got!r}"


def _udp_server(proc, work, ctx):
    time.sleep(0.3)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    for _ in range(15):
        if proc.poll() is not None:
            return False, f"exited {proc.returncode}"
        s.sendto(b"12345", ("127.0.0.1", 9000))
        try:
            data, _ = s.recvfrom(100)
            return data == b"Received 5 bytes", f"answer {data!r}"
        except socket.timeout:
            continue
    return False, "no answer to a datagram"


def _wsgiserver(proc, work, ctx):
    _wait_port(proc, "127.0.0.1", 8088)
    status, body = _http_get("http://127.0.0.1:8088/")
    status2, _ = _http_get("http://127.0.0.1:8088/missing")
    return (status == 200 and b"hello world" in body and status2 == 404,
            f"GET / {status} {body[:40]!r}, GET /missing {status2}")


def _wsgiserver_ssl(proc, work, ctx):
    _wait_port(proc, "127.0.0.1", 8443)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    status, body = _http_get("https://127.0.0.1:8443/", context)
    return status == 200 and b"hello world" in body, f"GET / {status} {body[:40]!r}"


def _webproxy(proc, work, ctx):
    _wait_port(proc, "127.0.0.1", 8088)
    status, body = _http_get("http://127.0.0.1:8088/")
    page, pbody = _http_get(f"http://127.0.0.1:8088/http://127.0.0.1:{ctx['http']}/proxied")
    return (status == 200 and page == 200 and b"/proxied" in pbody,
            f"form {status}, proxied page {page} {pbody[:50]!r}")


def _unixsocket_server(proc, work, ctx):
    path = work / "unixsocket_server.py.sock"
    _wait_path(proc, path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(15)
        s.connect(str(path))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"), repr(data[:40])


def _rewrite_download(text: str, ctx) -> str:
    for host in ("www.google.com", "www.apple.com", "www.python.org"):
        text = text.replace(f"https://{host}/", f"http://127.0.0.1:{ctx['http']}/{host}")
    return text


#: name -> (args, "run" (must exit 0) or a server check, needs, output that must appear)
SPECS = {
    "concurrent_download": ([], "run", ("http",), "bytes:"),
    "dns_mass_resolve": ([], "run", ("dns",), "finished within 2 seconds"),
    "echoserver": ([], _echoserver, (), None),
    "geventsendfile": ([], "run", (), None),
    "portforwarder": ([":10011", "127.0.0.1:10012"], _portforwarder, ("tcp_echo",), None),
    "processes": ([], "run", (), "uname:"),
    "threadpool": ([], "run", (), "Should take about 2 seconds"),
    "udp_client": (["hello", "compat"], "run", ("udp_echo",), "echo: hello compat"),
    "udp_server": ([], _udp_server, (), None),
    "unixsocket_client": ([], "run", ("unix",), "received"),
    "unixsocket_server": ([], _unixsocket_server, (), None),
    "webproxy": ([], _webproxy, ("http",), None),
    "wsgiserver": ([], _wsgiserver, (), None),
    "wsgiserver_ssl": ([], _wsgiserver_ssl, (), None),
}


def _start_needs(needs, work: Path, netns: bool) -> dict:
    ctx: dict = {"seen": []}
    if "http" in needs:
        ctx["http"] = local.http_server()
    if "dns" in needs:
        if not netns:
            raise RuntimeError("dns_mass_resolve needs a private network namespace "
                               "(unshare -n -m, as root) so that its resolver can only reach a "
                               "DNS server on 127.0.0.1")
        local.dns_server(53)
        conf = work / "resolv.conf"
        conf.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        subprocess.run(["mount", "--bind", str(conf), "/etc/resolv.conf"], check=True)
    if "tcp_echo" in needs:
        local.tcp_echo(10012)
    if "udp_echo" in needs:
        local.udp_echo(9001, ctx["seen"])
    if "unix" in needs:
        local.unix_greeter(str(work / "unixsocket_server.py.sock"), ctx["seen"])
    return ctx


def run(mode: str, name: str, examples_dir: Path, netns: bool) -> dict:
    args, check, needs, expect = SPECS[name]
    with tempfile.TemporaryDirectory(prefix=f"compat-{name}-") as tmp:
        work = Path(tmp) / "examples"
        shutil.copytree(examples_dir, work)
        ctx = _start_needs(needs, work, netns)
        if name == "concurrent_download":
            src = work / f"{name}.py"
            src.write_text(_rewrite_download(src.read_text(), ctx))
        cmd = [sys.executable, "-m", "compat._run_one", mode, f"{name}.py", *args]
        proc = subprocess.Popen(cmd, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        ok, note = False, ""
        try:
            if check == "run":
                try:
                    out, _ = proc.communicate(timeout=EXAMPLE_TIMEOUT)
                except subprocess.TimeoutExpired:
                    note = f"did not finish within {EXAMPLE_TIMEOUT:g}s"
                else:
                    text = out.decode("utf-8", "replace")
                    ok = proc.returncode == 0 and (expect is None or expect in text)
                    note = f"exit {proc.returncode}" + ("" if ok or expect is None or
                                                        expect in text else
                                                        f", no {expect!r} in its output")
            else:
                try:
                    ok, note = check(proc, work, ctx)
                except Exception as exc:  # the check's own failure is the example's result
                    ok, note = False, f"{type(exc).__name__}: {exc}"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
            out, _ = proc.communicate()
        return {"ok": bool(ok), "note": note, "output": out.decode("utf-8", "replace")[-6000:]}


def main(argv: list[str]) -> int:
    mode, name, examples_dir, netns = argv[0], argv[1], Path(argv[2]), argv[3] == "1"
    if netns:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
    try:
        result = run(mode, name, examples_dir, netns)
    except Exception as exc:
        result = {"ok": False, "note": f"harness: {type(exc).__name__}: {exc}", "output": ""}
    print("COMPAT-RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
