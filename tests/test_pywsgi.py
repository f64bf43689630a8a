"""coopshell.pywsgi: HTTP/1.1 with real clients (http.client, requests,
urllib3) and raw sockets, PEP 3333 environ, logs, errors, TLS, stop."""

import http.client
import io
import logging
import re
import ssl
import wsgiref.validate

import pytest
import requests
import trustme
import urllib3

import coopshell as co
from coopshell import socket as cs
from coopshell.event import Event
from coopshell.pywsgi import (Environ, LoggingLogAdapter, SecureEnviron, WSGIHandler,
                              WSGIServer, WSGISecureEnviron)
from helpers.wsgi import Raw, hello, in_thread, request, serve, start  # noqa: F401 (serve: a fixture)


def _echo(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("X-Method", environ["REQUEST_METHOD"])])
    return [body]


# -- real clients ----------------------------------------------------------------------

def test_http_client_reuses_one_keep_alive_connection(serve):
    ports = []

    def app(environ, start_response):
        ports.append(environ["REMOTE_PORT"])
        return _echo(environ, start_response)
    srv = serve(app)

    def client():
        conn = http.client.HTTPConnection(*srv.address, timeout=10)
        out = []
        for i in range(3):
            conn.request("POST", "/", body=b"x" * i)
            resp = conn.getresponse()
            out.append((resp.status, resp.read(), resp.getheader("X-Method")))
        conn.close()
        return out
    assert in_thread(client) == [(200, b"", "POST"), (200, b"x", "POST"), (200, b"xx", "POST")]
    assert len(ports) == 3 and len(set(ports)) == 1


def test_requests_and_urllib3(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["QUERY_STRING"].encode(), b"|", environ["wsgi.input"].read()]
    srv = serve(app)
    url = f"http://127.0.0.1:{srv.server_port}/p"

    def with_requests():
        with requests.Session() as s:
            return [s.post(url, params={"a": "1"}, data=b"body").text,
                    s.get(url).text,
                    s.put(url, data=iter([b"ch", b"unked"])).text]   # chunked upload
    assert in_thread(with_requests) == ["a=1|body", "|", "|chunked"]

    def with_urllib3():
        with urllib3.PoolManager() as pm:
            r = pm.request("POST", url + "?q=2", body=b"u3")
            return r.status, r.data
    assert in_thread(with_urllib3) == (200, b"q=2|u3")


def test_wsgiref_validator_finds_nothing_wrong(serve):
    def app(environ, start_response):
        inp = environ["wsgi.input"]
        first = inp.readline()
        rest = list(inp)
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(first) + sum(map(len, rest))))])
        return [first] + rest
    srv = serve(wsgiref.validate.validator(app))
    for data in (b"", b"one\ntwo\nthree"):
        resp = request(srv.address, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                       % (len(data), data))
        assert (resp.status, resp.body) == (200, data)
    assert srv.error_log.getvalue() == ""


# -- the protocol, on raw sockets ------------------------------------------------------

def test_pipelined_requests_are_answered_in_order(serve):
    srv = serve(_echo)
    with Raw(srv.address) as c:
        c.send(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
               b"GET / HTTP/1.1\r\n\r\n"
               b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nde")
        assert [c.response().body for _ in range(3)] == [b"abc", b"", b"de"]
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        assert c.response().status == 200


def test_input_never_reads_past_the_body(serve):
    seen = []

    def app(environ, start_response):
        inp = environ["wsgi.input"]
        seen.append((inp.read(100), inp.read(), inp.readline()))
        start_response("204 No Content", [])
        return []
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n")
        assert c.response().status == 204
        assert c.response().status == 204
    assert seen == [(b"hello", b"", b""), (b"", b"", b"")]


def test_input_readline_sizes_and_iteration(serve):
    seen = []

    def app(environ, start_response):
        inp = environ["wsgi.input"]
        seen.append([inp.readline(2), inp.readline(), inp.readlines()])
        start_response("200 OK", [])
        return []
    srv = serve(app)
    body = b"abc\nde\nf"
    request(srv.address, b"POST / HTTP/1.1\r\nContent-Length: 8\r\n\r\n" + body)
    assert seen == [[b"ab", b"c\n", [b"de\n", b"f"]]]


def test_chunked_request_with_extensions_and_trailers(serve):
    srv = serve(_echo)
    with Raw(srv.address) as c:
        c.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4;name=v\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n"
               b"X-Trailer: 1\r\n\r\n")
        assert c.response().body == b"Wikipedia in\r\n\r\nchunks."
        c.send(b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nz")
        assert c.response().body == b"z"


def test_bad_chunk_size_is_400_and_closes(serve):
    srv = serve(_echo)
    with Raw(srv.address) as c:
        c.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        resp = c.response()
        assert resp.status == 400 and b"invalid chunk size" in resp.body
        assert c.closed_by_peer()


def test_streamed_response_is_chunked_on_http11_and_close_delimited_on_http10(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"a"
        yield b""
        yield b"bc"
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        resp = c.response()
        assert resp.header("transfer-encoding") == "chunked" and resp.body == b"abc"
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        resp = c.response()
        assert resp.header("transfer-encoding") is None and resp.body == b"abc"
        assert resp.header("connection") == "close"


def test_write_callable_and_content_length_from_the_app(serve):
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Length", "6")])
        write(b"abc")
        return [b"def"]
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        assert [c.response().body for _ in range(2)] == [b"abcdef", b"abcdef"]


def test_expect_100_continue(serve):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/read":
            body = environ["wsgi.input"].read()
        else:
            body = b"not read"
        start_response("200 OK", [])
        return [body]
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"PUT /read HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert c.read_until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        c.send(b"data")
        assert c.response().body == b"data"
        # the app answers without reading: no 100, and the connection closes
        c.send(b"PUT /skip HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        resp = c.response()
        assert resp.status == 200 and resp.body == b"not read"
        assert resp.header("connection") == "close" and c.closed_by_peer()
    resp = request(srv.address, b"PUT / HTTP/1.1\r\nExpect: something\r\n\r\n")
    assert resp.status == 417


def test_head_is_answered_without_a_body(serve):
    srv = serve(hello)
    with Raw(srv.address) as c:
        c.send(b"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        head = c.response("HEAD")
        assert head.status == 200 and head.header("content-length") == "5"
        assert c.response().body == b"hello"          # nothing of HEAD's body in between


def test_connection_close_and_http10_semantics(serve):
    srv = serve(hello)
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        resp = c.response()
        assert resp.header("connection") == "close" and c.closed_by_peer()
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        assert c.response().body == b"hello" and c.closed_by_peer()
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert c.response().header("connection") == "keep-alive"
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        assert c.response().body == b"hello" and c.closed_by_peer()


def test_no_body_statuses_get_no_content_length(serve):
    def app(environ, start_response):
        start_response("304 Not Modified", [("ETag", '"x"')])
        return []
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        for _ in range(2):
            resp = c.response()
            assert resp.status == 304 and resp.header("content-length") is None


def test_response_content_length_mismatches_close_the_connection(serve):
    def app(environ, start_response):
        n = environ["PATH_INFO"]
        start_response("200 OK", [("Content-Length", "4")])
        return [b"ab"] if n == "/short" else [b"abcdef"]
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"GET /long HTTP/1.1\r\n\r\n")
        assert c.response().body == b"abcd" and c.closed_by_peer()
    with Raw(srv.address) as c:
        c.send(b"GET /short HTTP/1.1\r\n\r\n")
        assert c.read_to_eof().endswith(b"\r\n\r\nab")
    log = srv.error_log.getvalue()
    assert "returned 6 body bytes with Content-Length: 4" in log
    assert "returned 2 body bytes with Content-Length: 4" in log


@pytest.mark.parametrize("head, status, message", [
    (b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400, b"invalid Content-Length"),
    (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
     b"conflicting Content-Length"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, b"only chunked"),
])
def test_request_framing_errors(serve, head, status, message):
    srv = serve(_echo)
    with Raw(srv.address) as c:
        c.send(head)
        resp = c.response()
        assert resp.status == status and message in resp.body
        assert c.closed_by_peer()


# -- environ ---------------------------------------------------------------------------

def test_environ_keys(serve):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return []
    srv = serve(app, environ={"SCRIPT_NAME": "/app", "custom": 1})
    with Raw(srv.address) as c:
        c.send(b"POST /app/a%20b/%E9?x=%20&y HTTP/1.1\r\nHost: example\r\nX-Dup: 1\r\n"
               b"x-dup: 2\r\nCookie: a=1\r\nCookie: b=2\r\nX_Spoof: no\r\n"
               b"Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n")
        c.response()
        port = str(c.sock.getsockname()[1])
    assert seen["REQUEST_METHOD"] == "POST"
    assert seen["SCRIPT_NAME"] == "/app" and seen["PATH_INFO"] == "/a b/\xe9"
    assert seen["QUERY_STRING"] == "x=%20&y"
    assert seen["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert (seen["REMOTE_ADDR"], seen["REMOTE_PORT"]) == ("127.0.0.1", port)
    assert (seen["SERVER_NAME"], seen["SERVER_PORT"]) == ("127.0.0.1", str(srv.server_port))
    assert seen["HTTP_HOST"] == "example" and seen["HTTP_X_DUP"] == "1,2"
    assert seen["HTTP_COOKIE"] == "a=1; b=2"
    assert not any("SPOOF" in k for k in seen)
    assert seen["CONTENT_TYPE"] == "text/plain" and seen["CONTENT_LENGTH"] == "0"
    assert "HTTP_CONTENT_TYPE" not in seen
    assert seen["wsgi.version"] == (1, 0) and seen["wsgi.url_scheme"] == "http"
    assert seen["wsgi.input_terminated"] is True and seen["custom"] == 1
    assert seen["wsgi.errors"] is srv.error_log
    assert seen["SERVER_SOFTWARE"].startswith("coopshell")


def test_absolute_form_target_and_options_star(serve):
    paths = []

    def app(environ, start_response):
        paths.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return []
    srv = serve(app)
    assert request(srv.address, b"GET http://h:1/x?q HTTP/1.1\r\n\r\n").status == 200
    assert request(srv.address, b"OPTIONS * HTTP/1.1\r\n\r\n").status == 200
    assert paths == ["/x", "*"]


def test_environ_classes():
    env = SecureEnviron(key="value")
    assert re.fullmatch(r"<pywsgi.SecureEnviron dict \(keys: 1\) at 0x[0-9a-f]+>", repr(env))
    env.whitelist_keys = {"key"}
    env["secret"] = "s"
    assert repr(env) == "{'key': 'value', 'secret': '<MASKED>'}"
    env.secure_repr = False
    assert repr(env) == "{'key': 'value', 'secret': 's'}"
    w = WSGISecureEnviron(REMOTE_ADDR="::1", HTTP_AUTHORIZATION="secret")
    assert repr(w) == "{'REMOTE_ADDR': '::1', (hidden keys: 1)}"
    assert type(Environ(a=1).copy()) is Environ


def test_environ_class_per_server(serve):
    kinds = []

    class MyServer(WSGIServer):
        environ_class = WSGISecureEnviron

    def app(environ, start_response):
        kinds.append(type(environ))
        start_response("200 OK", [])
        return []
    srv = MyServer(("127.0.0.1", 0), app, log=None)
    srv.start()
    try:
        request(srv.address, b"GET / HTTP/1.1\r\n\r\n")
    finally:
        srv.stop()
    assert kinds == [WSGISecureEnviron]


# -- logs and errors -------------------------------------------------------------------

def test_access_log_is_apache_combined(serve):
    srv = serve(hello)
    request(srv.address, b"GET /p?q HTTP/1.1\r\nReferer: http://r/\r\nUser-Agent: ua/1\r\n\r\n")
    line = srv.log.getvalue()
    assert re.fullmatch(r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                        r'"GET /p\?q HTTP/1\.1" 200 5 "http://r/" "ua/1" \d+\.\d{6}\n', line), line


def test_log_none_and_logging_loggers(serve, caplog):
    srv = serve(hello, log=None)
    assert srv.log is None
    request(srv.address, b"GET / HTTP/1.1\r\n\r\n")
    logger = logging.getLogger("coopshell.test.access")
    srv2 = serve(hello, log=logger, error_log=logger)
    assert isinstance(srv2.log, LoggingLogAdapter)
    with caplog.at_level(logging.INFO, logger="coopshell.test.access"):
        request(srv2.address, b"GET /logged HTTP/1.1\r\n\r\n")
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert '"GET /logged HTTP/1.1" 200 5' in caplog.records[0].getMessage()
    assert srv2.log.name == "coopshell.test.access"          # other attributes: the logger's
    with pytest.raises(TypeError, match="log must be"):
        WSGIServer(("127.0.0.1", 0), hello, log=42)


def test_application_error_is_logged_answered_500_and_the_server_goes_on(serve):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise ZeroDivisionError("boom")
        return hello(environ, start_response)
    srv = serve(app)
    resp = request(srv.address, b"GET /boom HTTP/1.1\r\n\r\n")
    assert resp.status == 500 and resp.header("connection") == "close"
    log = srv.error_log.getvalue()
    assert "GET /boom HTTP/1.1 from 127.0.0.1" in log and "ZeroDivisionError: boom" in log
    assert request(srv.address, b"GET / HTTP/1.1\r\n\r\n").body == b"hello"


def test_error_after_the_headers_closes_the_connection(serve):
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"part"
        raise ValueError("mid-stream")
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        raw = c.read_to_eof()
    assert b"4\r\npart\r\n" in raw and not raw.endswith(b"0\r\n\r\n")
    assert "ValueError: mid-stream" in srv.error_log.getvalue()


@pytest.mark.parametrize("status, headers, message", [
    ("200", [], "status must be a str like '200 OK'"),
    (b"200 OK", [], "status must be a str"),
    ("200 OK", [("X", 1)], "header names and values must be str"),
    ("200 OK", [("X", "a\r\nInjected: 1")], "carriage return or newline in header value"),
    ("200 OK", [("X\r\nInjected", "1")], "carriage return or newline in header name"),
    ("200 OK\r\nInjected: 1", [], "carriage return or newline in status"),
    ("200 OK", [("X", "\u1f4a3")], "header 'X' is not latin-1 text"),
    ("200 OK", (("X", "1"),), "headers must be a list"),
])
def test_bad_start_response_arguments_give_500_and_a_clear_log(serve, status, headers, message):
    def app(environ, start_response):
        start_response(status, headers)
        return [b""]
    srv = serve(app)
    assert request(srv.address, b"GET / HTTP/1.1\r\n\r\n").status == 500
    assert message in srv.error_log.getvalue()


def test_text_body_is_refused_with_a_hint(serve):
    def app(environ, start_response):
        start_response("200 OK", [])
        return ["text"]
    srv = serve(app)
    assert request(srv.address, b"GET / HTTP/1.1\r\n\r\n").status == 500
    assert "must produce bytes, got str" in srv.error_log.getvalue()


def test_constructor_errors():
    with pytest.raises(TypeError, match="application must be a WSGI callable"):
        WSGIServer(("127.0.0.1", 0), "app")
    with pytest.raises(TypeError, match="application=, not handle="):
        WSGIServer(("127.0.0.1", 0), hello, handle=hello)


# -- sockets, TLS, stop ----------------------------------------------------------------

class _CountingSocket:
    """Wraps the connection socket to count sendall calls."""

    def __init__(self, sock, calls):
        self._sock = sock
        self._calls = calls

    def sendall(self, data):
        self._calls.append(len(data))
        return self._sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def test_nodelay_is_set_and_a_list_body_goes_out_in_one_send(serve):
    nodelay = []
    sends = []

    class Handler(WSGIHandler):
        def __init__(self, sock, address, server):
            nodelay.append(sock.getsockopt(cs.IPPROTO_TCP, cs.TCP_NODELAY))
            super().__init__(_CountingSocket(sock, sends), address, server)
    srv = serve(hello, handler_class=Handler)
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        c.response()
        c.response()
    assert nodelay[0] != 0
    assert len(sends) == 2


def test_tls_with_certfile_and_with_ssl_context(serve, tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    schemes = []

    def app(environ, start_response):
        schemes.append(environ["wsgi.url_scheme"])
        return hello(environ, start_response)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    from coopshell import ssl as cssl
    server_ctx = cssl.SSLContext(cssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(server_ctx)
    for kwargs in ({"certfile": str(certfile), "keyfile": str(keyfile)},
                   {"ssl_context": server_ctx}):
        srv = serve(app, **kwargs)

        def client():
            conn = http.client.HTTPSConnection("127.0.0.1", srv.server_port, context=context,
                                               timeout=10)
            out = []
            for _ in range(2):
                conn.request("GET", "/")
                out.append(conn.getresponse().read())
            conn.close()
            return out
        assert in_thread(client) == [b"hello", b"hello"]
    assert schemes == ["https"] * 4


def test_graceful_stop_finishes_in_flight_requests_and_drops_idle_ones(serve):
    entered, release = Event(), Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            entered.set()
            release.wait()
        return hello(environ, start_response)
    srv = serve(app)
    idle = Raw(srv.address)
    idle.send(b"GET / HTTP/1.1\r\n\r\n")
    assert idle.response().body == b"hello"           # now idle, kept alive
    busy = Raw(srv.address)
    busy.send(b"GET /slow HTTP/1.1\r\n\r\n")
    entered.wait(timeout=10)
    stopper = co.spawn(srv.stop, 10)
    assert idle.closed_by_peer()                      # closed while /slow still runs
    assert not release.is_set() and not stopper.dead
    with pytest.raises(ConnectionRefusedError):
        cs.create_connection(srv.address)
    release.set()
    resp = busy.response()
    assert resp.body == b"hello" and resp.header("connection") == "close"
    stopper.get(timeout=10)
    assert srv.closed and not srv._handlers
    idle.close()
    busy.close()


def test_stop_timeout_kills_a_stuck_handler(serve):
    entered = Event()

    def app(environ, start_response):
        entered.set()
        Event().wait()
    srv = serve(app)
    c = Raw(srv.address)
    c.send(b"GET / HTTP/1.1\r\n\r\n")
    entered.wait(timeout=10)
    srv.stop(timeout=0.05)
    assert c.closed_by_peer()
    c.close()


def test_serve_forever_and_stop_from_a_handler(serve):
    box = {}

    def app(environ, start_response):
        co.spawn(box["srv"].stop)
        return hello(environ, start_response)
    srv = box["srv"] = WSGIServer(("127.0.0.1", 0), app, log=None)
    g = co.spawn(srv.serve_forever)
    while srv.address[1] == 0 or not srv.started:
        co.sleep(0)
    assert request(srv.address, b"GET / HTTP/1.1\r\n\r\n").body == b"hello"
    g.get(timeout=10)
    assert srv.closed


def test_log_adapter_write_and_attributes():
    logger = logging.getLogger("coopshell.test.adapter")
    records = []

    class H(logging.Handler):
        def emit(self, record):
            records.append((record.levelno, record.getMessage()))
    h = H()
    logger.addHandler(h)
    logger.setLevel(logging.DEBUG)
    try:
        ad = LoggingLogAdapter(logger, logging.WARNING)
        ad.write("one\n")
        ad.writelines(["two", "three\n"])
        ad.flush()
        ad.propagate = False                   # set on the logger
        assert logger.propagate is False
    finally:
        logger.removeHandler(h)
        logger.propagate = True
    assert records == [(30, "one"), (30, "two"), (30, "three")]


def test_string_io_logs_are_used_as_is():
    log = io.StringIO()
    srv = WSGIServer(("127.0.0.1", 0), hello, log=log, error_log=log)
    assert srv.log is log and srv.error_log is log
