"""The DNS wire format of a plain query and of the common answer (A, AAAA,
CNAME records), for ``coopshell.resolver.dnspython``'s hot path.

dnspython's ``Message`` objects cost ~200 µs of CPU per lookup (building the
query ~45 µs, ``from_wire`` + ``is_response`` ~140 µs), which makes a sweep
of thousands of names CPU-bound. The query here is the same bytes
``dns.message.make_query(qname, rdtype, id=qid)`` sends (RD set, no EDNS),
and :func:`parse` reads an answer in a few µs. Anything it does not handle
exactly (a truncated answer, a compressed or mismatched question, a
malformed packet) makes it return None, and the caller parses the packet
with dnspython as before, so the slow path stays the reference.
"""

from __future__ import annotations

import struct
from socket import AF_INET6, inet_ntop

__all__ = ["query", "parse", "Answer", "A", "AAAA", "CNAME"]

A, CNAME, AAAA = 1, 5, 28
_IN = 1
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QR, _TC, _OPCODE = 0x8000, 0x0200, 0x7800


class Answer:
    """A parsed answer: ``rcode()`` as dnspython's, and ``records``:
    ``(owner, rdtype, value)`` with owner names in their case as sent,
    without the final dot; value an address string or a CNAME target."""

    __slots__ = ("_rcode", "records")

    def __init__(self, rcode: int, records: list) -> None:
        self._rcode = rcode
        self.records = records

    def rcode(self) -> int:
        return self._rcode


def query(qname_wire: bytes, rdtype: int, qid: int) -> tuple[bytes, bytes]:
    """``(packet, question)``: the query for ``qname_wire`` (a name in wire
    form, as ``dns.name.Name.to_wire()`` gives it) and its question section."""
    question = qname_wire + struct.pack("!HH", rdtype, _IN)
    return _HEADER.pack(qid, 0x0100, 1, 0, 0, 0) + question, question


def parse(data: bytes, qid: int, question: bytes) -> Answer | None:
    """The answer to the query ``qid``/``question``, or None if ``data`` is
    not exactly that (dnspython then decides what it is)."""
    try:
        rid, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(data)
        end = 12 + len(question)
        if (rid != qid or not flags & _QR or flags & (_TC | _OPCODE) or qdcount != 1
                or data[12:end].lower() != question.lower()):
            return None
        records = []
        pos = end
        for _ in range(ancount):
            owner, pos = _name(data, pos)
            rdtype, rdclass, _, rdlength = _RR.unpack_from(data, pos)
            pos += 10
            rdata_end = pos + rdlength
            if rdata_end > len(data):
                return None
            if rdclass == _IN:
                if rdtype == A and rdlength == 4:
                    records.append((owner, A, "%d.%d.%d.%d" % tuple(data[pos:rdata_end])))
                elif rdtype == AAAA and rdlength == 16:
                    records.append((owner, AAAA, inet_ntop(AF_INET6, data[pos:rdata_end])))
                elif rdtype == CNAME:
                    target, after = _name(data, pos)
                    if after != rdata_end:
                        return None
                    records.append((owner, CNAME, target))
            pos = rdata_end
        return Answer(flags & 0x000F, records)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        return None


def _name(data: bytes, pos: int) -> tuple[str, int]:
    """The (possibly compressed) name at ``pos`` as text, and the offset after it."""
    labels = []
    end = None
    jumps = 0
    while True:
        n = data[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:
            if end is None:
                end = pos + 2
            jumps += 1
            if jumps > 64:
                raise ValueError("DNS name compression loop")
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            continue
        if n & 0xC0:
            raise ValueError("unknown DNS label type")
        label = data[pos + 1:pos + 1 + n]
        if len(label) != n:
            raise ValueError("DNS name runs past the packet")
        text = label.decode("ascii")
        if "." in text or "\\" in text or not text.isprintable() or " " in text:
            raise ValueError("a label dnspython would escape")    # left to dnspython
        labels.append(text)
        pos += 1 + n
    return ".".join(labels), (pos if end is None else end)
