"""coopshell.gunicorn.Worker under a real gunicorn master on 127.0.0.1:
several workers, cooperative blocking in the app, HUP reload, TERM with
requests in flight, max_requests and keep-alive."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

pytest.importorskip("gunicorn")

APP = textwrap.dedent("""
    import os, time

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/wait":                       # blocks (cooperatively) until the gate opens
            d = environ["QUERY_STRING"]
            open(os.path.join(d, "in-%s" % environ["REMOTE_PORT"]), "w").close()
            while not os.path.exists(os.path.join(d, "gate")):
                time.sleep(0.02)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("%d %s" % (os.getpid(), environ["REMOTE_PORT"])).encode()]
""")


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Master:
    def __init__(self, tmp_path, *args):
        (tmp_path / "gapp.py").write_text(APP)
        self.port = _free_port()
        self.log = open(tmp_path / "gunicorn.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "coopshell.gunicorn.Worker",
             "--no-control-socket", "-b", f"127.0.0.1:{self.port}", "--chdir", str(tmp_path),
             "--graceful-timeout", "20", *args, "gapp:app"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.ps = psutil.Process(self.proc.pid)

    def workers(self):
        return {p.pid for p in self.ps.children() if p.status() != psutil.STATUS_ZOMBIE}

    def wait_workers(self, n, exclude=()):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pids = self.workers()
            if len(pids) == n and not pids & set(exclude):
                try:
                    self.get("/")
                    return pids
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"workers did not come up: {self.logtext()}")

    def get(self, path, conn=None):
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(), resp.getheader("Connection")
        finally:
            if own:
                conn.close()

    def logtext(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _wait_files(d, prefix, n):
    deadline = time.monotonic() + 30
    while len([f for f in os.listdir(d) if f.startswith(prefix)]) < n:
        assert time.monotonic() < deadline, os.listdir(d)
        time.sleep(0.02)


def _start_waiters(m, d, n):
    results = []

    def one():
        results.append(m.get(f"/wait?{d}"))
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, results


def test_workers_concurrency_keepalive_hup_and_term_in_flight(tmp_path):
    m = Master(tmp_path, "-w", "2", "--keep-alive", "5", "--timeout", "10")
    try:
        old = m.wait_workers(2)
        # 10 requests blocked at once on 2 workers: the app's time.sleep cooperates
        gate_dir = tmp_path / "g1"
        gate_dir.mkdir()
        threads, results = _start_waiters(m, gate_dir, 10)
        _wait_files(gate_dir, "in-", 10)
        (gate_dir / "gate").touch()
        for t in threads:
            t.join(30)
        assert len(results) == 10 and all(r[0] == 200 for r in results)
        assert {int(r[1].split()[0]) for r in results} <= old
        # keep-alive: one connection, two requests, same client port
        conn = http.client.HTTPConnection("127.0.0.1", m.port, timeout=30)
        a, b = m.get("/", conn), m.get("/", conn)
        conn.close()
        assert a[1].split()[1] == b[1].split()[1]
        # HUP: a fresh set of workers, still serving
        m.proc.send_signal(signal.SIGHUP)
        new = m.wait_workers(2, exclude=old)
        assert int(m.get("/")[1].split()[0]) in new
        # TERM with requests in flight: they finish, then everything exits
        gate_dir = tmp_path / "g2"
        gate_dir.mkdir()
        threads, results = _start_waiters(m, gate_dir, 4)
        _wait_files(gate_dir, "in-", 4)
        m.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while True:                      # the listeners close first
            try:
                socket.create_connection(("127.0.0.1", m.port), timeout=1).close()
            except ConnectionRefusedError:
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert m.proc.poll() is None     # still draining the requests in flight
        (gate_dir / "gate").touch()
        for t in threads:
            t.join(30)
        assert [r[0] for r in results] == [200] * 4
        assert m.proc.wait(timeout=30) == 0
        assert "Traceback" not in m.logtext()
    finally:
        m.stop()


def test_max_requests_restarts_the_worker_and_keepalive_zero_closes(tmp_path):
    m = Master(tmp_path, "-w", "1", "--max-requests", "3", "--keep-alive", "0")
    try:
        (first,) = m.wait_workers(1)    # wait_workers made one request already
        pids = []
        for _ in range(2):
            status, body, connection = m.get("/")
            pids.append(int(body.split()[0]))
            assert connection == "close"
        assert pids == [first, first]
        second = m.wait_workers(1, exclude={first})
        assert int(m.get("/")[1].split()[0]) in second
        assert "Autorestarting worker after current request" in m.logtext()
    finally:
        m.stop()
