"""The local keep-alive HTTP/1.1 server of the ``http_client`` scenario.

``python -m bench.scenarios._http_server`` listens on 127.0.0.1 (an
ephemeral port, printed as the first line of output), answers every
request with a fixed 200 response of ``BODY``, keeps connections alive, and
exits when its standard input closes (the scenario closes it, or dies) or
after ``--max-seconds``. It runs on uvloop when installed, with a plain
asyncio Protocol, so that it is the same, fast server for every column.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["BODY", "main"]

BODY = b"Hello, world!\n" * 8
_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
             + str(len(BODY)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + BODY)


class _Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data):
        buf = self.buf + data
        # GET requests carry no body: one response per blank line seen
        n = buf.count(b"\r\n\r\n")
        if n:
            self.transport.write(_RESPONSE * n)
            buf = buf[buf.rindex(b"\r\n\r\n") + 4:]
        self.buf = buf


async def _serve(max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    stdin_closed = loop.create_future()

    def on_stdin():
        if not sys.stdin.buffer.raw.read(4096):
            loop.remove_reader(sys.stdin.fileno())
            stdin_closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    try:
        await asyncio.wait_for(stdin_closed, max_seconds)
    except asyncio.TimeoutError:
        pass
    server.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scenarios._http_server")
    p.add_argument("--max-seconds", type=float, default=600.0)
    args = p.parse_args(argv)
    try:
        import uvloop
        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    loop = factory() if factory is not None else asyncio.new_event_loop()  # 3.10: no Runner
    try:
        loop.run_until_complete(_serve(args.max_seconds))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
