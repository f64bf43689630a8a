"""coopshell.backdoor: gevent's line-mode BackdoorServer, and listen()'s attach protocol and its security.

The server runs in this process's hub; the clients are coopshell sockets in
the test's main greenlet (so the hub runs while they wait), or real processes
under another uid for the SO_PEERCRED check.
"""

import json
import re
import os
import shutil
import socket as std_socket
import stat
import sys
import tempfile
import textwrap

import pytest

import coopshell as co
import coopshell.backdoor as bd
from coopshell import socket as csocket
from coopshell import subprocess as csubprocess
from coopshell.backdoor import _session
from coopshell.backdoor import BackdoorServer, FrameDecoder, ProtocolError, encode_frame


# -- helpers ----------------------------------------------------------------------------------

class LineClient:
    def __init__(self, address):
        self.sock = csocket.create_connection(address, timeout=10)
        self.buf = b""

    def read_until(self, marker: bytes) -> str:
        while marker not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError(f"connection closed before {marker!r}; got {self.buf!r}")
            self.buf += data
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out.decode()

    def run(self, line: str) -> str:
        """Send a line; the output up to the next prompt (the prompt excluded)."""
        self.sock.sendall(line.encode() + b"\r\n")
        return self.read_until(b">>> ")[:-4]

    def read_eof(self) -> bytes:
        rest = self.buf
        while True:
            data = self.sock.recv(4096)
            if not data:
                return rest
            rest += data

    def close(self):
        self.sock.close()


class FrameClient:
    """A minimal cooperative attach-protocol client."""

    def __init__(self, address):
        family = std_socket.AF_UNIX if isinstance(address, str) else std_socket.AF_INET
        self.sock = csocket.socket(family, std_socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(address)
        self.decoder = FrameDecoder()
        self.inbox = []

    def send(self, **msg):
        self.sock.sendall(encode_frame(msg))

    def recv(self):
        while not self.inbox:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.inbox.extend(self.decoder.feed(data))
        return self.inbox.pop(0)

    def hello(self, **extra):
        self.send(op="hello", version=1, **extra)
        return self.recv()

    def until_done(self, ident):
        """(output frames, final reply) for request ``ident``."""
        outputs = []
        while True:
            msg = self.recv()
            assert msg is not None, "connection closed before the reply"
            if msg["op"] == "output":
                outputs.append(msg)
            elif msg.get("id") == ident:
                return outputs, msg

    def close(self):
        self.sock.close()


@pytest.fixture
def rundir(tmp_path, monkeypatch):
    base = tmp_path / "xdg"
    base.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    return base / "coopshell"


@pytest.fixture
def line_server():
    srv = BackdoorServer(("127.0.0.1", 0), locals={"x": 41, "shared": []})
    srv.start()
    yield srv
    srv.stop()


# -- gevent's line mode ------------------------------------------------------------------------

def test_banner_prompt_and_expressions(line_server, capsys):
    c = LineClient(line_server.address)
    banner = c.read_until(b">>> ")
    assert "Python" in banner and "BackdoorServer" in banner
    assert c.run("x + 1").strip() == "42"
    assert c.run("print('hello there')").strip() == "hello there"
    assert "hello there" not in capsys.readouterr().out      # the server's stdout never saw it
    c.run("x = 0")
    c.close()
    assert line_server.locals["x"] == 41                      # each connection has a copy of locals


def test_multi_line_statements(line_server):
    c = LineClient(line_server.address)
    c.read_until(b">>> ")
    c.sock.sendall(b"def f(n):\r\n    return n * 2\r\n\r\n")
    c.read_until(b">>> ")
    assert c.run("f(21)").strip() == "42"
    c.close()


def test_exceptions_are_shown_and_the_connection_goes_on(line_server):
    c = LineClient(line_server.address)
    c.read_until(b">>> ")
    out = c.run("1 / 0")
    assert "Traceback (most recent call last)" in out and "ZeroDivisionError: division by zero" in out
    out = c.run("def (:")
    assert "SyntaxError" in out
    assert c.run("'still here'").strip() == "'still here'"
    c.close()


def test_quit_closes_only_that_connection(line_server):
    a, b = LineClient(line_server.address), LineClient(line_server.address)
    a.read_until(b">>> ")
    b.read_until(b">>> ")
    a.sock.sendall(b"quit()\r\n")
    assert a.read_eof() == b""
    assert b.run("6 * 7").strip() == "42"
    assert "to close this connection" in b.run("exit")          # the repr says how, without exiting
    b.sock.sendall(b"exit()\r\n")
    assert b.read_eof() == b""
    c = LineClient(line_server.address)                       # the server still accepts
    c.read_until(b">>> ")
    assert c.run("x").strip() == "41"
    c.close()


def test_a_blocking_statement_blocks_only_its_connection(line_server):
    a, b = LineClient(line_server.address), LineClient(line_server.address)
    a.read_until(b">>> ")
    b.read_until(b">>> ")
    a.sock.sendall(b"import coopshell; shared.append(1); coopshell.sleep(60)\r\n")
    while not line_server.locals["shared"]:
        co.sleep(0.01)
    assert b.run("len(shared)").strip() == "1"
    a.close()
    b.close()


def test_custom_banner_and_argument_errors():
    srv = BackdoorServer(("127.0.0.1", 0), banner="welcome, operator")
    srv.start()
    try:
        c = LineClient(srv.address)
        assert c.read_until(b">>> ").startswith("welcome, operator")
        c.close()
    finally:
        srv.stop()
    with pytest.raises(TypeError, match="locals must be a dict"):
        BackdoorServer(("127.0.0.1", 0), locals=[1])
    with pytest.raises(TypeError, match="banner must be a str"):
        BackdoorServer(("127.0.0.1", 0), banner=3)


# -- framing -------------------------------------------------------------------------------------

def test_frames_round_trip_in_pieces():
    data = encode_frame({"op": "exec", "id": 1, "source": "é" * 10}) + encode_frame({"op": "bye"})
    d = FrameDecoder()
    got = []
    for i in range(len(data)):
        got += d.feed(data[i:i + 1])
    assert got == [{"op": "exec", "id": 1, "source": "é" * 10}, {"op": "bye"}]


def test_bad_frames_are_protocol_errors():
    with pytest.raises(ProtocolError, match="over the"):
        FrameDecoder().feed((bd.MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(ProtocolError, match="not UTF-8 JSON"):
        FrameDecoder().feed((3).to_bytes(4, "big") + b"{x}")
    with pytest.raises(ProtocolError, match="'op'"):
        FrameDecoder().feed((2).to_bytes(4, "big") + b"[]")
    with pytest.raises(ProtocolError, match="'op' key"):
        encode_frame({"id": 1})


# -- listen(): the Unix socket ---------------------------------------------------------------------

def test_listen_modes_endpoint_file_and_cleanup(rundir):
    server = bd.listen()
    try:
        assert stat.S_IMODE(os.stat(rundir).st_mode) == 0o700
        sock_path = rundir / f"{os.getpid()}.sock"
        assert server.address == str(sock_path)
        st = os.stat(sock_path)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        info_path = rundir / f"{os.getpid()}.json"
        assert stat.S_IMODE(os.stat(info_path).st_mode) == 0o600
        info = json.loads(info_path.read_text())
        assert info["pid"] == os.getpid() and info["unix"] == str(sock_path) and "token" not in info
        assert [e["pid"] for e in bd.list_endpoints()] == [os.getpid()]
    finally:
        server.close()
    assert not sock_path.exists() and not info_path.exists()
    assert bd.list_endpoints() == []


def test_an_idle_attach_server_keeps_nothing_alive(rundir):
    server = bd.listen()
    try:
        c = FrameClient(server.address)
        assert c.hello()["op"] == "welcome"
        # Listening and an idle attached client hold only unreferenced watchers:
        # the loop has nothing left to do, so waiting for it returns at once.
        assert co.get_hub().join(timeout=30) is True
        c.close()
    finally:
        server.close()


def test_exec_value_output_errors_and_namespace(rundir):
    ns = {"SECRET": 21}
    server = bd.listen(locals=ns)
    try:
        c = FrameClient(server.address)
        welcome = c.hello()
        assert welcome["op"] == "welcome" and welcome["pid"] == os.getpid() and welcome["version"] == 1
        c.send(op="exec", id=1, source="print('out'); import sys; print('err', file=sys.stderr)\nSECRET * 2")
        outputs, done = c.until_done(1)
        assert done == {"op": "done", "id": 1, "status": "ok", "value": "42"}
        assert [(o["stream"], o["data"]) for o in outputs if o["data"].strip()] == [("stdout", "out"),
                                                                                     ("stderr", "err")]
        assert all(o["id"] == 1 for o in outputs)
        c.send(op="exec", id=2, source="y = SECRET + 1")
        assert c.until_done(2)[1]["status"] == "ok" and ns["y"] == 22   # statements see the real namespace
        c.send(op="exec", id=3, source="def f():\n    raise KeyError('k')\nf()")
        _, done = c.until_done(3)
        assert done["status"] == "error" and "KeyError: 'k'" in done["error"] and 'line 2, in f' in done["error"]
        assert "coopshell/backdoor" not in done["error"]                 # the server's frames are cut
        c.send(op="exec", id=4, source="raise SystemExit(3)")
        assert c.until_done(4)[1]["status"] == "error"                   # ends the statement, not the program
        c.send(op="exec", id=5, source="def (:")
        assert "SyntaxError" in c.until_done(5)[1]["error"]
        c.send(op="complete", id=6, text="SEC")
        assert c.until_done(6)[1] == {"op": "completions", "id": 6, "matches": ["SECRET"]}
        c.send(op="magic", id=7, line="nosuch")
        assert "unknown remote magic %nosuch" in c.until_done(7)[1]["error"]
        c.send(op="frobnicate", id=8)
        assert "unknown op 'frobnicate'" in c.until_done(8)[1]["reason"]
        c.send(op="bye")
        assert c.recv() is None
    finally:
        server.close()


def test_interrupt_ends_only_that_statement(rundir):
    ns = {}
    server = bd.listen(locals=ns)
    try:
        c = FrameClient(server.address)
        c.hello()
        c.send(op="exec", id=1, source="import coopshell\nstarted = True\ncoopshell.sleep(600)")
        while not ns.get("started"):
            co.sleep(0.01)
        c.send(op="interrupt", id=1)
        _, done = c.until_done(1)
        assert done["status"] == "interrupted" and "KeyboardInterrupt" in done["error"]
        assert "_core/hub.py" not in done["error"]                   # the runtime's sleep frames are cut
        c.send(op="exec", id=2, source="'alive'")
        assert c.until_done(2)[1]["value"] == "'alive'"
    finally:
        server.close()


def test_output_of_spawned_greenlets_comes_back_and_stays_after_detach(rundir, capsys):
    ns = {}
    server = bd.listen(locals=ns)
    try:
        c = FrameClient(server.address)
        c.hello()
        c.send(op="exec", id=1, source=textwrap.dedent("""\
            import coopshell
            from coopshell.event import Event
            go = Event()
            def later():
                go.wait()
                print('from the background')
            g = coopshell.spawn(later)
            """))
        assert c.until_done(1)[1]["status"] == "ok"
        ns["go"].set()
        msg = c.recv()
        assert msg["op"] == "output" and msg["data"] == "from the background" and msg["id"] == 1
        c.close()
        while server.sessions:
            co.sleep(0.01)
        ns["go"].clear()
        ns["g2"] = co.spawn(ns["later"].__call__)   # spawned here: the program's own output
        ns["go"].set()
        ns["g2"].join(timeout=10)
        assert "from the background" in capsys.readouterr().out
        assert not isinstance(sys.stdout, bd._routing._RoutedStream)      # routing undone after the last session
    finally:
        server.close()


def test_a_client_that_says_nothing_is_dropped(rundir, monkeypatch):
    monkeypatch.setattr(_session, "HELLO_TIMEOUT", 0.2)
    server = bd.listen()
    try:
        c = FrameClient(server.address)
        msg = c.recv()
        assert msg["op"] == "refused" and "no hello" in msg["reason"]
        assert c.recv() is None
    finally:
        server.close()


def test_bad_hello_and_garbage_are_refused(rundir):
    server = bd.listen()
    try:
        c = FrameClient(server.address)
        c.send(op="exec", id=1, source="1")
        msg = c.recv()
        assert msg["op"] == "refused" and "expected a hello" in msg["reason"]
        c = FrameClient(server.address)
        c.send(op="hello", version=99)
        assert "protocol version 1 expected" in c.recv()["reason"]
        c = FrameClient(server.address)
        c.sock.sendall((5).to_bytes(4, "big") + b"nope!")
        msg = c.recv()
        assert msg["op"] == "error" and "not UTF-8 JSON" in msg["reason"]
        assert c.recv() is None
    finally:
        server.close()


def test_listen_argument_errors(rundir, tmp_path):
    with pytest.raises(ValueError, match="at least 16"):
        bd.listen(tcp=0, token="short")
    with pytest.raises(ValueError, match="only applies with tcp"):
        bd.listen(token="x" * 20)
    with pytest.raises(ValueError, match="not both"):
        bd.listen(str(tmp_path / "s"), tcp=0)
    with pytest.raises(ValueError, match="tcp must be"):
        bd.listen(tcp="nowhere")
    with pytest.raises(TypeError, match="locals must be a dict"):
        bd.listen(locals=[])
    plain = tmp_path / "plain"
    plain.write_text("x")
    with pytest.raises(FileExistsError, match="not a socket"):
        bd.listen(str(plain))
    server = bd.listen(str(tmp_path / "s.sock"))
    try:
        with pytest.raises(FileExistsError, match="already served"):
            bd.listen(str(tmp_path / "s.sock"))
    finally:
        server.close()


def test_a_stale_socket_file_is_replaced(rundir, tmp_path):
    path = str(tmp_path / "stale.sock")
    s = std_socket.socket(std_socket.AF_UNIX)
    s.bind(path)
    s.close()                                         # the file stays, nobody serves it
    server = bd.listen(path)
    try:
        c = FrameClient(path)
        assert c.hello()["op"] == "welcome"
        c.close()
    finally:
        server.close()


def test_tcp_parsing_binds_only_what_is_asked():
    from coopshell.backdoor._endpoint import parse_tcp
    assert parse_tcp(0) == ("127.0.0.1", 0)
    assert parse_tcp(":8000") == ("127.0.0.1", 8000)
    assert parse_tcp("0.0.0.0:8000") == ("0.0.0.0", 8000)   # all interfaces only when passed
    assert parse_tcp(("::1", 9)) == ("::1", 9)
    with pytest.raises(TypeError):
        parse_tcp(True)


# -- security ------------------------------------------------------------------------------------------

def test_runtime_dir_refuses_an_open_or_foreign_directory(tmp_path, monkeypatch):
    base = tmp_path / "xdg"
    base.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    d = bd.runtime_dir()
    assert d == str(base / "coopshell") and stat.S_IMODE(os.stat(d).st_mode) == 0o700
    os.chmod(d, 0o755)
    with pytest.raises(PermissionError, match="must be 0700"):
        bd.runtime_dir()
    with pytest.raises(PermissionError):
        bd.listen()
    os.rmdir(d)
    open(d, "w").close()
    with pytest.raises(PermissionError, match="not a directory"):
        bd.runtime_dir()
    os.unlink(d)
    if os.getuid() == 0:
        os.mkdir(d, 0o700)
        os.chown(d, 65534, 65534)
        with pytest.raises(PermissionError, match="belongs to uid 65534"):
            bd.runtime_dir()


def test_wrong_or_missing_token_is_refused_on_tcp(rundir):
    server = bd.listen(tcp=0)
    try:
        host, port = server.address
        assert host == "127.0.0.1"                             # loopback by default
        assert isinstance(server.token, str) and len(server.token) >= 32
        info_path = rundir / f"{os.getpid()}.json"
        assert stat.S_IMODE(os.stat(info_path).st_mode) == 0o600
        info = json.loads(info_path.read_text())
        assert info["tcp"] == [host, port] and info["token"] == server.token
        c = FrameClient((host, port))
        msg = c.hello()
        assert msg == {"op": "refused", "reason": "missing token"} and c.recv() is None
        c = FrameClient((host, port))
        assert c.hello(token="x" * 43) == {"op": "refused", "reason": "wrong token"}
        assert c.recv() is None
        assert server.refused == 2
        c = FrameClient((host, port))
        assert c.hello(token=server.token)["op"] == "welcome"
        c.send(op="exec", id=1, source="2 + 2")
        assert c.until_done(1)[1]["value"] == "4"
        c.close()
    finally:
        server.close()
    assert not info_path.exists()


def test_peer_credentials_of_a_real_socketpair():
    a, b = std_socket.socketpair(std_socket.AF_UNIX)
    try:
        assert bd.peer_credentials(a) == (os.getpid(), os.getuid(), os.getgid())
    finally:
        a.close()
        b.close()


_NOBODY_CLIENT = textwrap.dedent("""\
    import json, socket, struct, sys
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1])
    except OSError as exc:
        print("CONNECT-ERROR", type(exc).__name__)
        sys.exit(0)
    body = json.dumps({"op": "hello", "version": 1}).encode()
    s.sendall(struct.pack(">I", len(body)) + body)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    if len(data) >= 4:
        print("REPLY", data[4:4 + struct.unpack(">I", data[:4])[0]].decode())
    else:
        print("CLOSED")
    """)


def _as_nobody(path):
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.getuid() != 0:
        pytest.skip("needs root and setpriv to run a client under another uid")
    out = csubprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                           "-c", _NOBODY_CLIENT, path], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        pytest.skip(f"cannot run as uid 65534 here: {out.stderr.strip()[:200]}")
    return out.stdout.strip()


def test_another_uid_cannot_reach_the_default_socket(rundir):
    server = bd.listen()
    try:
        assert _as_nobody(server.address) == "CONNECT-ERROR PermissionError"   # the 0700 directory
    finally:
        server.close()


def test_another_uid_is_refused_by_peer_credentials(rundir, capfd):
    world = tempfile.mkdtemp(prefix="coopshell-test-world-")   # under /tmp: reachable by every uid
    os.chmod(world, 0o777)
    path = os.path.join(world, "open.sock")
    server = bd.listen(path)
    try:
        os.chmod(path, 0o666)          # a socket anyone may connect to: SO_PEERCRED still refuses
        out = _as_nobody(path)
        assert out.startswith("REPLY ")
        reply = json.loads(out[len("REPLY "):])
        assert reply["op"] == "refused" and "uid 65534 may not attach" in reply["reason"]
        assert server.refused == 1 and not server.sessions
        assert "refused an attach from uid 65534" in capfd.readouterr().err
        c = FrameClient(path)
        assert c.hello()["op"] == "welcome"           # the owner still gets in
        c.close()
    finally:
        server.close()
        shutil.rmtree(world, ignore_errors=True)


# -- the remote magics and the runner hook ---------------------------------------------------------

def _blocker(stop):
    import time
    while not stop:
        time.sleep(0.1)                     # blocks the hub: what %blocking must find
        co.sleep(0.001)       # (a sleep(0) loop would starve timers for 64 callbacks: see the report)


def test_remote_magics(rundir):
    ns = {}
    server = bd.listen(locals=ns)
    stop = []
    try:
        parked = co.spawn(co.sleep, 600)
        parked.name = "parked"
        c = FrameClient(server.address)
        c.hello()
        c.send(op="magic", id=1, line="greenlets")
        text = c.until_done(1)[1]["text"]
        assert re.search(rf"^{parked.minimal_ident}\s+parked\s", text, re.M), text
        assert "coopshell-attach" not in text                      # the server's own greenlets are hidden
        c.send(op="magic", id=2, line=f"where {parked.minimal_ident}")
        assert "in sleep" in c.until_done(2)[1]["text"]
        c.send(op="magic", id=3, line="where 99999999")
        assert "no greenlet with ID 99999999" in c.until_done(3)[1]["error"]
        c.send(op="magic", id=4, line=f"kill {parked.minimal_ident}")
        assert c.until_done(4)[1]["text"] == "killed 1 greenlet(s)" and parked.dead
        c.send(op="magic", id=5, line="pinfo len")
        assert "builtin_function_or_method" in c.until_done(5)[1]["text"]
        c.send(op="magic", id=6, line="blocking nope")
        assert "SECONDS must be a number" in c.until_done(6)[1]["error"]
        blocker = co.spawn(_blocker, stop)
        c.send(op="magic", id=7, line="blocking 0.5")
        text = c.until_done(7)[1]["text"]
        stop.append(True)
        blocker.join(timeout=10)
        ms = float(re.search(r"longest blocked ([\d.]+) ms", text).group(1))
        assert ms >= 50 and "in _blocker() at test_backdoor.py" in text, text
        c.send(op="magic", id=8, line="help")
        assert "%where ID" in c.until_done(8)[1]["text"]
    finally:
        stop.append(True)
        server.close()


RUNNER_SCRIPT = textwrap.dedent("""\
    import coopshell as co
    from coopshell.event import Event
    done = Event()
    X = 5
    print("READY", flush=True)
    done.wait(timeout=600)   # a timed wait: attach watchers are unreferenced and keep nothing alive
    """)


def test_run_attachable_serves_the_scripts_globals_and_cleans_up(rundir, tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(RUNNER_SCRIPT)
    env = dict(os.environ, XDG_RUNTIME_DIR=os.environ["XDG_RUNTIME_DIR"])
    proc = csubprocess.Popen([sys.executable, "-c", "import sys; from coopshell.backdoor import run_attachable; "
                              "run_attachable(sys.argv[1], ['a1'])", str(script)],
                             stdout=csubprocess.PIPE, stderr=csubprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "READY"
        path = str(rundir / f"{proc.pid}.sock")
        c = FrameClient(path)
        c.hello()
        c.send(op="exec", id=1, source="import sys; X, __name__, sys.argv")
        assert c.until_done(1)[1]["value"] == f"(5, '__main__', [{str(script)!r}, 'a1'])"
        c.send(op="exec", id=2, source="done.set()")
        c.until_done(2)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not os.path.exists(path) and not (rundir / f"{proc.pid}.json").exists()


def test_line_mode_restores_the_servers_streams_and_has_builtins(line_server):
    before = sys.stdout, sys.stderr
    c = LineClient(line_server.address)
    c.read_until(b">>> ")
    assert c.run("len('abc'), __builtins__ is not None").strip() == "(3, True)"
    assert c.run("import sys; sys.stderr.write('to the client\\n')").startswith("to the client")
    c.sock.sendall(b"quit()\r\n")
    c.read_eof()
    while line_server.pool is not None and len(line_server.pool):
        co.sleep(0.01)
    assert (sys.stdout, sys.stderr) == before            # routing is undone with the last session


def test_a_failing_greenlet_spawned_remotely_reports_to_the_client(rundir, capfd):
    assert co.get_hub()._exception_stream is None           # the default: the current sys.stderr
    server = bd.listen(locals={})
    try:
        c = FrameClient(server.address)
        c.hello()
        c.send(op="exec", id=1, source="import coopshell\ng = coopshell.spawn(lambda: 1 / 0)\ng.join()")
        outputs, done = c.until_done(1)
        assert done["status"] == "ok"
        reported = "".join(o["data"] for o in outputs if o["stream"] == "stderr")
        assert "ZeroDivisionError" in reported and "failed with ZeroDivisionError" in reported
        assert "ZeroDivisionError" not in capfd.readouterr().err   # not on the program's own stderr
    finally:
        server.close()


def test_backdoor_imports_no_higher_layer():
    code = ("import sys, coopshell.backdoor; "
            "bad = [m for m in sys.modules if m.startswith(('coopshell.interactive', 'coopshell.monkey', "
            "'prompt_toolkit', 'IPython', 'zmq'))]; print(bad)")
    out = csubprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
