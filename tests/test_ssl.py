"""coopshell.ssl: real TLS handshakes on loopback with a trustme CA; both the
client and the server side are cooperative sockets in one thread."""

import io
import ssl as std_ssl
import time
import warnings

import pytest
import trustme

import coopshell as co
from coopshell import socket as cs
from coopshell import ssl as cssl


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def cert(ca):
    return ca.issue_cert("localhost", "127.0.0.1")


@pytest.fixture
def server_ctx(cert):
    ctx = cssl.SSLContext(cssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    return ctx


@pytest.fixture
def client_ctx(ca):
    ctx = cssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.fixture
def listener():
    s = cs.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s
    s.close()


def _serve(listener, server_ctx, handler, n=1):
    def loop():
        for _ in range(n):
            conn, _ = listener.accept()
            co.spawn(_run, conn)

    def _run(conn):
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            handler(tls)
    return co.spawn(loop)


def _echo_upper(tls):
    while True:
        data = tls.recv(65536)
        if not data:
            return
        tls.sendall(data.upper())


def test_handshake_read_write_both_sides_cooperative(listener, server_ctx, client_ctx):
    _serve(listener, server_ctx, _echo_upper)
    raw = cs.create_connection(listener.getsockname())
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as c:
        assert type(c) is cssl.SSLSocket
        assert isinstance(c, std_ssl.SSLSocket) and isinstance(c, cs.socket)
        assert c.version().startswith("TLS")
        assert c.getpeercert()["subjectAltName"]
        c.sendall(b"hello")
        assert c.recv(100) == b"HELLO"
        c.write(b"abc")
        assert c.read(3) == b"ABC"
        c.send(b"xyz")
        buf = bytearray(10)
        n = c.recv_into(buf)
        assert buf[:n] == b"XYZ"
        big = b"q" * (2 * 1024 * 1024)
        c.sendall(big)
        got = 0
        while got < len(big):
            got += len(c.recv(1 << 16))
        assert got == len(big)


def test_makefile_over_tls(listener, server_ctx, client_ctx):
    def handler(tls):
        f = tls.makefile("rwb")
        line = f.readline()
        f.write(line[::-1].strip() + b"\n")
        f.flush()
        f.close()
    _serve(listener, server_ctx, handler)
    raw = cs.create_connection(listener.getsockname())
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as c:
        f = c.makefile("rwb")
        f.write(b"abcdef\n")
        f.flush()
        assert f.readline() == b"fedcba\n"
        f.close()


def test_unwrap_returns_the_plain_socket(listener, server_ctx, client_ctx):
    def handler(tls):
        assert tls.recv(10) == b"plain next"
        plain = tls.unwrap()
        plain.sendall(b"clear")
    _serve(listener, server_ctx, handler)
    raw = cs.create_connection(listener.getsockname())
    c = client_ctx.wrap_socket(raw, server_hostname="localhost")
    c.sendall(b"plain next")
    plain = c.unwrap()
    with plain:
        assert plain.recv(10) == b"clear"


def test_handshake_timeout_when_the_server_never_answers(listener, client_ctx):
    raw = cs.create_connection(listener.getsockname())
    raw.settimeout(0.1)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="handshake operation timed out"):
        client_ctx.wrap_socket(raw, server_hostname="localhost")
    assert 0.08 < time.monotonic() - t0 < 1.0


def test_read_timeout(listener, server_ctx, client_ctx):
    _serve(listener, server_ctx, lambda tls: co.sleep(1))
    raw = cs.create_connection(listener.getsockname())
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as c:
        c.settimeout(0.05)
        with pytest.raises(TimeoutError, match="read operation timed out"):
            c.recv(10)


def test_bad_certificate_is_rejected(listener, cert):
    other = trustme.CA()
    ctx = cssl.create_default_context()
    other.configure_trust(ctx)
    server_ctx = cssl.SSLContext(cssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(server_ctx)
    stream = io.StringIO()
    co.get_hub().exception_stream = stream
    try:
        _serve(listener, server_ctx, _echo_upper)
        raw = cs.create_connection(listener.getsockname())
        with pytest.raises(cssl.SSLCertVerificationError):
            ctx.wrap_socket(raw, server_hostname="localhost")
        co.sleep(0.05)
    finally:
        co.get_hub().exception_stream = None


def test_concurrent_tls_connections(listener, server_ctx, client_ctx):
    n = 20
    _serve(listener, server_ctx, _echo_upper, n)

    def client(i):
        raw = cs.create_connection(listener.getsockname())
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as c:
            c.sendall(b"msg%d" % i)
            return c.recv(100)
    gs = [co.spawn(client, i) for i in range(n)]
    co.joinall(gs, timeout=10)
    assert [g.value for g in gs] == [b"MSG%d" % i for i in range(n)]


def test_nonblocking_tls_socket_raises_want_read(listener, server_ctx, client_ctx):
    _serve(listener, server_ctx, lambda tls: co.sleep(0.5))
    raw = cs.create_connection(listener.getsockname())
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as c:
        c.setblocking(False)
        with pytest.raises(cssl.SSLWantReadError):
            c.recv(10)


def test_factories_return_our_context(ca, cert, listener, server_ctx):
    assert type(cssl.create_default_context()) is cssl.SSLContext
    assert type(cssl._create_unverified_context()) is cssl.SSLContext
    assert cssl.create_default_context().verify_mode == std_ssl.create_default_context().verify_mode
    assert type(cssl.create_default_context(cssl.Purpose.CLIENT_AUTH)) is cssl.SSLContext
    with pytest.raises(TypeError):
        cssl.create_default_context("nope")
    _serve(listener, server_ctx, lambda tls: None)
    pem = cssl.get_server_certificate(listener.getsockname())
    assert pem.startswith("-----BEGIN CERTIFICATE-----")


def test_wrap_socket_exists_exactly_where_the_stdlib_has_it():
    # 3.12 removed ssl.wrap_socket: we must not offer (or patch in) a name it lacks.
    assert hasattr(cssl, "wrap_socket") == hasattr(std_ssl, "wrap_socket")
    assert ("wrap_socket" in cssl.__all__) == hasattr(std_ssl, "wrap_socket")
    assert ("wrap_socket" in cssl.__implements__) == hasattr(std_ssl, "wrap_socket")


@pytest.mark.skipif(not hasattr(std_ssl, "wrap_socket"),
                    reason="this Python's ssl has no wrap_socket (removed in 3.12)")
def test_deprecated_wrap_socket(listener, cert, ca):
    with cert.private_key_and_cert_chain_pem.tempfile() as certfile:
        def handler(conn):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                tls = cssl.wrap_socket(conn, certfile=certfile, server_side=True)
            with tls:
                tls.sendall(tls.recv(10))

        def loop():
            conn, _ = listener.accept()
            handler(conn)
        g = co.spawn(loop)
        raw = cs.create_connection(listener.getsockname())
        with pytest.warns(DeprecationWarning):
            c = cssl.wrap_socket(raw, cert_reqs=cssl.CERT_NONE)
        with c:
            c.sendall(b"old")
            assert c.recv(10) == b"old"
        g.get(timeout=5)


def test_send_timeout_bounds_this_call(listener, server_ctx, client_ctx):
    # The server never reads: the client's TLS writes fill the buffers.
    stop = co.event.Event()
    _serve(listener, server_ctx, lambda tls: stop.wait(10))
    raw = cs.create_connection(listener.getsockname())
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as c:
        assert c.send(b"hi", timeout=1) == 2
        with pytest.raises(TimeoutError, match="The write operation timed out"):
            for _ in range(10_000):
                c.send(b"x" * 16384, timeout=0.05)
        assert c.gettimeout() is None          # the socket's own timeout is untouched
        with pytest.raises(TypeError, match="timeout must be None or a number"):
            c.send(b"x", timeout="soon")
    stop.set()


def test_context_setters_survive_the_stdlib_global_pointing_at_us(monkeypatch):
    # what monkey patching does: the stdlib's setters then name our class
    monkeypatch.setattr(std_ssl, "SSLContext", cssl.SSLContext)
    ctx = cssl.create_default_context()
    ctx.minimum_version = cssl.TLSVersion.TLSv1_2
    ctx.maximum_version = cssl.TLSVersion.TLSv1_3
    ctx.options |= cssl.OP_NO_COMPRESSION
    ctx.verify_flags = cssl.VERIFY_X509_STRICT
    ctx.verify_mode = cssl.CERT_OPTIONAL
    assert ctx.minimum_version is cssl.TLSVersion.TLSv1_2
    assert ctx.maximum_version is cssl.TLSVersion.TLSv1_3
    assert ctx.options & cssl.OP_NO_COMPRESSION and isinstance(ctx.options, cssl.Options)
    assert ctx.verify_flags == cssl.VERIFY_X509_STRICT and ctx.verify_mode == cssl.CERT_OPTIONAL
    seen = []
    ctx._msg_callback = lambda *args: seen.append(args)
    assert ctx._msg_callback is not None
    ctx._msg_callback = None
    assert ctx._msg_callback is None


def test_msg_callback_gets_enums(listener, server_ctx, client_ctx):
    seen = []
    client_ctx._msg_callback = lambda conn, direction, version, ctype, mtype, data: seen.append(
        (direction, version, ctype))
    _serve(listener, server_ctx, _echo_upper)
    raw = cs.create_connection(listener.getsockname())
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as c:
        c.sendall(b"x")
        assert c.recv(10) == b"X"
    assert seen and any(isinstance(v, cssl.TLSVersion) for _, v, _ in seen)


def test_wrap_socket_with_stdlib_global_patched(monkeypatch, listener, server_ctx, client_ctx):
    monkeypatch.setattr(std_ssl, "SSLSocket", cssl.SSLSocket)
    _serve(listener, server_ctx, _echo_upper)
    raw = cs.create_connection(listener.getsockname())
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as c:
        c.sendall(b"patched")
        assert c.recv(10) == b"PATCHED"
    with pytest.raises(TypeError):
        cssl.SSLSocket()
