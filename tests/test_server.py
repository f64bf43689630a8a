"""coopshell.server: StreamServer and DatagramServer on loopback, pools,
stop semantics, TLS, and no file descriptor leaks (/proc/self/fd)."""

import gc
import os
import time

import pytest
import trustme

import coopshell as co
from coopshell import socket as cs
from coopshell import ssl as cssl
from coopshell.server import DatagramServer, StreamServer


def _fds():
    """What each open fd points at (``socket:[inode]``...): a leak shows as a
    new entry even if an unrelated fd closed meanwhile."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass   # the fd listing itself
    return found


def _echo(sock, address):
    while True:
        data = sock.recv(1024)
        if not data:
            return
        sock.sendall(data)


def _tls_echo(address, ca):
    """One TLS round trip to an echo server whose certificate ``ca`` issued."""
    client_ctx = cssl.create_default_context()
    ca.configure_trust(client_ctx)
    with cs.create_connection(address) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as c:
            c.sendall(b"tls")
            assert c.recv(10) == b"tls"


def _roundtrip(addr, payload=b"ping"):
    with cs.create_connection(addr) as c:
        c.sendall(payload)
        return c.recv(1024)


def test_stream_server_from_address_and_properties():
    srv = StreamServer(("127.0.0.1", 0), _echo)
    assert not srv.started and not srv.closed
    srv.start()
    try:
        assert srv.started and srv.server_host == "127.0.0.1" and srv.server_port > 0
        assert srv.address == ("127.0.0.1", srv.server_port)
        gs = [co.spawn(_roundtrip, srv.address, b"%d" % i) for i in range(20)]
        co.joinall(gs, timeout=5)
        assert [g.value for g in gs] == [b"%d" % i for i in range(20)]
        with pytest.raises(RuntimeError):
            srv.start()
    finally:
        srv.stop()
    assert srv.closed and not srv.started
    with pytest.raises(ConnectionRefusedError):
        _roundtrip(srv.address)


def test_stream_server_from_a_listening_socket_and_string_address():
    lst = cs.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)
    with StreamServer(lst, _echo) as srv:
        srv.start()
        assert _roundtrip(lst.getsockname()) == b"ping"
    assert lst.fileno() == -1           # the server owns and closes its listener
    srv = StreamServer("127.0.0.1:0", _echo)
    srv.start()
    assert _roundtrip(srv.address) == b"ping"
    srv.stop()


def test_subclass_handle_and_bad_arguments():
    class Upper(StreamServer):
        def handle(self, sock, address):
            sock.sendall(sock.recv(100).upper())
    with Upper(("127.0.0.1", 0)) as srv:
        srv.start()
        assert _roundtrip(srv.address, b"abc") == b"ABC"
    with pytest.raises(TypeError):
        StreamServer(("127.0.0.1", 0), handle=42)
    with pytest.raises(TypeError):
        StreamServer(("127.0.0.1", 0), _echo, spawn="bogus")
    with pytest.raises(ValueError):
        StreamServer(("127.0.0.1", 0), _echo, spawn=0)
    with pytest.raises(ValueError):
        StreamServer("no-port", _echo)


def test_pool_limits_concurrent_handlers():
    active, peak = [0], [0]

    def handler(sock, address):
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        co.sleep(0.03)
        active[0] -= 1
        sock.sendall(b"done")

    with StreamServer(("127.0.0.1", 0), handler, spawn=3) as srv:
        srv.start()
        gs = [co.spawn(_roundtrip, srv.address) for _ in range(12)]
        co.joinall(gs, timeout=5)
        assert [g.value for g in gs] == [b"done"] * 12
        assert peak[0] == 3


def test_spawn_none_handles_in_the_accept_loop():
    order = []

    def handler(sock, address):
        order.append(sock.recv(10))
        sock.sendall(b"ok")
    with StreamServer(("127.0.0.1", 0), handler, spawn=None) as srv:
        srv.start()
        for i in range(3):
            assert _roundtrip(srv.address, b"%d" % i) == b"ok"
    assert order == [b"0", b"1", b"2"]


def test_serve_forever_until_stop_from_another_greenlet():
    srv = StreamServer(("127.0.0.1", 0), _echo)
    g = co.spawn(srv.serve_forever)
    co.sleep(0.01)
    assert srv.started
    assert _roundtrip(srv.address) == b"ping"
    co.spawn_later(0.02, srv.stop)
    g.get(timeout=5)
    assert srv.closed


def test_stop_waits_for_handlers_then_kills_them():
    finished, killed = [], []

    def handler(sock, address):
        data = sock.recv(10)
        try:
            co.sleep(0.05 if data == b"fast" else 30)
            finished.append(data)
        except co.GreenletExit:
            killed.append(data)
            raise
    srv = StreamServer(("127.0.0.1", 0), handler)
    srv.start()
    clients = []
    for payload in (b"fast", b"slow"):
        c = cs.create_connection(srv.address)
        c.sendall(payload)
        clients.append(c)
    co.sleep(0.01)
    t0 = time.monotonic()
    srv.stop(timeout=0.2)
    elapsed = time.monotonic() - t0
    assert finished == [b"fast"] and killed == [b"slow"]
    assert 0.15 < elapsed < 2.0
    for c in clients:
        assert c.recv(10) == b""       # the server closed both connections
        c.close()


def test_no_fd_leaks():
    co.sleep(0.01)
    gc.collect()      # sockets of earlier tests that are only garbage now
    before = _fds()
    for _ in range(3):
        srv = StreamServer(("127.0.0.1", 0), _echo)
        srv.start()
        gs = [co.spawn(_roundtrip, srv.address) for _ in range(30)]
        co.joinall(gs, timeout=5)
        srv.stop()
        udp = DatagramServer(("127.0.0.1", 0), lambda data, addr: None)
        udp.start()
        udp.stop()
    co.sleep(0.01)
    gc.collect()
    leaked = _fds() - before
    assert not leaked


def test_handler_errors_are_reported_and_the_server_goes_on(quiet_hub):
    def handler(sock, address):
        if sock.recv(10) == b"boom":
            raise ValueError("handler failed")
        sock.sendall(b"fine")
    with StreamServer(("127.0.0.1", 0), handler) as srv:
        srv.start()
        assert _roundtrip(srv.address, b"boom") == b""
        assert _roundtrip(srv.address, b"ok") == b"fine"
    assert "handler failed" in quiet_hub.getvalue()


def test_datagram_server_echo():
    class Echo(DatagramServer):
        def handle(self, data, address):
            self.sendto(data.upper(), address)
    with Echo(("127.0.0.1", 0)) as srv:
        srv.start()
        c = cs.socket(cs.AF_INET, cs.SOCK_DGRAM)
        with c:
            c.settimeout(2)
            for word in (b"one", b"two"):
                c.sendto(word, srv.address)
                data, addr = c.recvfrom(100)
                assert data == word.upper() and addr == srv.address


def test_tls_stream_server():
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    server_ctx = cssl.SSLContext(cssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(server_ctx)
    client_ctx = cssl.create_default_context()
    ca.configure_trust(client_ctx)
    with StreamServer(("127.0.0.1", 0), _echo, ssl_context=server_ctx) as srv:
        assert srv.ssl_enabled
        srv.start()

        def client(i):
            raw = cs.create_connection(srv.address)
            with client_ctx.wrap_socket(raw, server_hostname="localhost") as c:
                c.sendall(b"tls%d" % i)
                return c.recv(100)
        gs = [co.spawn(client, i) for i in range(5)]
        co.joinall(gs, timeout=10)
        assert [g.value for g in gs] == [b"tls%d" % i for i in range(5)]
    with cert.private_key_and_cert_chain_pem.tempfile() as certfile:
        srv = StreamServer(("127.0.0.1", 0), _echo, certfile=certfile)
        assert isinstance(srv.ssl_context, cssl.SSLContext)
    with pytest.raises(TypeError):
        StreamServer(("127.0.0.1", 0), _echo, bogus=1)


# -- gevent's accept-loop API (issue 11, section 4) ---------------------------------------

def _served(srv, n=1):
    """Connect ``n`` times; True if every connection got an echo."""
    return all(_roundtrip(srv.address, b"%d" % i) == b"%d" % i for i in range(n))


def test_stop_and_start_accepting():
    srv = StreamServer(("127.0.0.1", 0), _echo)
    srv.start()
    try:
        srv.stop_accepting()
        c = cs.create_connection(srv.address)      # queued in the backlog, not accepted
        c.sendall(b"wait")
        c.settimeout(0.2)
        with pytest.raises(TimeoutError):
            c.recv(10)
        srv.start_accepting()
        c.settimeout(10)
        assert c.recv(10) == b"wait"
        c.close()
        srv.start_accepting()                      # a no-op while accepting
        assert _served(srv, 3)
    finally:
        srv.stop()


def test_set_handle_spawn_and_listener():
    srv = StreamServer(("127.0.0.1", 0), _echo)
    lst = StreamServer.get_listener(("127.0.0.1", 0), 8)
    srv.set_listener(lst)
    assert srv.address == lst.getsockname()
    from coopshell.pool import Pool
    pool = Pool(2)
    srv.set_spawn(pool)
    assert srv.pool is pool
    srv.start()
    try:
        assert _served(srv)
        srv.set_handle(lambda sock, addr: sock.sendall(b"new"))
        assert _roundtrip(srv.address) == b"new"
        srv.set_spawn(None)                         # handled inside the accept loop
        assert srv.pool is None and _roundtrip(srv.address) == b"new"
        with pytest.raises(TypeError, match="handle must be callable"):
            srv.set_handle(42)
    finally:
        srv.stop()
    with pytest.raises(TypeError, match="plain listening socket"):
        StreamServer(cssl.SSLContext(cssl.PROTOCOL_TLS_SERVER).wrap_socket(
            cs.socket(), server_side=True, do_handshake_on_connect=False), _echo)


def test_max_accept_full_and_do_close():
    closed = []
    gate = co.event.Event()

    class Gated(StreamServer):
        max_accept = 1

        def full(self):
            return not gate.is_set()

        def do_close(self, sock, *args):
            closed.append(sock.fileno() != -1)
            super().do_close(sock, *args)
    srv = Gated(("127.0.0.1", 0), _echo)
    assert srv.max_accept == 1
    srv.start()
    try:
        c = cs.create_connection(srv.address)
        c.sendall(b"x")
        c.settimeout(0.2)
        with pytest.raises(TimeoutError):
            c.recv(10)                               # full(): not accepted yet
        gate.set()
        c.settimeout(10)
        assert c.recv(10) == b"x"
        c.close()
        assert _served(srv, 3)
    finally:
        srv.stop()
    assert closed and all(closed)                    # do_close got the still-open socket


def test_fatal_and_transient_accept_errors(capsys, quiet_hub):
    import errno

    class Failing(StreamServer):
        errors = [OSError(errno.EMFILE, "too many open files")]
        min_delay = 0.001

        def do_read(self):
            if self.errors:
                raise self.errors.pop(0)
            return super().do_read()
    srv = Failing(("127.0.0.1", 0), _echo)
    srv.start()
    try:
        assert _served(srv)                          # a transient error: back off, go on
        assert "too many open files" in quiet_hub.getvalue()
        srv.errors.append(OSError(errno.EBADF, "bad fd"))
        c = cs.create_connection(srv.address)        # wakes the loop, which then fails
        while not srv.closed:
            co.sleep(0.01)
        c.close()
    finally:
        srv.stop()
    assert srv.fatal_errors == (errno.EBADF, errno.EINVAL, errno.ENOTSOCK)
    assert "failed with" in capsys.readouterr().err


def test_wrap_socket_and_handle_is_the_tls_entry(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ctx = cssl.SSLContext(cssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    calls = []

    class Recording(StreamServer):
        def wrap_socket_and_handle(self, client_socket, address):
            calls.append(type(client_socket).__name__)
            return super().wrap_socket_and_handle(client_socket, address)
    srv = Recording(("127.0.0.1", 0), _echo, ssl_context=ctx)
    srv.start()
    try:
        _tls_echo(srv.address, ca)
    finally:
        srv.stop()
    assert calls == ["socket"]


def test_wrap_socket_is_replaceable_and_its_failure_propagates(tmp_path):
    ca = trustme.CA()
    ctx = cssl.SSLContext(cssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)

    class BadWrap(Exception):
        pass

    def bad_wrap(client_socket, **kwargs):
        raise BadWrap(client_socket)
    srv = StreamServer(("127.0.0.1", 0), _echo, ssl_context=ctx)
    srv.wrap_socket = bad_wrap
    with pytest.raises(BadWrap):
        srv._handle(None, None)
    with pytest.raises(TypeError, match="takes no TLS arguments here"):
        StreamServer.wrap_socket(srv, None, certfile="x")
    # a real client gets its echo through the replaced wrap_socket
    wrapped = []

    def recording_wrap(client_socket):
        wrapped.append(client_socket.getpeername()[0])
        return ctx.wrap_socket(client_socket, server_side=True)
    srv.wrap_socket = recording_wrap
    srv.start()
    try:
        _tls_echo(srv.address, ca)
    finally:
        srv.stop()
    assert wrapped == ["127.0.0.1"]


def test_repr_names_the_handle():
    class Sub(StreamServer):
        def handle(self, sock, address):
            pass
    srv = Sub(("127.0.0.1", 0))
    assert "handle=<method Sub.handle>" in repr(srv)
    srv.set_handle(srv.handle)
    assert "handle=<bound method Sub.handle of self>" in repr(srv)

    def handle(sock, address):
        pass
    srv.set_handle(handle)
    assert "handle=<function test_repr_names_the_handle.<locals>.handle" in repr(srv)


def test_get_listener_static_forms():
    s = StreamServer.get_listener(("127.0.0.1", 0), 5, cs.AF_INET)
    try:
        assert s.family == cs.AF_INET and s.getsockname()[1] > 0
        c = cs.create_connection(s.getsockname())
        conn, _ = s.accept()
        conn.close()
        c.close()
    finally:
        s.close()
    u = DatagramServer.get_listener(("127.0.0.1", 0))
    try:
        assert u.type == cs.SOCK_DGRAM and u.getsockname()[1] > 0
    finally:
        u.close()
    if cs.has_ipv6:
        s6 = StreamServer.get_listener(("::1", 0))
        assert s6.family == cs.AF_INET6
        s6.close()
