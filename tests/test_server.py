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
