"""coopshell.socket: real loopback TCP/UDP/Unix sockets; each stdlib-compatible
behaviour checked against the stdlib on the same input."""

import array
import builtins
import errno
import http.client
import os
import resource
import socket as std
import struct
import time

import pytest

import coopshell as co
from coopshell import socket as cs
from coopshell._core.exceptions import ConcurrentObjectUseError


@pytest.fixture
def listener():
    s = cs.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    yield s
    s.close()


def _pair(listener):
    c = cs.create_connection(listener.getsockname())
    s, _ = listener.accept()
    return c, s


def _closed_port():
    s = std.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _outcome(func, *args):
    try:
        return ("ok", func(*args))
    except BaseException as exc:  # noqa: BLE001 - compared below
        return ("raise", type(exc), str(exc))


# -- the class ----------------------------------------------------------------------

def test_socket_is_a_stdlib_socket_subclass_and_accept_returns_ours(listener):
    c, s = _pair(listener)
    with c, s:
        assert isinstance(c, std.socket) and isinstance(s, cs.socket)
        assert type(s) is cs.socket
        assert c.family == std.AF_INET and isinstance(c.family, std.AddressFamily)
        assert c.type == std.SOCK_STREAM and isinstance(c.type, std.SocketKind)
        assert "coopshell.socket.socket" in repr(c)
        assert not os.get_blocking(c.fileno())   # the OS-level fd never blocks
        assert c.gettimeout() is None and c.getblocking() and c.timeout is None


@pytest.mark.parametrize("value", [None, 0, 0.0, 1, 2.5, True, -1, -0.5, "x", float("nan"),
                                   1e300, float("inf"), 2 ** 70, 5e9, b"1", [1]])
def test_settimeout_matches_the_stdlib(value):
    ref, ours = std.socket(), cs.socket()
    with ref, ours:
        assert _outcome(ours.settimeout, value) == _outcome(ref.settimeout, value)
        assert ours.gettimeout() == ref.gettimeout()
        assert ours.timeout == ref.timeout
        assert ours.getblocking() == ref.getblocking()
        assert not os.get_blocking(ours.fileno())


@pytest.mark.parametrize("value", [True, False, 0, 1, -2, "x", None, 1.5])
def test_setblocking_matches_the_stdlib(value):
    ref, ours = std.socket(), cs.socket()
    with ref, ours:
        assert _outcome(ours.setblocking, value) == _outcome(ref.setblocking, value)
        assert (ours.gettimeout(), ours.getblocking()) == (ref.gettimeout(), ref.getblocking())
        assert not os.get_blocking(ours.fileno())


def test_default_timeout_is_honoured():
    std.setdefaulttimeout(1.5)
    try:
        s = cs.socket()
    finally:
        std.setdefaulttimeout(None)
    with s:
        assert s.gettimeout() == 1.5
        assert not os.get_blocking(s.fileno())


def test_calls_on_a_closed_socket_fail_like_the_stdlib():
    ref, ours = std.socket(), cs.socket()
    ref.close()
    ours.close()
    for name, args in [("recv", (1,)), ("send", (b"x",)), ("sendall", (b"x",)),
                       ("recv_into", (bytearray(1),)), ("accept", ()),
                       ("connect", (("127.0.0.1", 1),)), ("connect_ex", (("127.0.0.1", 1),)),
                       ("fileno", ()), ("sendto", (b"x", ("127.0.0.1", 1))),
                       ("recvfrom", (1,)), ("shutdown", (std.SHUT_RDWR,))]:
        assert _outcome(getattr(ours, name), *args) == _outcome(getattr(ref, name), *args), name


def test_bad_arguments_fail_like_the_stdlib(listener):
    c, s = _pair(listener)
    ref_a, ref_b = std.socketpair()
    with c, s, ref_a, ref_b:
        cases = [("recv", ("x",)), ("recv", ()), ("recv", (-1,)), ("send", ("text",)),
                 ("sendall", ("text",)), ("sendall", (b"x", "flags")), ("recv_into", (b"ro",)),
                 ("recv_into", (bytearray(2), 5)), ("send", ()), ("sendto", (b"x",))]
        for name, args in cases:
            assert _outcome(getattr(c, name), *args) == _outcome(getattr(ref_a, name), *args), name
        assert _outcome(c.connect, "nope") == _outcome(std.socket().connect, "nope")
        with pytest.raises(TypeError):
            c.recv(bufsize=1)


# -- data transfer ----------------------------------------------------------------------

def test_recv_waits_cooperatively(listener):
    c, s = _pair(listener)
    with c, s:
        g = co.spawn(s.recv, 100)
        co.sleep(0.01)
        assert not g.ready()
        c.sendall(b"hello")
        assert g.get(timeout=2) == b"hello"


def test_all_read_and_write_methods(listener):
    c, s = _pair(listener)
    with c, s:
        c.sendall(bytearray(b"abc"))
        c.sendall(memoryview(b"defgh")[1:3])
        c.sendall(array.array("i", [1, 2]))
        want = b"abc" + b"ef" + array.array("i", [1, 2]).tobytes()
        got = b""
        while len(got) < len(want):
            got += s.recv(100)
        assert got == want
        c.send(b"xyz")
        buf = bytearray(10)
        assert s.recv_into(buf, 2) == 2 and buf[:2] == b"xy"
        assert s.recv_into(memoryview(buf)[4:]) == 1 and buf[4:5] == b"z"
        c.sendmsg([b"12", b"34"])
        assert s.recvmsg(10)[0] == b"1234"
        c.send(b"56")
        buf = bytearray(4)
        assert s.recvmsg_into([buf])[0] == 2 and buf[:2] == b"56"


def test_sendall_of_megabytes_to_a_slow_reader(listener):
    c, s = _pair(listener)
    data = os.urandom(4 * 1024 * 1024)
    with c, s:
        def reader():
            chunks = []
            n = 0
            while n < len(data):
                chunk = s.recv(65536)
                chunks.append(chunk)
                n += len(chunk)
                if len(chunks) % 16 == 0:
                    co.sleep(0.001)
            return b"".join(chunks)
        g = co.spawn(reader)
        c.sendall(data)
        assert g.get(timeout=10) == data


def test_sendall_timeout_bounds_the_whole_call(listener):
    c, s = _pair(listener)
    with c, s:
        c.settimeout(0.2)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match="timed out"):
            c.sendall(b"x" * (64 * 1024 * 1024))   # nobody reads
        assert 0.15 < time.monotonic() - t0 < 1.5


def _fill(sock):
    """Send until the kernel buffers are full (nobody reads); returns the count."""
    n = 0
    while True:
        try:
            n += sock.send(b"x" * 65536, timeout=0)
        except BlockingIOError:
            return n


def test_send_timeout_bounds_this_call_only(listener):
    c, s = _pair(listener)
    with c, s:
        assert c.send(b"abc", timeout=1) == 3 and s.recv(3) == b"abc"
        filled = _fill(c)
        assert c.gettimeout() is None            # the socket's own timeout is untouched
        with pytest.raises(BlockingIOError):
            c.send(b"y", timeout=0)
        with pytest.raises(TimeoutError, match="timed out"):
            c.send(b"y", timeout=0.05)
        filled += _fill(c)                    # the kernel may have grown the buffer meanwhile
        with pytest.raises(TimeoutError, match="timed out"):
            c.send(b"y", timeout=-1)          # a deadline already passed times out at once
        filled += _fill(c)
        assert c.gettimeout() is None

        # timeout=None waits past the socket's (tiny) timeout until the reader drains.
        c.settimeout(0.001)

        def drain():
            co.sleep(0.05)
            return len(_read_exactly(s, filled + 1))
        g = co.spawn(drain)
        assert c.send(b"z", timeout=None) == 1
        assert g.get(timeout=10) == filled + 1
        assert c.gettimeout() == 0.001


def test_send_and_sendall_reject_bad_timeouts(listener):
    c, s = _pair(listener)
    with c, s:
        for bad in ["x", [1], b"1"]:
            with pytest.raises(TypeError, match="timeout must be None or a number"):
                c.send(b"x", timeout=bad)
            with pytest.raises(TypeError, match="timeout must be None or a number"):
                c.sendall(b"x", timeout=bad)
        with pytest.raises(ValueError, match="nan"):
            c.send(b"x", timeout=float("nan"))


def test_sendall_timeout_argument_bounds_the_whole_call(listener):
    c, s = _pair(listener)
    with c, s:
        with pytest.raises(TimeoutError, match="timed out"):
            c.sendall(b"x" * (64 * 1024 * 1024), timeout=0.1)   # nobody reads
        assert c.gettimeout() is None
    c, s = _pair(listener)
    with c, s:
        c.settimeout(0.001)
        data = os.urandom(8 * 1024 * 1024)
        g = co.spawn(_read_exactly, s, len(data))
        c.sendall(data, timeout=None)          # outlasts the socket's own timeout
        assert g.get(timeout=10) == data


def _read_exactly(sock, n):
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(1 << 20, n - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
        co.sleep(0.001)
    return b"".join(chunks)


def test_closed_property_like_gevent(listener):
    c, s = _pair(listener)
    assert c.closed is False and s.closed is False
    f = c.makefile("rb")
    c.close()
    assert c.closed is True          # close() was called, even while the makefile holds the fd
    f.close()
    s.close()
    assert s.closed is True
    with cs.socket() as t:
        assert not t.closed
    assert t.closed


def test_nonblocking_mode_raises_blockingioerror_like_the_stdlib(listener):
    c, s = _pair(listener)
    with c, s:
        c.setblocking(False)
        with pytest.raises(BlockingIOError):
            c.recv(1)
        with pytest.raises(BlockingIOError):
            listener.setblocking(False)
            listener.accept()
        listener.setblocking(True)
        with pytest.raises(BlockingIOError):
            c.sendall(b"x" * (64 * 1024 * 1024))


def test_udp_sendto_recvfrom_and_recvfrom_into():
    a, b = cs.socket(std.AF_INET, std.SOCK_DGRAM), cs.socket(std.AF_INET, std.SOCK_DGRAM)
    with a, b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        g = co.spawn(a.recvfrom, 100)
        co.sleep(0)
        b.sendto(b"ping", a.getsockname())
        data, addr = g.get(timeout=2)
        assert data == b"ping" and addr == b.getsockname()
        a.sendto(b"pong", 0, addr)
        buf = bytearray(10)
        n, addr2 = b.recvfrom_into(buf)
        assert buf[:n] == b"pong" and addr2 == a.getsockname()


def test_unix_stream_sockets(tmp_path):
    path = str(tmp_path / "s.sock")
    lst = cs.socket(std.AF_UNIX, std.SOCK_STREAM)
    lst.bind(path)
    lst.listen(4)
    with lst:
        def serve():
            conn, _ = lst.accept()
            with conn:
                conn.sendall(conn.recv(10) * 2)
        g = co.spawn(serve)
        c = cs.socket(std.AF_UNIX, std.SOCK_STREAM)
        with c:
            c.connect(path)
            c.sendall(b"ab")
            assert c.recv(10) == b"abab"
        g.get(timeout=2)


def test_socketpair_fromfd_dup_detach():
    a, b = cs.socketpair()
    ref_a, ref_b = std.socketpair()
    with a, b, ref_a, ref_b:
        assert type(a) is cs.socket and a.family == ref_a.family == std.AF_UNIX
        assert a.type == ref_a.type
        d = a.dup()
        assert type(d) is cs.socket and d.gettimeout() == a.gettimeout()
        f = cs.fromfd(b.fileno(), std.AF_UNIX, std.SOCK_STREAM)
        assert type(f) is cs.socket and f.fileno() != b.fileno()
        d.sendall(b"1")
        assert f.recv(1) == b"1"
        d.close()
        f.close()
        fd = a.detach()
        assert a.fileno() == -1
        a2 = cs.socket(std.AF_UNIX, std.SOCK_STREAM, 0, fd)
        with a2:
            b.sendall(b"2")
            assert a2.recv(1) == b"2"


# -- connection lifecycle -------------------------------------------------------------------

def test_half_close_recv_returns_empty(listener):
    c, s = _pair(listener)
    with c, s:
        c.sendall(b"last")
        c.shutdown(std.SHUT_WR)
        assert s.recv(10) == b"last"
        assert s.recv(10) == b""
        s.sendall(b"reply")      # the other direction still works
        assert c.recv(10) == b"reply"


def test_peer_reset_raises_connectionreseterror(listener):
    c, s = _pair(listener)
    with s:
        c.setsockopt(std.SOL_SOCKET, std.SO_LINGER, struct.pack("ii", 1, 0))
        g = co.spawn(s.recv, 10)
        co.sleep(0.01)
        c.close()
        with pytest.raises(ConnectionResetError):
            g.get(timeout=2)


def _send_until_error(sock):
    for _ in range(100):
        sock.send(b"x" * 1024)
        time.sleep(0.002)


def test_send_to_closed_peer_raises_like_the_stdlib(listener):
    ref_l = std.socket()
    ref_l.bind(("127.0.0.1", 0))
    ref_l.listen(1)
    ref_c = std.create_connection(ref_l.getsockname())
    ref_s, _ = ref_l.accept()
    ref_s.close()
    c, s = _pair(listener)
    s.close()
    with c, ref_c, ref_l:
        expected = _outcome(_send_until_error, ref_c)
        assert expected[0] == "raise" and expected[1] is BrokenPipeError
        assert _outcome(_send_until_error, c) == expected


def test_connection_refused_like_the_stdlib():
    port = _closed_port()
    ref, ours = std.socket(), cs.socket()
    with ref, ours:
        assert _outcome(ours.connect, ("127.0.0.1", port)) == _outcome(ref.connect, ("127.0.0.1", port))
    ref, ours = std.socket(), cs.socket()
    with ref, ours:
        assert ours.connect_ex(("127.0.0.1", port)) == ref.connect_ex(("127.0.0.1", port)) \
            == errno.ECONNREFUSED
    with pytest.raises(ConnectionRefusedError):
        cs.create_connection(("127.0.0.1", port))
    # all_errors=True: an ExceptionGroup where Python has them (3.11+); before
    # that the first error, as gevent does there.
    expected = getattr(builtins, "ExceptionGroup", ConnectionRefusedError)
    with pytest.raises(expected):
        cs.create_connection(("127.0.0.1", port), all_errors=True)


def test_connect_resolves_names_cooperatively(listener):
    port = listener.getsockname()[1]
    c = cs.socket()
    with c:
        c.connect(("localhost", port))
        assert c.getpeername() == ("127.0.0.1", port)
    c = cs.create_connection(("localhost", port), timeout=2, source_address=("127.0.0.1", 0))
    with c:
        assert c.gettimeout() == 2
    with pytest.raises(std.gaierror):
        cs.socket().connect(("no-such-host.invalid", 80))


def test_connect_timeout_on_a_full_backlog():
    lst = std.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    addr = lst.getsockname()
    filler = []
    try:
        for _ in range(8):   # fill the accept queue; later SYNs are dropped
            s = std.socket()
            s.setblocking(False)
            s.connect_ex(addr)
            filler.append(s)
        time.sleep(0.05)
        c = cs.socket()
        c.settimeout(0.2)
        t0 = time.monotonic()
        with c, pytest.raises(TimeoutError, match="timed out"):
            c.connect(addr)
        assert 0.15 < time.monotonic() - t0 < 1.5
        c = cs.socket()
        c.settimeout(0.1)
        with c:
            assert c.connect_ex(addr) == errno.EWOULDBLOCK
    finally:
        for s in filler:
            s.close()
        lst.close()


def test_recv_and_accept_timeouts(listener):
    c, s = _pair(listener)
    with c, s:
        s.settimeout(0.1)
        t0 = time.monotonic()
        with pytest.raises(std.timeout, match="^timed out$"):
            s.recv(1)
        assert 0.08 < time.monotonic() - t0 < 1.0
        listener.settimeout(0.05)
        with pytest.raises(TimeoutError):
            listener.accept()
        listener.settimeout(None)
        c.sendall(b"ok")      # still usable after a timeout
        assert s.recv(2) == b"ok"


def test_makefile_with_timeout_and_io_buffering(listener):
    c, s = _pair(listener)
    with c, s:
        r = s.makefile("rb")
        w = c.makefile("w", encoding="utf-8")
        w.write("line one\nline two\n")
        w.flush()
        assert r.readline() == b"line one\n"
        assert r.readline() == b"line two\n"
        s.settimeout(0.05)
        with pytest.raises(TimeoutError):
            r.readline()
        r.close()
        w.close()


def test_http_client_through_makefile(listener):
    def server():
        conn, _ = listener.accept()
        with conn:
            f = conn.makefile("rb")
            request_line = f.readline()
            while f.readline() not in (b"\r\n", b""):
                pass
            body = b"you asked for " + request_line.split()[1]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Test: 1\r\n\r\n%s"
                         % (len(body), body))
            f.close()
    g = co.spawn(server)
    host, port = listener.getsockname()
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.sock = cs.create_connection((host, port), timeout=5)
    conn.request("GET", "/hello")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("X-Test") == "1"
    assert resp.read() == b"you asked for /hello"
    conn.close()
    g.get(timeout=2)


def test_sendfile_is_cooperative(listener, tmp_path):
    path = tmp_path / "data.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    path.write_bytes(data)
    c, s = _pair(listener)
    with c, s:
        def reader():
            got = bytearray()
            while len(got) < len(data):
                got += s.recv(1 << 16)
            return bytes(got)
        g = co.spawn(reader)
        with open(path, "rb") as f:
            assert c.sendfile(f) == len(data)
            assert f.tell() == len(data)
        assert g.get(timeout=10) == data


# -- many greenlets -------------------------------------------------------------------------

def test_two_readers_of_one_socket_is_an_error(listener):
    c, s = _pair(listener)
    with c, s:
        g1 = co.spawn(s.recv, 10)
        co.sleep(0)
        with pytest.raises(ConcurrentObjectUseError):
            s.recv(10)
        c.sendall(b"x")
        assert g1.get(timeout=2) == b"x"


def test_closing_a_socket_wakes_its_waiter_with_ebadf(listener):
    c, s = _pair(listener)
    with c:
        g = co.spawn(s.recv, 10)
        co.sleep(0.01)
        t0 = time.monotonic()
        s.close()
        with pytest.raises(OSError) as info:
            g.get(timeout=2)
        assert info.value.errno == errno.EBADF
        assert time.monotonic() - t0 < 1.0
    # and an accept loop blocked on a listener
    lst = cs.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    g = co.spawn(lst.accept)
    co.sleep(0.01)
    lst.close()
    with pytest.raises(OSError) as info:
        g.get(timeout=2)
    assert info.value.errno == errno.EBADF


def test_many_waiters_on_many_sockets():
    pairs = [cs.socketpair() for _ in range(300)]
    try:
        gs = [co.spawn(b.recv, 10) for _, b in pairs]
        co.sleep(0.01)
        assert not any(g.ready() for g in gs)
        for i, (a, _) in enumerate(pairs):
            a.sendall(str(i).encode())
        co.joinall(gs, timeout=5)
        assert [g.value for g in gs] == [str(i).encode() for i in range(300)]
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_delayed_servers_are_served_concurrently(listener):
    delay, n = 0.2, 30

    def server():
        for _ in range(n):
            conn, _ = listener.accept()
            co.spawn(_delayed_reply, conn, delay)
    co.spawn(server)

    def client(i):
        with cs.create_connection(listener.getsockname()) as c:
            c.sendall(b"%d" % i)
            return c.recv(10)
    t0 = time.monotonic()
    gs = [co.spawn(client, i) for i in range(n)]
    co.joinall(gs, timeout=5)
    elapsed = time.monotonic() - t0
    assert [g.value for g in gs] == [b"%d" % i for i in range(n)]
    assert elapsed < delay * 3, f"{n} clients of {delay}s servers took {elapsed:.2f}s"


def _delayed_reply(conn, delay):
    with conn:
        data = conn.recv(10)
        co.sleep(delay)
        conn.sendall(data)


def test_one_thousand_concurrent_connections(listener):
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * n + 256), hard))
    listener.listen(n)
    active = [0, 0]   # now, peak

    def handle(conn):
        with conn:
            data = conn.recv(16)
            active[0] += 1
            active[1] = max(active)
            co.sleep(0.05)        # hold every connection open at the same time
            active[0] -= 1
            conn.sendall(data)

    def server():
        for _ in range(n):
            conn, _ = listener.accept()
            co.spawn(handle, conn)
    srv = co.spawn(server)

    def client(i):
        with cs.create_connection(listener.getsockname()) as c:
            c.sendall(b"%d" % i)
            return c.recv(16)
    gs = [co.spawn(client, i) for i in range(n)]
    co.joinall(gs, timeout=30)
    assert [g.value for g in gs] == [b"%d" % i for i in range(n)]
    assert active[1] > n // 2, f"only {active[1]} of {n} connections were served at once"
    srv.get(timeout=5)


# -- raw fd waits ---------------------------------------------------------------------------

def test_wait_read_write_on_raw_fds():
    r, w = os.pipe()
    try:
        cs.wait_write(w, timeout=1)
        cs.wait_readwrite(w, timeout=1)
        with pytest.raises(TimeoutError, match="timed out"):
            cs.wait_read(r, timeout=0.02)

        class Custom(Exception):
            pass
        with pytest.raises(Custom):
            cs.wait_read(r, timeout=0.02, timeout_exc=Custom("late"))
        co.spawn_later(0.02, os.write, w, b"x")
        cs.wait_read(r, timeout=2)
        assert os.read(r, 1) == b"x"
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize("func", [cs.wait_read, cs.wait_write, cs.wait_readwrite])
def test_wait_functions_reject_what_is_not_a_file_descriptor(func):
    class NoInt:
        def fileno(self):
            return "3"

    for bad in ["x", None, 1.5, object()]:
        with pytest.raises(TypeError) as info:
            func(bad, timeout=1)
        msg = str(info.value)
        assert func.__name__ in msg and "file descriptor" in msg and "fileno()" in msg
        assert repr(bad) in msg
    with pytest.raises(TypeError, match="must return an int, got '3'"):
        func(NoInt(), timeout=1)
    with pytest.raises(ValueError, match="non-negative file descriptor, got -1"):
        func(-1, timeout=1)


def test_wait_functions_accept_objects_with_fileno(listener):
    c, s = _pair(listener)
    with c, s:
        cs.wait_write(c, timeout=2)
        c.sendall(b"x")
        cs.wait_read(s, timeout=2)
        cs.wait_readwrite(s, timeout=2)
        assert s.recv(1) == b"x"


def test_cancel_wait_wakes_the_waiter():
    r, w = os.pipe()
    try:
        hub = co.get_hub()
        watcher = hub.loop.io(r, 1)
        from coopshell._core.io_wait import wait_io
        g = co.spawn(wait_io, hub, watcher)
        co.sleep(0.01)
        cs.cancel_wait(watcher)
        with pytest.raises(OSError) as info:
            g.get(timeout=2)
        assert info.value.errno == errno.EBADF
    finally:
        os.close(r)
        os.close(w)


# -- module names -------------------------------------------------------------------------

def test_dns_names_are_the_resolvers():
    # The name lists themselves are checked in tests/test_stdlib_names.py.
    from coopshell import resolver
    assert set(cs.__dns__) <= set(cs.__implements__)
    for name in cs.__dns__:
        assert getattr(cs, name) is getattr(resolver, name), name


def test_create_server_and_has_dualstack_ipv6():
    s = cs.create_server(("127.0.0.1", 0))
    with s:
        assert type(s) is cs.socket and s.getsockopt(std.SOL_SOCKET, std.SO_ACCEPTCONN)
        c = cs.create_connection(s.getsockname())
        conn, _ = s.accept()
        c.close()
        conn.close()
    assert cs.has_dualstack_ipv6() == std.has_dualstack_ipv6()


def test_a_socket_can_move_to_another_thread():
    import threading
    a, b = cs.socketpair()
    with a, b:
        co.spawn_later(0.01, a.sendall, b"main")
        assert b.recv(10) == b"main"       # watchers bound to the main thread's hub
        out = []
        t = threading.Thread(target=lambda: out.append(b.recv(10)))
        t.start()
        time.sleep(0.05)
        a.sendall(b"thread")
        t.join(5)
        assert out == [b"thread"]
        co.spawn_later(0.01, a.sendall, b"back")
        assert b.recv(10) == b"back"


def test_msg_dontwait_never_waits_like_the_stdlib(listener):
    c, s = _pair(listener)
    ref_a, ref_b = std.socketpair()
    with c, s, ref_a, ref_b:
        flag = std.MSG_DONTWAIT
        for name, args in [("recv", (10, flag)), ("recvfrom", (10, flag)),
                           ("recv_into", (bytearray(4), 4, flag))]:
            assert _outcome(getattr(s, name), *args) == _outcome(getattr(ref_b, name), *args)
        assert s.recv_into(bytearray(4), flags=0) if c.send(b"x") else False
        with pytest.raises(BlockingIOError):
            s.recv_into(bytearray(4), flags=flag)


def test_close_racing_a_timeout_leaves_no_stray_error(listener):
    # close() and the recv timeout fall due in the same loop pass: the waiter
    # sees its timeout, and the cancellation must not land in its next wait.
    c, s = _pair(listener)
    with c:
        s.settimeout(0.05)

        def waiter():
            with pytest.raises(TimeoutError):
                s.recv(1)
            co.sleep(0.05)          # a stray EBADF would be raised here
            return "ok"
        g = co.spawn(waiter)
        co.sleep(0)
        co.spawn_later(0.02, time.sleep, 0.06)   # blocks the hub past both deadlines
        co.spawn_later(0.04, s.close)
        assert g.get(timeout=2) == "ok"


def test_closing_from_another_thread_wakes_the_waiter(listener):
    import threading
    c, s = _pair(listener)
    with c:
        g = co.spawn(s.recv, 10)
        co.sleep(0.01)
        t = threading.Thread(target=s.close)
        t.start()
        with pytest.raises(OSError) as info:
            g.get(timeout=2)
        t.join(2)
        assert info.value.errno == errno.EBADF


def test_wait_read_rejects_a_value_switched_into_it():
    # gevent: a greenlet waiting for an fd wakes only for the fd (or its
    # timeout, or a close); a stray switch(None) is an InvalidSwitchError.
    from coopshell._core.exceptions import InvalidSwitchError

    a, b = cs.socketpair()
    try:
        def reader():
            try:
                cs.wait_read(a.fileno())
            except InvalidSwitchError as e:
                return e
            return "returned"

        g = co.spawn(reader)
        co.get_hub().loop.run_callback(g.switch, None)
        result = g.get(timeout=10)
        assert isinstance(result, AssertionError) and "Invalid switch" in str(result), result
        # the watcher was released: the fd can be waited on again, and wakes on data
        b.send(b"x")
        cs.wait_read(a.fileno(), timeout=10)
        assert a.recv(1) == b"x"
    finally:
        a.close()
        b.close()


def test_module_wait_on_a_watcher_and_its_timeout():
    # gevent.socket.wait(io, timeout, timeout_exc): the low-level wait on a
    # loop watcher; its timeout holds even while io.start() itself blocks.
    from coopshell._core.loop import READ

    a, b = cs.socketpair()
    try:
        watcher = co.get_hub().loop.io(a.fileno(), READ)
        co.spawn(b.send, b"x")
        cs.wait(watcher, timeout=10)
        assert a.recv(1) == b"x"
        with pytest.raises(std.timeout, match="timed out"):
            cs.wait(co.get_hub().loop.io(a.fileno(), READ), timeout=0.01)

        class SlowStart:
            callback = None

            def start(self, *args):
                co.sleep(60)

        with pytest.raises(LookupError):
            cs.wait(SlowStart(), timeout=0.01, timeout_exc=LookupError("slow"))
    finally:
        a.close()
        b.close()


def test_underscore_sock_is_the_stdlib_socket_underneath():
    s = cs.socket()
    try:
        assert s._sock is s and isinstance(s._sock, std.socket)
    finally:
        s.close()


def test_an_unref_socket_does_not_keep_the_loop_alive():
    a, b = cs.socketpair()
    try:
        assert a.ref is True
        a.ref = False
        assert a.ref is False and a._read_event.ref is False and a._write_event.ref is False
        g = co.spawn(a.recv, 1)
        co.sleep(0)                        # g now waits on the unref'd READ watcher
        assert co.get_hub().join(timeout=30) is True   # the loop ran out of work
        assert not g.dead
        a.ref = True                       # from the next wait on (g's wait stays unref'd)
        b.send(b"x")
        assert g.get(timeout=30) == b"x"
        assert co.get_hub().join(timeout=30) is True   # and no reference count was leaked
        assert a._read_event.ref is True
    finally:
        a.close()
        b.close()
