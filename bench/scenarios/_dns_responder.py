"""The local DNS responder of the ``dns_sweep`` scenario.

``python -m bench.scenarios._dns_responder --port 53 --delay 0.02`` answers
UDP queries on 127.0.0.1, each ``--delay`` seconds after it arrived, prints
``ready`` once bound, and exits when its standard input closes or after
``--max-seconds``. It is authoritative for ``NAME_SUFFIX``: ``h<i>.<suffix>``
has one A record, :func:`address` ``(i)``; other types get an empty answer
(NODATA) and other names NXDOMAIN. Only the header and the question are
parsed (EDNS options in the additional section are ignored). The scenario
runs it inside a private network namespace, so port 53 is its own.
"""

from __future__ import annotations

import argparse
import heapq
import os
import select
import socket
import struct
import sys
from time import monotonic

__all__ = ["NAME_SUFFIX", "name", "address", "answer", "main"]

NAME_SUFFIX = "sweep.test"
_FLAGS = 0x8000 | 0x0400 | 0x0080   # response, authoritative, recursion available


def name(i: int) -> str:
    """The ``i``-th name of the sweep."""
    return f"h{i}.{NAME_SUFFIX}"


def address(i: int) -> str:
    """The A record of :func:`name` ``(i)``: 10.x.y.z, distinct for i < 2**24."""
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def answer(query: bytes) -> bytes | None:
    """The response to one query packet, or None if it is not a query."""
    if len(query) < 17 or query[2] & 0x80:
        return None
    labels, pos = [], 12
    while pos < len(query) and query[pos]:
        n = query[pos]
        labels.append(query[pos + 1:pos + 1 + n].decode("ascii", "replace").lower())
        pos += 1 + n
    pos += 1
    if pos + 4 > len(query):
        return None
    qtype, _ = struct.unpack("!HH", query[pos:pos + 4])
    question = query[12:pos + 4]
    ip = None
    if len(labels) == 3 and ".".join(labels[1:]) == NAME_SUFFIX and labels[0][:1] == "h" \
            and labels[0][1:].isdigit():
        ip = address(int(labels[0][1:]))
    rcode = 3 if ip is None else 0
    records = b""
    if ip is not None and qtype == 1:
        records = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(ip)
    flags = _FLAGS | (query[2] & 0x01) << 8 | rcode
    header = query[:2] + struct.pack("!HHHHH", flags, 1, 1 if records else 0, 0, 0)
    return header + question + records


def serve(port: int, delay: float, max_seconds: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", port))
    sock.setblocking(False)
    print("ready", flush=True)
    stdin = sys.stdin.fileno()
    pending: list = []    # (due, seq, packet, address)
    seq = 0
    stop = monotonic() + max_seconds
    while monotonic() < stop:
        timeout = max(0.0, pending[0][0] - monotonic()) if pending else 1.0
        readable, _, _ = select.select([sock, stdin], [], [], timeout)
        if stdin in readable and not os.read(stdin, 4096):
            return
        if sock in readable:
            now = monotonic()
            while True:
                try:
                    data, peer = sock.recvfrom(4096)
                except BlockingIOError:
                    break
                reply = answer(data)
                if reply is not None:
                    seq += 1
                    heapq.heappush(pending, (now + delay, seq, reply, peer))
        now = monotonic()
        while pending and pending[0][0] <= now:
            _, _, reply, peer = heapq.heappop(pending)
            try:
                sock.sendto(reply, peer)
            except BlockingIOError:
                heapq.heappush(pending, (now + 0.001, 0, reply, peer))
                break


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scenarios._dns_responder")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--delay", type=float, default=0.02)
    p.add_argument("--max-seconds", type=float, default=900.0)
    args = p.parse_args(argv)
    serve(args.port, args.delay, args.max_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
