"""HTTP client throughput: ``requests`` GETs in total, ``concurrency`` at a
time (greenlets or tasks, each making its share one after another), against
a local keep-alive HTTP/1.1 server in another process (uvloop, fixed
112-byte body: :mod:`bench.scenarios._http_server`), so that the client is
what is measured. Reported, in requests per second (higher is better):

- ``requests``: one ``requests.Session`` (connection pool of
  ``concurrency``), under the implementation's ``patch_all()``;
- ``urllib3``: one ``urllib3.HTTPConnectionPool`` (``maxsize=concurrency``),
  under ``patch_all()``;
- ``raw``: a hand-written HTTP/1.1 client, one connection per greenlet,
  on the implementation's sockets (asyncio: streams). asyncio has only this
  one: requests and urllib3 are blocking libraries.

Each is the best of ``reps`` runs in one process, connections included."""

from __future__ import annotations

import subprocess
import sys
from time import perf_counter

from bench.common import Metric, Target, child_env

TITLE = "HTTP client: 2,000 GETs, 100 concurrent, local keep-alive server"
METRICS = [Metric("rps_requests", "req/s, requests", better="higher"),
           Metric("rps_urllib3", "req/s, urllib3", better="higher"),
           Metric("rps_raw", "req/s, raw HTTP/1.1 on sockets", better="higher")]
PARAMS = {"full": {"requests": 2000, "concurrency": 100, "reps": 3},
          "quick": {"requests": 2000, "concurrency": 100, "reps": 1},
          "smoke": {"requests": 20, "concurrency": 4, "reps": 1}}
TARGETS = [Target("rps_requests", min_ratio=1.1), Target("rps_urllib3", min_ratio=1.1)]

_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"


class _Server:
    """The server process: started on entry, stopped (stdin closed) on exit."""

    def __enter__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.scenarios._http_server", "--max-seconds", "900"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env())
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError(f"the HTTP server did not start (said {line!r})")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}/"
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _parse_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise AssertionError(f"no Content-Length in {head!r}")


def _raw_get(sock, buf: bytearray) -> bytes:
    """One GET on a keep-alive socket; ``buf`` carries bytes read past the response."""
    sock.sendall(_REQUEST)
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    if not buf.startswith(b"HTTP/1.1 200"):
        raise AssertionError(f"bad response {bytes(buf[:40])!r}")
    total = end + _parse_length(bytes(buf[:end]))
    while len(buf) < total:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    body = bytes(buf[end:total])
    del buf[:total]
    return body


def _green(spawn, joinall, requests, concurrency, reps):
    """Run the three clients; the green library is already patched in."""
    import socket

    import requests as rq
    import urllib3

    from bench.scenarios._http_server import BODY

    def batch(make_get):
        """Time ``requests`` GETs by ``concurrency`` workers, each calling
        ``make_get()`` once for its own getter."""
        share = [requests // concurrency + (i < requests % concurrency)
                 for i in range(concurrency)]
        done = []

        def worker(k):
            get = make_get()
            for _ in range(k):
                if get() != BODY:
                    raise AssertionError("wrong body")
                done.append(1)

        t0 = perf_counter()
        gs = [spawn(worker, k) for k in share]
        joinall(gs, raise_error=True)
        elapsed = perf_counter() - t0
        if len(done) != requests:
            raise AssertionError(f"{len(done)} of {requests} requests done")
        return requests / elapsed

    out = {}
    with _Server() as srv:
        best = 0.0
        for _ in range(reps):
            with rq.Session() as session:
                adapter = rq.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=concurrency)
                session.mount("http://", adapter)
                best = max(best, batch(lambda: lambda: session.get(srv.url).content))
        out["rps_requests"] = best
        best = 0.0
        for _ in range(reps):
            pool = urllib3.HTTPConnectionPool("127.0.0.1", srv.port, maxsize=concurrency,
                                              block=True)
            best = max(best, batch(lambda: lambda: pool.request("GET", "/").data))
            pool.close()
        out["rps_urllib3"] = best
        best = 0.0
        for _ in range(reps):
            conns = []

            def make_raw():
                sock, buf = socket.create_connection(("127.0.0.1", srv.port)), bytearray()
                conns.append(sock)
                return lambda: _raw_get(sock, buf)

            best = max(best, batch(make_raw))
            for sock in conns:
                sock.close()
        out["rps_raw"] = best
    return out


def run_coopshell(requests, concurrency, reps):
    from coopshell import monkey
    monkey.patch_all()
    import coopshell
    return _green(coopshell.spawn, coopshell.joinall, requests, concurrency, reps)


def run_gevent(requests, concurrency, reps):
    from gevent import monkey
    monkey.patch_all()
    import gevent
    return _green(gevent.spawn, gevent.joinall, requests, concurrency, reps)


def run_eventlet(requests, concurrency, reps):
    import eventlet
    eventlet.monkey_patch()

    def joinall(gs, raise_error=True):
        for g in gs:
            g.wait()

    return _green(eventlet.spawn, joinall, requests, concurrency, reps)


def run_asyncio(requests, concurrency, reps):
    import asyncio

    from bench.common import arun
    from bench.scenarios._http_server import BODY

    async def get(reader, writer):
        writer.write(_REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise AssertionError(f"bad response {head[:40]!r}")
        return await reader.readexactly(_parse_length(head))

    async def main(port):
        best = 0.0
        for _ in range(reps):
            share = [requests // concurrency + (i < requests % concurrency)
                     for i in range(concurrency)]
            done = []

            async def worker(k):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                for _ in range(k):
                    if await get(reader, writer) != BODY:
                        raise AssertionError("wrong body")
                    done.append(1)
                writer.close()

            t0 = perf_counter()
            await asyncio.gather(*(worker(k) for k in share))
            elapsed = perf_counter() - t0
            if len(done) != requests:
                raise AssertionError(f"{len(done)} of {requests} requests done")
            best = max(best, requests / elapsed)
        return {"rps_requests": None, "rps_urllib3": None, "rps_raw": best}

    with _Server() as srv:
        return arun(main(srv.port))
