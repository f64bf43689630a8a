"""coopshell.pywsgi as gevent's code uses it: the handler's overridable
methods and attributes (rfile, read_requestline, log_error, ApplicationError,
_print_unexpected_exc), ``Input(rfile, content_length, socket,
chunked_input)``, application errors reported to a listening hub, and the
protocol edges gevent's own suite exercises. Real sockets throughout."""

import http.client
import io

import pytest

import coopshell as co
from coopshell import pywsgi
from coopshell.pywsgi import Input, SecureEnviron, WSGIHandler
from helpers.wsgi import Raw, hello, in_thread, request, serve, start  # noqa: F401 (serve: a fixture)


def _read_a(environ, start_response):
    data = environ["wsgi.input"].read(6)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [data]


# -- the handler's gevent API ----------------------------------------------------------

class PolicyHandler(WSGIHandler):
    """gevent's documented way to intercept a connection before HTTP."""

    def read_requestline(self):
        data = self.rfile.read(7)
        if data[:1] == b"<":
            data += self.rfile.read(15)
            if data == b"<policy-file-request/>":
                self.socket.sendall(b"HELLO")
            else:
                self.log_error("Invalid request: %r", data)
            return None
        return data + self.rfile.readline()


def test_read_requestline_override_sees_the_connection_first(serve):
    srv = serve(hello, handler_class=PolicyHandler)
    with Raw(srv.address) as c:
        c.send(b"<policy-file-request/>\x00")
        assert c.read_to_eof() == b"HELLO"
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert c.response().body == b"hello" and c.response().body == b"hello"
    with Raw(srv.address) as c:
        c.send(b"<policy-file-XXXuest/>")
        assert c.read_to_eof() == b""
    assert "Invalid request: b'<policy-file-XXXuest/>'" in srv.error_log.getvalue()


def test_log_error_formats_safely(serve):
    printed = []

    class H(WSGIHandler):
        def _print_unexpected_exc(self):
            printed.append(True)

    srv = serve(hello, handler_class=H)
    h = H(None, ("127.0.0.1", 1), srv)
    h.log_error("100%")                     # no args: used as is
    h.log_error("%d items", "not a number")  # a bad format: reported, then both shown
    log = srv.error_log.getvalue()
    assert "None: 100%\n" in log and "'%d items' ('not a number',)" in log
    assert printed == [True]
    with pytest.raises(TypeError, match="takes a coopshell._http.Reader"):
        H(None, ("127.0.0.1", 1), srv, rfile=io.BytesIO())


def test_application_error_class_and_no_body_statuses(serve):
    class Mine(AssertionError):
        pass

    class H(WSGIHandler):
        ApplicationError = Mine

    caught = []

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/cl":
            try:
                start_response("304 Not Modified", [("Content-Length", "100")])
            except Mine as err:          # a failed start_response leaves no trace
                caught.append(str(err))
                start_response("200 Raised", [])
                return [b"again"]
        if path == "/write":
            write = start_response("204 No Content", [])
            try:
                write(b"body")
            except Mine as err:
                caught.append(str(err))
                raise
        start_response("304 Not Modified", [])
        return [b"body"]
    srv = serve(app, handler_class=H)
    resp = request(srv.address, b"GET /cl HTTP/1.1\r\n\r\n")
    assert (resp.status, resp.reason, resp.body) == (200, "Raised", b"again")
    assert request(srv.address, b"GET /write HTTP/1.1\r\n\r\n").status == 500
    assert request(srv.address, b"GET /list HTTP/1.1\r\n\r\n").status == 500
    assert caught == ["Invalid Content-Length for 304 response: '100' (must be absent or zero)",
                      "The 204 response must have no body"]
    assert "Mine: The 304 response must have no body" in srv.error_log.getvalue()


def test_application_errors_reach_a_hub_that_listens(serve):
    seen = []
    hub = co.get_hub()

    def app(environ, start_response):
        raise KeyError("boom")
    srv = serve(app)
    hub.handle_error = lambda context, t, v, tb: seen.append((context, t, v))
    try:
        assert request(srv.address, b"GET /x HTTP/1.1\r\nCookie: secret\r\n\r\n").status == 500
    finally:
        del hub.handle_error
    [(context, t, v)] = seen
    assert t is KeyError and isinstance(context, SecureEnviron)
    assert context["PATH_INFO"] == "/x" and "secret" not in repr(context)
    assert "KeyError: 'boom'" in srv.error_log.getvalue()
    # the stock hub is not told (it would only print the error a second time)
    assert request(srv.address, b"GET / HTTP/1.1\r\n\r\n").status == 500


def test_no_start_response_is_a_500_with_a_log_line(serve):
    srv = serve(lambda environ, start_response: [])
    resp = request(srv.address, b"GET / HTTP/1.1\r\n\r\n")
    assert resp.status == 500 and resp.body == b"Internal Server Error"
    assert "returned without calling start_response()" in srv.error_log.getvalue()


def test_non_latin1_and_non_str_headers_are_unicode_errors(serve):
    errors = []

    def app(environ, start_response):
        value = b"\xe1" if environ["PATH_INFO"] == "/bytes" else "\u1f4a3"
        try:
            start_response("200 OK", [("Custom", value)])
        except UnicodeError as err:
            errors.append(err)
            raise
        return []
    srv = serve(app)
    for path in (b"/bytes", b"/text"):
        assert request(srv.address, b"GET %s HTTP/1.1\r\n\r\n" % path).status == 500
    assert isinstance(errors[0], TypeError) and "must be str" in str(errors[0])
    assert "header 'Custom' is not latin-1 text" in str(errors[1])


def test_input_takes_gevents_arguments():
    assert Input(io.BytesIO(b"12345"), content_length=3).read() == b"123"
    chunked = Input(io.BytesIO(b"1\r\na\r\n2;x=y\r\nbc\r\n0\r\n\r\nrest"), chunked_input=True)
    assert chunked.read(10) == b"abc"
    short = Input(io.BytesIO(b"1"), content_length=2)
    with pytest.raises(OSError, match="after 1 bytes of 2-byte request body"):
        short.readline()
    with pytest.raises(TypeError, match="content_length must be an int"):
        Input(io.BytesIO(), content_length="3")
    assert pywsgi.MAX_REQUEST_LINE == WSGIHandler.MAX_REQUEST_LINE == 8192


# -- protocol edges ----------------------------------------------------------------------

def test_app_supplied_date_and_connection_are_not_doubled(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Date", "Thu, 01 Jan 1970 00:00:00 GMT"),
                                  ("Connection", "close")])
        return [b"x"]
    srv = serve(app)

    def client():
        conn = http.client.HTTPConnection(*srv.address, timeout=10)
        conn.request("GET", "/")
        resp = conn.getresponse()
        out = resp.status, resp.read(), resp.msg.get_all("Date"), resp.msg.get_all("Connection")
        conn.close()
        return out
    assert in_thread(client) == (200, b"x", ["Thu, 01 Jan 1970 00:00:00 GMT"], ["close"])
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        assert c.response().body == b"x" and c.closed_by_peer()


def test_app_keep_alive_header_is_replaced_when_the_server_closes(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Connection", "keep-alive")])
        return [b"x"]
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.0\r\n\r\n")      # HTTP/1.0 without keep-alive: the server closes
        resp = c.response()
        assert [v for n, v in resp.headers if n == "connection"] == ["close"]
        assert c.closed_by_peer()


def test_folded_headers_are_joined_and_cookie2_like_cookie(serve):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return []
    srv = serve(app)
    resp = request(srv.address, b"POST / HTTP/1.0\r\nContent-Type: multipart/related;\r\n"
                                b'  type="text/xml"\r\nCookie2: a=1\r\nCookie2: b=2\r\n'
                                b"Content-Length: 0\r\n\r\n")
    assert resp.status == 200
    assert seen["CONTENT_TYPE"] == 'multipart/related; type="text/xml"'
    assert seen["HTTP_COOKIE2"] == "a=1; b=2"


def test_chunked_wins_over_content_length_then_the_connection_closes(serve):
    seen = {}

    def app(environ, start_response):
        seen["cl"] = environ.get("CONTENT_LENGTH")
        return _read_a(environ, start_response)
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"POST / HTTP/1.1\r\nContent-Length: 1000\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"2\r\noh\r\n4\r\n hai\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        resp = c.response()
        assert resp.body == b"oh hai" and resp.header("connection") == "close"
        assert c.closed_by_peer()                  # the smuggled-looking GET is not served
    assert seen == {"cl": None}


def test_a_bad_request_line_is_refused_before_the_headers_end(serve):
    srv = serve(hello)
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP %\r\n")               # no blank line will ever come
        resp = c.response()
        assert resp.status == 400 and b"malformed request line 'GET / HTTP %'" in resp.body


@pytest.mark.parametrize("body, message", [
    (b'{"hi": "ho"}', b"invalid chunk-size line"),                  # no line end, not hex
    (b"2;token=" + b"_oh_hi" * 4000 + b"\r\noh\r\n0\r\n\r\n", b"longer than 4096 bytes"),
])
def test_bad_chunk_size_lines_are_refused_at_once(serve, body, message):
    srv = serve(_read_a)
    with Raw(srv.address) as c:
        c.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        resp = c.response()
        assert resp.status == 400 and message in resp.body and c.closed_by_peer()


@pytest.mark.parametrize("tail", [
    b"0\r\nHeader: value\r\nGET /x?a=:1 HTTP/1.1\r\nHost: a\r\n\r\n",   # not a trailer line
    b"0\r\ntrailer: " + b"t" * 9000,                                   # one line too long
    b"0GET / HTTP/1.1\r\n\r\n",                                          # no last-chunk
])
def test_bad_trailers_close_the_connection(serve, tail):
    calls = []

    def app(environ, start_response):
        calls.append(1)
        return _read_a(environ, start_response)
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\noh\r\n4\r\n hai\r\n"
               + tail)
        assert c.response().body == b"oh hai"
        assert c.closed_by_peer()
    assert calls == [1]


def test_continue_and_an_unasked_body_already_sent(serve):
    def app(environ, start_response):
        n = int(environ["CONTENT_LENGTH"])
        if n > 1024:
            start_response("417 Expectation Failed", [("Content-Length", "7")])
            return [b"failure"]
        text = environ["wsgi.input"].read(n)
        start_response("200 OK", [])
        return [text]
    srv = serve(app)
    with Raw(srv.address) as c:
        inner = b"PUT / HTTP/1.1\r\nContent-Length: 3\r\n\r\nbad"
        body = inner + b"a" * (1100 - len(inner))
        # the client did not wait for 100: its body is dropped, not parsed as a request
        c.send(b"PUT / HTTP/1.1\r\nContent-Length: 1100\r\nExpect: 100-continue\r\n\r\n" + body)
        resp = c.response()
        assert resp.status == 417 and resp.header("connection") is None
        # a body sent with its head still gets 100 Continue at the first read
        c.send(b"PUT / HTTP/1.1\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\ntesting")
        assert c.read_until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert c.response().body == b"testing"


def test_empty_streamed_body(serve):
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b""
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        resp = c.response()
        assert resp.header("transfer-encoding") == "chunked" and resp.body == b""
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        resp = c.response()
        assert resp.header("content-length") == "0" and resp.header("connection") == "keep-alive"


def test_websocket_upgrade_gets_the_raw_connection(serve):
    seen = {}

    def app(environ, start_response):
        seen["terminated"] = environ["wsgi.input_terminated"]
        write = start_response("101 Switching Protocols", [("Upgrade", "websocket"),
                                                           ("Connection", "Upgrade")])
        write(b"")
        line = environ["wsgi.input"].readline()    # the new protocol, both ways
        write(b"echo:" + line)
        return []
    srv = serve(app)
    with Raw(srv.address) as c:
        c.send(b"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        head = c.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ") and b"Connection: Upgrade\r\n" in head
        assert b"Content-Length" not in head and b"chunked" not in head
        c.send(b"ping\n")
        assert c.read_to_eof() == b"echo:ping\n"
    assert seen == {"terminated": False}
