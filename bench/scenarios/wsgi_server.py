"""A 5-byte WSGI app under ``wrk`` (50 keep-alive connections, one wrk
thread) on 127.0.0.1. Two numbers per column: the library's own WSGI server
in this worker process (coopshell.pywsgi; gevent.pywsgi with TCP_NODELAY
set on accepted sockets, gevent at its best), and gunicorn with one worker
of that library (``-k coopshell.gunicorn.Worker``; ``-k gevent``).
Requests/s, higher is better. Access logs are off everywhere.

``wrk`` is a Debian package: the scenario installs it with apt-get when run
as root, or says how. The ``smoke`` size uses a small Python client instead
when wrk is missing, so the test suite needs no wrk."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from bench.common import Metric, Target

TITLE = "WSGI hello (5 B), wrk 50 keep-alive connections (target: >= 1.2x gevent's req/s)"
METRICS = [Metric("rps", "req/s, in-process server", better="higher"),
           Metric("us_per_req", "µs/request, in-process server"),
           Metric("rps_gunicorn", "req/s, gunicorn 1 worker", better="higher")]
PARAMS = {"full": {"seconds": 10, "connections": 50},
          "quick": {"seconds": 3, "connections": 50},
          "smoke": {"seconds": 1, "connections": 4}}
#: >= 1.2x gevent's requests/s is <= 1/1.2 of its time per request.
TARGETS = [Target("us_per_req", max_ratio=0.833)]

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def app(environ, start_response):
    """The measured application: 5 bytes of text/plain."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


# -- load generation -------------------------------------------------------------------

def find_wrk(quiet_ok: bool) -> str | None:
    """The wrk binary, installing the Debian package when root; None (smoke
    size only) means: use the Python client."""
    path = shutil.which("wrk")
    if path or quiet_ok:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: running apt-get install -y wrk", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], stdout=subprocess.DEVNULL,
                       check=False)
        path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("this scenario needs wrk: install it with `apt-get install wrk` "
                           "(Debian/Ubuntu) or from https://github.com/wg/wrk")
    return path


_LUA_HTTP10 = """
wrk.headers["Connection"] = nil
request = function()
  return "GET / HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n"
end
"""


def run_load(port: int, seconds: int, connections: int, http10: bool = False) -> float:
    """Requests/s that wrk (or, without wrk at the smoke size, a small Python
    client) gets from 127.0.0.1:``port``."""
    wrk = find_wrk(quiet_ok=connections < 10)
    if wrk is None:
        return _python_load(port, seconds, connections, http10)
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_LUA_HTTP10)
    try:
        if http10:
            cmd += ["-s", f.name]
        out = subprocess.run(cmd + [f"http://127.0.0.1:{port}/"], capture_output=True,
                             text=True, check=False)
    finally:
        os.unlink(f.name)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if out.returncode != 0 or m is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout} {out.stderr}")
    if "Non-2xx" in out.stdout:
        raise RuntimeError(f"wrk got error responses: {out.stdout}")
    return float(m.group(1))


def _python_load(port, seconds, connections, http10):
    """A small stand-in for wrk: one process, plain blocking sockets in threads."""
    code = f"from bench.scenarios.wsgi_server import python_client; python_client({port}, {seconds}, {connections}, {http10})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=_ROOT, check=True)
    return float(out.stdout.split()[-1])


def python_client(port, seconds, connections, http10):
    import threading
    request = (b"GET / HTTP/1.0\r\nHost: x\r\n\r\n" if http10
               else b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    counts = [0] * connections
    end = time.perf_counter() + seconds

    def one(i):
        sock = None
        while time.perf_counter() < end:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(request)
            data = b""
            while not data.endswith(b"hello"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            counts[i] += 1
            if http10:
                sock.close()
                sock = None
        if sock is not None:
            sock.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(sum(counts) / (time.perf_counter() - t0))


# -- the servers -----------------------------------------------------------------------

def serve_in_process(impl, application, load):
    """Serve ``application`` with ``impl``'s pywsgi in this process while
    ``load(port)`` runs in a thread of the hub's thread pool."""
    if impl == "coopshell":
        import coopshell as lib
        from coopshell.pywsgi import WSGIServer
        handler_class = None
    else:
        import gevent as lib
        from gevent.pywsgi import WSGIHandler, WSGIServer

        class NoDelayHandler(WSGIHandler):      # gevent at its best: no delayed-ACK stalls
            def __init__(self, sock, *args, **kwargs):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().__init__(sock, *args, **kwargs)
        handler_class = NoDelayHandler
    server = WSGIServer(("127.0.0.1", 0), application, log=None, handler_class=handler_class)
    server.start()
    try:
        port = server.address[1]
        return lib.get_hub().threadpool.spawn(load, port).get()
    finally:
        server.stop(timeout=1)


def run_gunicorn(worker, app_path, load):
    """Start a gunicorn master with one ``worker`` serving ``app_path``, run
    ``load(port)``, stop it."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    cmd = [sys.executable, "-m", "gunicorn", "-k", worker, "-w", "1", "--no-control-socket",
           "-b", f"127.0.0.1:{port}", "--worker-connections", "1000", "--keep-alive", "30",
           app_path]
    proc = subprocess.Popen(cmd, cwd=_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {proc.stderr.read().decode()}")
                time.sleep(0.05)
        return load(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _measure(impl, seconds, connections):
    rps = serve_in_process(impl, app, lambda port: run_load(port, seconds, connections))
    worker = "coopshell.gunicorn.Worker" if impl == "coopshell" else "gevent"
    g = run_gunicorn(worker, "bench.scenarios.wsgi_server:app",
                     lambda port: run_load(port, seconds, connections))
    return {"rps": rps, "us_per_req": 1e6 / rps, "rps_gunicorn": g}


def run_coopshell(seconds, connections):
    return _measure("coopshell", seconds, connections)


def run_gevent(seconds, connections):
    return _measure("gevent", seconds, connections)
