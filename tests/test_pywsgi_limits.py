"""coopshell.pywsgi against bad and hostile input: every case gets a precise
answer (400/408/414/431/505) or a clean close, never a lost worker, and the
server keeps serving."""

import pytest

from coopshell.pywsgi import WSGIHandler
from helpers.wsgi import Raw, hello, request, start, trickle_head


class Small(WSGIHandler):
    MAX_REQUEST_LINE = 100
    MAX_HEADER_BYTES = 400
    MAX_HEADERS = 5


class Impatient(WSGIHandler):
    HEADER_TIMEOUT = 0.3


@pytest.fixture
def srv():
    s = start(hello, handler_class=Small)
    yield s
    # whatever came before, the server still serves
    assert request(s.address, b"GET / HTTP/1.1\r\n\r\n").body == b"hello"
    s.stop(timeout=1)
    assert not s._handlers


@pytest.mark.parametrize("data, status, message", [
    (b"GET /\r\n\r\n", 400, b"malformed request line"),
    (b"GET  / HTTP/1.1\r\n\r\n", 400, b"malformed request line"),
    (b"G(T / HTTP/1.1\r\n\r\n", 400, b"invalid method"),
    (b"GET / HTTP/2.0\r\n\r\n", 505, b"HTTP version HTTP/2.0 is not supported"),
    (b"GET / HTTP/x\r\n\r\n", 400, b"invalid HTTP version"),
    (b"GET /\x01 HTTP/1.1\r\n\r\n", 400, b"invalid request target"),
    (b"GET x HTTP/1.1\r\n\r\n", 400, b"expected a path"),
    (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, b"no colon"),
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, b"invalid header name"),
    (b"GET / HTTP/1.1\r\n folded\r\n\r\n", 400, b"no header before it"),
    (b"GET /" + b"a" * 200 + b" HTTP/1.1\r\n\r\n", 414, b"longer than 100 bytes"),
    (b"GET /" + b"a" * 200, 414, b"longer than 100 bytes"),
    (b"GET / HTTP/1.1\r\nA: " + b"b" * 500 + b"\r\n\r\n", 431, b"larger than 400 bytes"),
    (b"GET / HTTP/1.1\r\nA: " + b"b" * 500, 431, b"larger than 400 bytes"),
    (b"GET / HTTP/1.1\r\n" + b"A: 1\r\n" * 6 + b"\r\n", 431, b"too many header lines (6"),
])
def test_bad_request_heads_get_a_precise_status(srv, data, status, message):
    with Raw(srv.address) as c:
        c.send(data)
        resp = c.response()
        assert resp.status == status, resp.body
        assert message in resp.body and resp.header("connection") == "close"
        assert c.closed_by_peer()
    assert f'" {status} ' in srv.log.getvalue()


def test_lf_only_heads_and_leading_empty_lines_are_accepted(srv):
    with Raw(srv.address) as c:
        c.send(b"\r\nGET / HTTP/1.1\nHost: x\n\n")
        assert c.response().body == b"hello"


def test_default_limits_are_generous_but_finite():
    assert WSGIHandler.MAX_REQUEST_LINE == 8192 and WSGIHandler.MAX_HEADER_BYTES == 65536
    s = start(hello)
    try:
        ok = request(s.address, b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\n\r\n")
        assert ok.status == 200
        big = request(s.address, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
        assert big.status == 414
    finally:
        s.stop()


def test_slowloris_is_dropped_after_the_header_timeout():
    s = start(hello, handler_class=Impatient)
    try:
        with Raw(s.address) as c:
            trickle_head(c)            # a byte every 50 ms, until the server answers
            resp = c.response()
            assert resp.status == 408 and b"not complete within 0.3 s" in resp.body
            assert c.closed_by_peer()
        # the same for a client that connects and sends nothing at all
        with Raw(s.address) as c:
            resp = c.response()
            assert resp.status == 408 and b"not complete within 0.3 s" in resp.body
        assert request(s.address, b"GET / HTTP/1.1\r\n\r\n").body == b"hello"
    finally:
        s.stop()


def test_client_disconnecting_mid_body_is_cleaned_up():
    from coopshell.event import Event
    seen, done = [], Event()

    def app(environ, start_response):
        try:
            environ["wsgi.input"].read()
        except OSError as err:
            seen.append(str(err))
            raise
        finally:
            done.set()
        start_response("200 OK", [])
        return []
    s = start(app)
    try:
        with Raw(s.address) as c:
            c.send(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        done.wait(timeout=10)
        assert seen == ["the client disconnected after 3 bytes of 10-byte request body"]
        while s._handlers:
            co_sleep(0.01)
        assert s.error_log.getvalue() == ""           # not an application error
        assert request(s.address, b"GET / HTTP/1.1\r\n\r\n").status == 200
    finally:
        s.stop()


def co_sleep(t):
    import coopshell
    coopshell.sleep(t)


class Brief(WSGIHandler):
    KEEPALIVE_TIMEOUT = 0.2
    HEADER_TIMEOUT = 30.0          # longer than the client's patience: not what closes it


def test_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout():
    s = start(hello, handler_class=Brief)
    try:
        # the client's own timeout (10 s) is the failure: with no keep-alive
        # timeout the server would hold the connection for good
        with Raw(s.address, timeout=10) as c:
            c.send(b"GET / HTTP/1.1\r\n\r\n")
            resp = c.response()
            assert resp.body == b"hello" and resp.header("connection") is None
            assert c.closed_by_peer()           # it sent nothing more: closed by the server
        while s._handlers:
            co_sleep(0.01)
        assert s.log.getvalue().count('"GET / HTTP/1.1" 200') == 1     # no 408 for an idle close
    finally:
        s.stop()


def test_default_keep_alive_waits_while_a_head_trickles_gets_408():
    # HEADER_TIMEOUT bounds a head that has begun, after a keep-alive response too
    class Both(Impatient):
        KEEPALIVE_TIMEOUT = 30.0
    s = start(hello, handler_class=Both)
    try:
        with Raw(s.address) as c:
            c.send(b"GET / HTTP/1.1\r\n\r\n")
            assert c.response().body == b"hello"
            trickle_head(c)            # a byte every 50 ms, until the server answers
            resp = c.response()
            assert resp.status == 408 and c.closed_by_peer()
    finally:
        s.stop()
