"""TCP echo on 127.0.0.1, clients in the same process: ``clients`` greenlets
(tasks) each make ``rounds`` round trips of ``size`` bytes (sendall, then recv
until the echo is back) to an echo server whose per-connection handler does
recv/sendall. Reported: µs per round trip over all clients (lower is better)."""

from __future__ import annotations

from time import perf_counter

from bench.common import Metric, Target

TITLE = "TCP echo, 100 clients in-process (64 B)"
METRICS = [Metric("us_per_rt", "µs/round trip")]
PARAMS = {"full": {"clients": 100, "rounds": 1000, "size": 64},
          "quick": {"clients": 100, "rounds": 200, "size": 64},
          "smoke": {"clients": 4, "rounds": 20, "size": 64}}
TARGETS = [Target("us_per_rt", max_ratio=0.7)]   # issue 15: uvloop's level


def green_echo(socket_mod, spawn, joinall, clients, rounds, size):
    """The same program for every greenlet library: ``socket_mod`` is its
    socket module, ``joinall(list)`` waits for all."""
    nodelay = (socket_mod.IPPROTO_TCP, socket_mod.TCP_NODELAY, 1)
    listener = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_STREAM)
    listener.setsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(clients + 16)
    port = listener.getsockname()[1]

    def handle(conn):
        recv, sendall = conn.recv, conn.sendall
        while True:
            data = recv(65536)
            if not data:
                break
            sendall(data)
        conn.close()

    def server():
        for _ in range(clients):
            conn, _ = listener.accept()
            conn.setsockopt(*nodelay)
            spawn(handle, conn)

    payload = b"x" * size

    def client(sock):
        recv, sendall = sock.recv, sock.sendall
        for _ in range(rounds):
            sendall(payload)
            got = len(recv(size))
            while got < size:
                got += len(recv(size - got))
        sock.close()

    srv = spawn(server)
    socks = []
    for _ in range(clients):
        s = socket_mod.create_connection(("127.0.0.1", port))
        s.setsockopt(*nodelay)
        socks.append(s)
    joinall([srv])
    t0 = perf_counter()
    joinall([spawn(client, s) for s in socks])
    elapsed = perf_counter() - t0
    listener.close()
    return {"us_per_rt": elapsed / (clients * rounds) * 1e6}


def run_coopshell(clients, rounds, size):
    import coopshell
    import coopshell.socket
    return green_echo(coopshell.socket, coopshell.spawn, coopshell.joinall, clients, rounds, size)


def run_gevent(clients, rounds, size):
    import gevent
    import gevent.socket
    return green_echo(gevent.socket, gevent.spawn, gevent.joinall, clients, rounds, size)


def run_eventlet(clients, rounds, size):
    import eventlet
    from eventlet.green import socket

    def joinall(gs):
        for g in gs:
            g.wait()
    return green_echo(socket, eventlet.spawn, joinall, clients, rounds, size)


async def asyncio_echo(clients, rounds, size):
    import asyncio

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
    elapsed = perf_counter() - t0
    server.close()
    return {"us_per_rt": elapsed / (clients * rounds) * 1e6}


def run_asyncio(clients, rounds, size):
    from bench.common import arun
    return arun(asyncio_echo(clients, rounds, size))
