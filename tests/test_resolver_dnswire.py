"""coopshell.resolver._dnswire: the query bytes are dnspython's, and every
answer it reads gives what dnspython reads from the same packet; anything
else is left to dnspython (None)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import pytest

from coopshell.resolver import _dnswire
from coopshell.resolver.dnspython import _follow


def _reply(qname, rdtype, qid, records=(), rcode=0, flags=0):
    """A real answer, made and rendered by dnspython (the reference)."""
    request = dns.message.make_query(qname, rdtype, id=qid)
    response = dns.message.make_response(request)
    response.set_rcode(rcode)
    response.flags |= flags
    for owner, ttl, rtype, *values in records:
        response.answer.append(dns.rrset.from_text(owner, ttl, "IN", rtype, *values))
    return response.to_wire()


@pytest.mark.parametrize("rdtype", [dns.rdatatype.A, dns.rdatatype.AAAA])
def test_the_query_is_byte_for_byte_dnspythons(rdtype):
    qname = dns.name.from_text("Www.Example.ORG")
    wire, question = _dnswire.query(qname.to_wire(), rdtype, 4321)
    assert wire == dns.message.make_query(qname, rdtype, id=4321).to_wire()
    assert wire.endswith(question)


@pytest.mark.parametrize("rdtype, records", [
    (dns.rdatatype.A, [("h1.example.org.", 60, "A", "10.0.0.1", "10.0.0.2")]),
    (dns.rdatatype.AAAA, [("h1.example.org.", 60, "AAAA", "2001:db8::1", "::ffff:1.2.3.4")]),
    (dns.rdatatype.A, [("h1.example.org.", 60, "CNAME", "Mid.example.net."),
                       ("mid.example.net.", 60, "CNAME", "end.example.com."),
                       ("end.example.com.", 60, "A", "192.0.2.7")]),
    (dns.rdatatype.A, [("h1.example.org.", 60, "CNAME", "loop.example.org."),
                       ("loop.example.org.", 60, "CNAME", "h1.example.org.")]),
    (dns.rdatatype.A, [("h1.example.org.", 60, "TXT", '"not an address"'),
                       ("h1.example.org.", 60, "A", "10.9.8.7")]),
])
def test_an_answer_reads_as_dnspython_reads_it(rdtype, records):
    qname = dns.name.from_text("h1.example.org")
    _, question = _dnswire.query(qname.to_wire(), rdtype, 99)
    data = _reply(qname, rdtype, 99, records)
    fast = _dnswire.parse(data, 99, question)
    slow = dns.message.from_wire(data)
    assert fast is not None
    assert fast.rcode() == slow.rcode()
    assert _follow(fast, qname, rdtype) == _follow(slow, qname, rdtype)


def test_nxdomain_keeps_its_rcode():
    qname = dns.name.from_text("gone.example.org")
    _, question = _dnswire.query(qname.to_wire(), dns.rdatatype.A, 7)
    fast = _dnswire.parse(_reply(qname, dns.rdatatype.A, 7, rcode=3), 7, question)
    assert fast.rcode() == 3 and fast.records == []


def test_a_question_echoed_in_another_case_still_matches():
    asked = dns.name.from_text("h1.example.org")
    _, question = _dnswire.query(asked.to_wire(), dns.rdatatype.A, 5)
    data = _reply(dns.name.from_text("H1.EXAMPLE.org"), dns.rdatatype.A, 5,
                  [("H1.EXAMPLE.org.", 60, "A", "10.1.1.1")])
    assert _follow(_dnswire.parse(data, 5, question), asked, dns.rdatatype.A)[2] == ["10.1.1.1"]


@pytest.mark.parametrize("case", ["other id", "other name", "other type", "truncated flag",
                                  "a query, not an answer", "cut short", "empty",
                                  "escaped label"])
def test_anything_else_is_left_to_dnspython(case):
    qname = dns.name.from_text("h1.example.org")
    rdtype = dns.rdatatype.A
    _, question = _dnswire.query(qname.to_wire(), rdtype, 11)
    good = [("h1.example.org.", 60, "A", "10.0.0.1")]
    data = {
        "other id": lambda: _reply(qname, rdtype, 12, good),
        "other name": lambda: _reply(dns.name.from_text("h2.example.org"), rdtype, 11),
        "other type": lambda: _reply(qname, dns.rdatatype.AAAA, 11),
        "truncated flag": lambda: _reply(qname, rdtype, 11, good, flags=dns.flags.TC),
        "a query, not an answer": lambda: dns.message.make_query(qname, rdtype, id=11).to_wire(),
        "cut short": lambda: _reply(qname, rdtype, 11, good)[:-3],
        "empty": lambda: b"",
        "escaped label": lambda: _reply(qname, rdtype, 11,
                                        [("h1.example.org.", 60, "CNAME", r"a\.b.example.org."),
                                         (r"a\.b.example.org.", 60, "A", "10.0.0.3")]),
    }[case]()
    assert _dnswire.parse(data, 11, question) is None


def test_a_compression_loop_is_refused_not_followed_forever():
    qname = dns.name.from_text("h1.example.org")
    _, question = _dnswire.query(qname.to_wire(), dns.rdatatype.A, 3)
    header = bytes([0, 3, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0])
    pointer_to_itself = bytes([0xC0, 12 + len(question)])
    data = header + question + pointer_to_itself + bytes([0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4])
    assert _dnswire.parse(data, 3, question) is None
