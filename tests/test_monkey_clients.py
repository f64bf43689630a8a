"""coopshell.monkey against real clients and servers on 127.0.0.1.

The servers run on real threads in the test process and answer after
``DELAY`` (0.5 s). Each scenario runs in a fresh, patched subprocess; N
greenlets use a stdlib or third-party client at once, and cooperation shows
as N requests finishing in about one DELAY instead of N of them. The bound
checked is N * DELAY / 2, generous for a loaded 2-core machine.
"""

from __future__ import annotations

import importlib.util

import pytest

from helpers.monkey_run import Batch
from helpers.monkey_servers import DELAY, Servers, start_https

N = 8
BOUND = N * DELAY / 2

# Scenario prelude: server addresses from the environment.
ENV = """
URL = os.environ["HTTP_URL"]
HOST, PORT = "127.0.0.1", int(URL.rsplit(":", 1)[1])
SMTP_PORT = int(os.environ["SMTP_PORT"])
XMLRPC_URL = os.environ["XMLRPC_URL"]
HTTPS_URL = os.environ["HTTPS_URL"]
CA = os.environ["CA_PATH"]
"""

SCENARIOS = {}

SCENARIOS["stdlib_all"] = ENV + """
import urllib.request, http.client, smtplib, xmlrpc.client, select, socket, subprocess
import socketserver, threading
from coopshell import monkey
r = monkey.patch_all()
OUT["skipped"] = r.skipped
OUT["fixed"] = [str(f) for f in r.fixed]

def fetch(i):
    return urllib.request.urlopen(f"{URL}/delay/{i}", timeout=10).read().decode()
OUT["urlopen"] = timed(fetch, N)

def hc(i):
    c = http.client.HTTPConnection(HOST, PORT, timeout=10)
    c.request("GET", f"/delay/{i}")
    body = c.getresponse().read().decode()
    c.close()
    return body
OUT["http_client"] = timed(hc, N)

def mail(i):
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=10) as s:
        return list(s.sendmail("a@example.com", ["b@example.com"], f"Subject: {i}\\r\\n\\r\\nhi"))
OUT["smtplib"] = timed(mail, N)

def rpc(i):
    return xmlrpc.client.ServerProxy(XMLRPC_URL).slow_double(i)
OUT["xmlrpc"] = timed(rpc, N)

def sel(i):
    a, b = socket.socketpair()
    try:
        return [len(x) for x in select.select([a], [], [], DELAY)]
    finally:
        a.close(); b.close()
OUT["select"] = timed(sel, N)

OUT["subprocess"] = timed(lambda i: subprocess.run(["sleep", str(DELAY)]).returncode, N)
OUT["sleep"] = timed(lambda i: time.sleep(DELAY), N)

class Slow(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        time.sleep(DELAY)
        self.wfile.write(line.upper())
class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 64
srv = Server(("127.0.0.1", 0), Slow)
threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
def echo(i):
    with socket.create_connection(srv.server_address, timeout=10) as c:
        c.sendall(b"hello %d\\n" % i)
        return c.makefile("rb").readline().decode()
OUT["socketserver"] = timed(echo, N)
srv.shutdown(); srv.server_close()
"""

SCENARIOS["third_party_late"] = ENV + """
import requests, urllib3, httpx          # imported BEFORE patching
from coopshell import monkey
r = monkey.patch_all()
OUT["skipped"] = r.skipped
OUT["requests"] = timed(lambda i: requests.get(f"{URL}/delay/{i}", timeout=10).text, N)
pool = urllib3.PoolManager(maxsize=N)
OUT["urllib3"] = timed(lambda i: pool.request("GET", f"{URL}/delay/{i}").data.decode(), N)
client = httpx.Client(limits=httpx.Limits(max_connections=N))
OUT["httpx"] = timed(lambda i: client.get(f"{URL}/delay/{i}", timeout=10).text, N)
"""

SCENARIOS["socket_only"] = ENV + """
import urllib.request, http.client
from coopshell import monkey
r = monkey.patch_socket()
OUT["patched"] = sorted(r.patched)
OUT["urlopen"] = timed(lambda i: urllib.request.urlopen(f"{URL}/delay/{i}", timeout=10).read().decode(), N)
import requests
OUT["requests"] = timed(lambda i: requests.get(f"{URL}/delay/{i}", timeout=10).text, N)
"""

SCENARIOS["unpatch_blocks"] = ENV + """
import urllib.request, socket
orig = socket.socket, socket.create_connection
from coopshell import monkey
monkey.patch_all()
OUT["coop"] = timed(lambda i: urllib.request.urlopen(f"{URL}/delay/{i}", timeout=10).read().decode(), 4)
monkey.unpatch_all()
OUT["identity"] = (socket.socket, socket.create_connection) == orig
OUT["blocking"] = timed(lambda i: urllib.request.urlopen(f"{URL}/delay/{i}", timeout=10).read().decode(), 4)
"""

SCENARIOS["stale_socket"] = ENV + """
import sys, types
mod = types.ModuleType("legacyclient")
exec("from socket import create_connection\\n"
     "def get(addr, path):\\n"
     "    with create_connection(addr, timeout=10) as c:\\n"
     "        c.sendall(b'GET ' + path.encode() + b' HTTP/1.0\\\\r\\\\n\\\\r\\\\n')\\n"
     "        data = b''\\n"
     "        while True:\\n"
     "            chunk = c.recv(4096)\\n"
     "            if not chunk: return data.split(b'\\\\r\\\\n\\\\r\\\\n', 1)[1].decode()\\n"
     "            data += chunk\\n", mod.__dict__)
sys.modules["legacyclient"] = mod
import socket
KEEP = (socket.create_connection,)   # in a tuple: fix_references rebinds __main__ globals too
from coopshell import monkey
r = monkey.patch_all()
OUT["stale"] = [str(s) for s in monkey.stale_references() if s.module == "legacyclient"]
r2 = monkey.patch_all(fix_references=True)
OUT["fixed"] = [str(s) for s in r2.fixed if s.module == "legacyclient"]
OUT["rebound"] = mod.create_connection is socket.create_connection is not KEEP[0]
OUT["coop"] = timed(lambda i: mod.get((HOST, PORT), f"/delay/{i}"), N)
monkey.unpatch("socket")
OUT["put_back"] = mod.create_connection is KEEP[0]
"""

SCENARIOS["ssl_late"] = ENV + """
import ssl, urllib.request
old_ctx = ssl.create_default_context(cafile=CA)     # made before patching
import requests
from coopshell import monkey
r = monkey.patch_all()
OUT["skipped"] = r.skipped
OUT["warnings"] = r.warnings
OUT["stale"] = [str(s) for s in r.stale]
ctx = ssl.create_default_context(cafile=CA)          # made after: cooperative
OUT["new_ctx_type"] = type(ctx).__module__
OUT["urlopen"] = timed(lambda i: urllib.request.urlopen(f"{HTTPS_URL}/delay/{i}", context=ctx, timeout=10).read().decode(), N)
r2 = monkey.patch_all(fix_references=True)
OUT["fixed"] = [str(s) for s in r2.fixed]
OUT["old_ctx_type"] = type(old_ctx).__module__
OUT["requests"] = timed(lambda i: requests.get(f"{HTTPS_URL}/delay/{i}", verify=CA, timeout=10).text, N)
OUT["old_ctx"] = timed(lambda i: urllib.request.urlopen(f"{HTTPS_URL}/delay/{i}", context=old_ctx, timeout=10).read().decode(), N)
monkey.unpatch_all()
OUT["old_ctx_restored"] = type(old_ctx) is ssl.SSLContext
"""

# Issue 10 section 3: requests/urllib3 imported first, then patch_all() with
# no flags. The stdlib's SSLContext setters look their class up through the
# module global; once patched it named the subclass and every HTTPS request
# died with RecursionError.
SCENARIOS["https_late_no_flags"] = ENV + """
import ssl, urllib.request
import requests, urllib3
orig_class = ssl.SSLContext
orig_props = {n: orig_class.__dict__[n] for n in ("options", "verify_mode", "verify_flags")}
old_ctx = ssl.create_default_context(cafile=CA)     # made before patching
from coopshell import monkey
r = monkey.patch_all()
OUT["report"] = str(r)
def setters(ctx):
    ctx.options |= ssl.OP_NO_COMPRESSION
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags = ctx.verify_flags
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    ctx._msg_callback = None
    return type(ctx).__module__
OUT["setters"] = [setters(old_ctx), setters(orig_class(ssl.PROTOCOL_TLS_CLIENT)),
                  setters(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))]
def get(i):
    try:
        return requests.get(f"{HTTPS_URL}/delay/{i}", verify=CA, timeout=10).text
    except Exception as e:
        return f"{type(e).__name__}: {str(e)[:200]}"
OUT["requests"] = timed(get, 4)
pool = urllib3.PoolManager(ca_certs=CA)
OUT["urllib3"] = pool.request("GET", f"{HTTPS_URL}/delay/9", timeout=10).data.decode()
OUT["old_ctx"] = urllib.request.urlopen(f"{HTTPS_URL}/delay/8", context=old_ctx, timeout=10).read().decode()
monkey.unpatch_all()
OUT["restored"] = (ssl.SSLContext is orig_class
                   and all(orig_class.__dict__[n] is p for n, p in orig_props.items()))
OUT["after_unpatch"] = get(7)
"""

PRE = f"N = {N}\nDELAY = {DELAY}\n"

_HAVE = {m: importlib.util.find_spec(f"coopshell.{m}") is not None
         for m in ("socket", "ssl", "select", "selectors", "subprocess")}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    servers = Servers()
    https, ca = start_https(tmp_path_factory.mktemp("tls"))
    env = servers.env()
    env["HTTPS_URL"] = "https://127.0.0.1:%d" % https.server_address[1]
    env["CA_PATH"] = ca
    b = Batch({k: PRE + v for k, v in SCENARIOS.items()}, env=env)
    yield b
    b.close()
    servers.close()
    https.shutdown()
    https.server_close()


def _need(*mods):
    missing = [m for m in mods if not _HAVE[m]]
    if missing:
        pytest.skip(f"coopshell.{', coopshell.'.join(missing)} not written yet "
                    f"(patch_all reports it as skipped)")


def _coop(result, expect):
    elapsed, values = result
    assert values == expect, values
    assert elapsed < BOUND, f"{elapsed:.2f}s for {N} requests of {DELAY}s: not concurrent"


def test_stdlib_clients_cooperate_after_patch_all(batch):
    _need("socket", "select", "selectors", "subprocess")
    r = batch.result("stdlib_all")
    assert "socket" not in r["skipped"] and "select" not in r["skipped"], r["skipped"]
    # socketserver captured selectors.PollSelector at import: rebound by default (stdlib)
    assert "socketserver._ServerSelector -> original selectors.PollSelector" in r["fixed"]
    _coop(r["urlopen"], [f"ok /delay/{i}" for i in range(N)])
    _coop(r["http_client"], [f"ok /delay/{i}" for i in range(N)])
    _coop(r["smtplib"], [[]] * N)
    _coop(r["xmlrpc"], [2 * i for i in range(N)])
    _coop(r["select"], [[0, 0, 0]] * N)
    _coop(r["subprocess"], [0] * N)
    _coop(r["sleep"], [None] * N)
    _coop(r["socketserver"], [f"HELLO {i}\n" for i in range(N)])


def test_third_party_clients_imported_before_patching(batch):
    _need("socket", "select", "selectors")
    r = batch.result("third_party_late")
    expect = [f"ok /delay/{i}" for i in range(N)]
    _coop(r["requests"], expect)
    _coop(r["urllib3"], expect)
    _coop(r["httpx"], expect)


def test_patch_socket_alone_is_enough_for_http_clients(batch):
    _need("socket")
    r = batch.result("socket_only")
    assert r["patched"] == ["socket"]
    expect = [f"ok /delay/{i}" for i in range(N)]
    _coop(r["urlopen"], expect)
    _coop(r["requests"], expect)


def test_unpatch_restores_blocking_and_identity(batch):
    _need("socket")
    r = batch.result("unpatch_blocks")
    elapsed, _ = r["coop"]
    assert elapsed < 4 * DELAY / 2
    assert r["identity"] is True
    elapsed, _ = r["blocking"]
    assert elapsed >= 4 * DELAY * 0.9, "after unpatch_all the client blocks again"


def test_stale_create_connection_is_found_and_fixed(batch):
    _need("socket")
    r = batch.result("stale_socket")
    assert r["stale"] == ["legacyclient.create_connection -> original socket.create_connection"]
    assert r["fixed"] == r["stale"] and r["rebound"]
    _coop(r["coop"], [f"ok /delay/{i}" for i in range(N)])
    assert r["put_back"]


def test_ssl_patched_late(batch):
    _need("socket", "ssl", "select", "selectors")
    r = batch.result("ssl_late")
    assert "ssl" not in r["skipped"], r["skipped"]
    assert any("SSLContext" in w and "before patching" in w for w in r["warnings"]), r["warnings"]
    assert r["new_ctx_type"].startswith("coopshell")
    expect = [f"ok /delay/{i}" for i in range(N)]
    _coop(r["urlopen"], expect)
    _coop(r["requests"], expect)
    # fix_references converts contexts made before patching when it can
    assert any("SSLContext" in f for f in r["fixed"]), r["fixed"]
    assert r["old_ctx_type"].startswith("coopshell")
    _coop(r["old_ctx"], expect)
    assert r["old_ctx_restored"]


def test_missing_io_modules_are_reported_not_fatal():
    """Whatever io module is absent, patch_all says so instead of failing."""
    import subprocess
    import sys

    from helpers.monkey_run import ROOT
    code = ("from coopshell import monkey; r = monkey.patch_all(); "
            "import json; print(json.dumps(r.skipped))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": ROOT, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    import json
    skipped = json.loads(out.stdout)
    for mod, have in _HAVE.items():
        if not have:
            assert f"coopshell.{mod} is not available" in skipped[mod]
        else:
            assert mod not in skipped


def test_https_after_late_patching_needs_no_flag(batch):
    _need("socket", "ssl", "select", "selectors")
    r = batch.result("https_late_no_flags")
    assert r["setters"] == ["ssl", "ssl", "coopshell.ssl"], r["setters"]
    elapsed, values = r["requests"]
    assert values == [f"ok /delay/{i}" for i in range(4)], values
    assert r["urllib3"] == "ok /delay/9"
    assert r["old_ctx"] == "ok /delay/8"
    assert "RecursionError" not in r["report"]
    assert r["restored"] and r["after_unpatch"] == "ok /delay/7"
