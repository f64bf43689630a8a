"""TCP echo on 127.0.0.1 with the clients in a separate process: the worker
runs the echo server; a child interpreter (same library) runs ``clients``
greenlets (tasks) making ``rounds`` round trips of ``size`` bytes each.
Reported: µs per round trip, timed by the client process (lower is better)."""

from __future__ import annotations

import subprocess
import sys
from time import perf_counter

from bench.common import Metric, Target, child_env

TITLE = "TCP echo, 100 clients in another process (64 B)"
METRICS = [Metric("us_per_rt", "µs/round trip")]
PARAMS = {"full": {"clients": 100, "rounds": 1000, "size": 64},
          "quick": {"clients": 100, "rounds": 200, "size": 64},
          "smoke": {"clients": 4, "rounds": 20, "size": 64}}
TARGETS = [Target("us_per_rt", max_ratio=0.7)]   # issue 15: uvloop's level


def _start_clients(impl, port, clients, rounds, size):
    code = (f"from bench.scenarios.tcp_echo_subprocess import client_main; "
            f"client_main({impl!r}, {port}, {clients}, {rounds}, {size})")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=child_env())


def _result(proc):
    out = proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError(f"client process failed with exit code {proc.returncode}")
    return {"us_per_rt": float(out.split()[-1])}


def green_server(socket_mod, spawn, joinall, impl, clients, rounds, size):
    nodelay = (socket_mod.IPPROTO_TCP, socket_mod.TCP_NODELAY, 1)
    listener = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_STREAM)
    listener.setsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(clients + 16)
    proc = _start_clients(impl, listener.getsockname()[1], clients, rounds, size)

    def handle(conn):
        recv, sendall = conn.recv, conn.sendall
        while True:
            data = recv(65536)
            if not data:
                break
            sendall(data)
        conn.close()

    handlers = []
    for _ in range(clients):
        conn, _ = listener.accept()
        conn.setsockopt(*nodelay)
        handlers.append(spawn(handle, conn))
    joinall(handlers)
    listener.close()
    return _result(proc)


def green_clients(socket_mod, spawn, joinall, port, clients, rounds, size):
    nodelay = (socket_mod.IPPROTO_TCP, socket_mod.TCP_NODELAY, 1)
    payload = b"x" * size

    def client(sock):
        recv, sendall = sock.recv, sock.sendall
        for _ in range(rounds):
            sendall(payload)
            got = len(recv(size))
            while got < size:
                got += len(recv(size - got))
        sock.close()

    socks = []
    for _ in range(clients):
        s = socket_mod.create_connection(("127.0.0.1", port))
        s.setsockopt(*nodelay)
        socks.append(s)
    t0 = perf_counter()
    joinall([spawn(client, s) for s in socks])
    return (perf_counter() - t0) / (clients * rounds) * 1e6


def _eventlet_joinall(gs):
    for g in gs:
        g.wait()


def client_main(impl, port, clients, rounds, size):
    """Entry point of the client process: prints µs per round trip."""
    if impl == "coopshell":
        import coopshell
        import coopshell.socket
        us = green_clients(coopshell.socket, coopshell.spawn, coopshell.joinall, port, clients,
                           rounds, size)
    elif impl == "gevent":
        import gevent
        import gevent.socket
        us = green_clients(gevent.socket, gevent.spawn, gevent.joinall, port, clients, rounds, size)
    elif impl == "eventlet":
        import eventlet
        from eventlet.green import socket
        us = green_clients(socket, eventlet.spawn, _eventlet_joinall, port, clients, rounds, size)
    else:
        import asyncio
        if impl == "asyncio+uvloop":
            import uvloop
            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        else:
            runner = asyncio.Runner()
        with runner:
            us = runner.run(_asyncio_clients(port, clients, rounds, size))
    print(us, flush=True)


async def _asyncio_clients(port, clients, rounds, size):
    import asyncio
    payload = b"x" * size

    async def client(reader, writer):
        for _ in range(rounds):
            writer.write(payload)
            await writer.drain()
            await reader.readexactly(size)
        writer.close()

    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
    t0 = perf_counter()
    await asyncio.gather(*(client(r, w) for r, w in conns))
    return (perf_counter() - t0) / (clients * rounds) * 1e6


def run_coopshell(clients, rounds, size):
    import coopshell
    import coopshell.socket
    return green_server(coopshell.socket, coopshell.spawn, coopshell.joinall, "coopshell",
                        clients, rounds, size)


def run_gevent(clients, rounds, size):
    import gevent
    import gevent.socket
    return green_server(gevent.socket, gevent.spawn, gevent.joinall, "gevent", clients, rounds, size)


def run_eventlet(clients, rounds, size):
    import eventlet
    from eventlet.green import socket
    return green_server(socket, eventlet.spawn, _eventlet_joinall, "eventlet", clients, rounds, size)


def run_asyncio(clients, rounds, size):
    import asyncio

    from bench.common import _loop_factory, arun
    impl = "asyncio+uvloop" if _loop_factory is not None else "asyncio"

    async def main():
        async def handle(reader, writer):
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=clients + 16)
        port = server.sockets[0].getsockname()[1]
        proc = _start_clients(impl, port, clients, rounds, size)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, _result, proc)
        server.close()
        return result

    return arun(main())
