"""``coopshell attach``: a real server program in a subprocess, made attachable,
driven from a real terminal (pexpect) while a client keeps using its server."""

import os
import re
import socket
import subprocess
import sys
import textwrap
import threading

import pexpect
import pytest

from coopshell.interactive.attach import AttachClient, AttachError, resolve_target, run_input

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")

TARGET = textwrap.dedent("""\
    import sys
    import coopshell as co
    import coopshell.backdoor
    from coopshell.server import StreamServer

    SECRET = 21
    served = [0]

    def handle(sock, addr):
        for line in sock.makefile("rb"):
            served[0] += 1
            sock.sendall(line)

    def ticker():
        while True:
            co.sleep(0.05)

    def victim():
        co.sleep(3600)

    srv = StreamServer(("127.0.0.1", 0), handle)
    srv.start()
    tk = co.spawn(ticker); tk.name = "ticker"
    vg = co.spawn(victim); vg.name = "victim"
    tcp = sys.argv[1:] == ["tcp"]
    att = coopshell.backdoor.listen(tcp=0 if tcp else None)
    print("READY", srv.address[1], att.address, flush=True)
    srv.serve_forever()
    """)


def plain(text):
    return _ANSI.sub("", text)


@pytest.fixture
def env(tmp_path):
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    e = dict(os.environ)
    e.update(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", XDG_RUNTIME_DIR=str(xdg), PYTHONDONTWRITEBYTECODE="1",
             COOPSHELL_ATTACH_HISTORY=str(tmp_path / "history"))
    e.pop("COLUMNS", None)
    e.pop("LINES", None)
    return e


def start_target(tmp_path, env, *args):
    script = tmp_path / "target.py"
    script.write_text(TARGET)
    proc = subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    line = proc.stdout.readline()
    assert line.startswith("READY"), (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, int(line.split()[1])


@pytest.fixture
def target(tmp_path, env):
    proc, port = start_target(tmp_path, env)
    yield proc, port
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


class Load:
    """A client of the program's own echo server, running the whole session."""

    def __init__(self, port):
        self.port = port
        self.ok = 0
        self.errors = []
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        sock = None
        n = 0
        while not self._stop.is_set():
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                    f = sock.makefile("rb")
                msg = b"ping %d\n" % n
                sock.sendall(msg)
                if f.readline() != msg:
                    raise AssertionError("wrong echo")
                n += 1
                with self._cond:
                    self.ok += 1
                    self._cond.notify_all()
            except Exception as exc:   # counted, and the test fails on any
                self.errors.append(repr(exc))
                sock = None
        if sock is not None:
            sock.close()

    def wait_for(self, more, timeout=60):
        """Block until ``more`` further requests were served."""
        with self._cond:
            goal = self.ok + more
            assert self._cond.wait_for(lambda: self.ok >= goal or self.errors, timeout), \
                f"the program stopped serving: {self.ok} < {goal}"
        assert not self.errors, self.errors

    def stop(self):
        self._stop.set()
        self.thread.join(timeout=30)


def attach(env, *args, timeout=20):
    p = pexpect.spawn(sys.executable, ["-m", "coopshell", "attach", *args], env=env, encoding="utf-8",
                      timeout=timeout, dimensions=(50, 200))
    return p


def test_attach_session_against_a_busy_server(target, env, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
    proc, port = target
    pid = proc.pid
    load = Load(port)
    load.wait_for(20)
    phases = {}

    listing = subprocess.run([sys.executable, "-m", "coopshell", "attach"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert re.search(rf"^{pid}\s+\S+{pid}\.sock\s+.*target\.py", listing.stdout, re.M), listing.stdout

    p = attach(env, str(pid))
    p.logfile_read = open(tmp_path / "screen.log", "w")
    prompt = rf"\[{pid}\]>>>"
    p.expect(prompt)
    assert f"attached to PID {pid}" in plain(p.before)

    def run(line, expect, timeout=20):
        p.sendline(line)
        p.expect(expect, timeout=timeout)
        text = plain(p.before + p.after)
        p.expect(prompt)
        return text

    start = load.ok
    # the program's greenlets, one's stack
    table = run("%greenlets", r"\(\d+ live\)")
    assert "ticker" in table and "victim" in table and "attach" not in table
    victim_id = re.search(r"^(\d+)\s+victim\s", table, re.M).group(1)
    ticker_id = re.search(r"^(\d+)\s+ticker\s", table, re.M).group(1)
    stack = run(f"%where {ticker_id}", r"co\.sleep\(0\.05\)")
    assert "in ticker" in stack and "target.py" in stack
    # a global of the program, and a statement that changes it
    assert "42" in run("SECRET * 2", r"(?<!\d)42\r\n")
    run("SECRET = 22; 'assigned'", r"'assigned'\r\n")
    assert "44" in run("SECRET * 2", r"(?<!\d)44\r\n")
    # kill one greenlet
    assert "killed 1 greenlet(s)" in run(f"%kill {victim_id}", r"killed \d+ greenlet\(s\)")
    assert "True" in run("vg.dead, tk.dead", r"\(True, False\)")
    # completion of the remote namespace, and ? help
    p.send("SECR\t")
    p.expect("ET")                               # the completion's letters, drawn after "SECR"
    p.send(" + 1\r")
    p.expect(r"(?<!\d)23\r\n")
    p.expect(prompt)
    assert "coopshell.server.StreamServer" in run("srv?", r"Type:\s+coopshell\.server\.StreamServer")
    # multi-line input
    p.sendline("def twice(x):")
    p.sendline("return 2 * x")
    p.sendline("")
    p.expect(prompt)
    run("twice(SECRET)", r"(?<!\d)44\r\n")
    phases["before sleep"] = load.ok - start

    # a long remote sleep: the program keeps serving; Ctrl-C interrupts only it
    p.sendline("print('sleeping now'); co.sleep(600)")
    p.expect("sleeping now\r?\n")
    mark = load.ok
    load.wait_for(20)                            # served while the statement sleeps
    p.sendcontrol("c")
    p.expect("KeyboardInterrupt")
    p.expect(prompt)
    phases["during the remote sleep"] = load.ok - mark
    assert "False" in run("tk.dead", r"(?<!\d)False\r\n")     # the ticker lives on
    assert "hub watched" in run("%blocking 0.2", r"hub watched for 0\.2s[^\n]*")

    # detach: the program goes on untouched
    phases["attached, in all"] = load.ok - start
    mark = load.ok
    p.sendcontrol("d")
    p.expect(f"detached from PID {pid}")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0
    load.wait_for(20)
    phases["after detach"] = load.ok - mark
    assert proc.poll() is None
    load.stop()
    assert not load.errors, load.errors
    print(f"\nrequests served by the attached program: {load.ok} in all, 0 errors; per phase: {phases}")

    # the program still has its ticker and no attach greenlets once detached
    sock, token, _ = resolve_target(str(pid))
    client = AttachClient(sock, token, on_output=lambda s, t: None)
    reply = client.call("exec", timeout=20, source="tk.dead, served[0] > 0")
    assert reply["value"] == "(False, True)"
    client.close()
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err, err


def test_attach_errors_are_clear(env, tmp_path):
    out = subprocess.run([sys.executable, "-m", "coopshell", "attach", "999999"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1 and "no attachable program with PID 999999" in out.stderr
    out = subprocess.run([sys.executable, "-m", "coopshell", "attach"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "no attachable programs of uid" in out.stdout
    out = subprocess.run([sys.executable, "-m", "coopshell", "attach", str(tmp_path / "nothing.sock")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "no socket at" in out.stderr
    env = dict(env)
    env.pop("COOPSHELL_ATTACH_TOKEN", None)
    out = subprocess.run([sys.executable, "-m", "coopshell", "attach", "127.0.0.1:1"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "needs its token" in out.stderr


def test_attach_over_tcp_with_the_endpoint_files_token(tmp_path, env, monkeypatch):
    proc, _port = start_target(tmp_path, env, "tcp")
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
        out = subprocess.run([sys.executable, "-m", "coopshell", "attach"], env=env, capture_output=True,
                             text=True, timeout=60)
        m = re.search(rf"^{proc.pid}\s+(127\.0\.0\.1:\d+) \(token\)", out.stdout, re.M)
        assert m, out.stdout
        sock, token, _ = resolve_target(m.group(1))        # the token comes from this user's endpoint file
        got = []
        client = AttachClient(sock, token, on_output=lambda stream, text: got.append(text))
        assert run_input(client, "print('over tcp'); SECRET", print_=got.append) == "ok"
        assert "over tcp" in got and "21" in got
        client.close()
        sock, _, _ = resolve_target(m.group(1), token="not-the-token-at-all")
        with pytest.raises(AttachError, match="wrong token"):
            AttachClient(sock, "not-the-token-at-all")
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_the_client_says_so_when_the_program_goes_away(tmp_path, env, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
    proc, _port = start_target(tmp_path, env)
    try:
        sock, token, _ = resolve_target(str(proc.pid))
        client = AttachClient(sock, token, on_output=lambda s, t: None)
        lines = []
        assert run_input(client, "SECRET", print_=lines.append) == "ok" and lines == ["21"]
        proc.kill()
        proc.wait(timeout=10)
        assert run_input(client, "print('never'); co.sleep(600)", print_=lines.append) == "closed"
        assert lines[-1].startswith("[attach] connection lost")
        with pytest.raises(AttachError, match="not connected"):
            client.start("exec", source="1")
        client.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
