"""The coopshell shell, driven for real in a pseudo-terminal (pexpect) and in tmux."""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pexpect
import psutil
import pytest

PROMPT = ">>>"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")


def shell_env(tmp_path):
    env = dict(os.environ)
    env.update(TERM="xterm", COOPSHELL_HISTORY=str(tmp_path / "history"), PROMPT_TOOLKIT_NO_CPR="1",
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


@pytest.fixture
def shell(tmp_path):
    """A running ``python -m coopshell`` in a pty; closed (killed if need be) after."""
    p = pexpect.spawn(sys.executable, ["-m", "coopshell"], env=shell_env(tmp_path), encoding="utf-8",
                      timeout=10, dimensions=(50, 200), cwd=str(tmp_path))
    p.logfile_read = open(tmp_path / "screen.log", "w")
    p.expect(PROMPT)
    yield p
    if p.isalive():
        p.terminate(force=True)
    p.close()


def run(p, line, expect, timeout=10):
    """Send ``line``; wait for the regex ``expect`` in the output (it must not
    occur in the echoed input); return the match."""
    p.sendline(line)
    p.expect(expect, timeout=timeout)
    return p.match


def plain(text):
    return _ANSI.sub("", text)


def exit_cleanly(p, how="exit()"):
    if how == "ctrl-d":
        p.sendcontrol("d")
    else:
        p.sendline(how)
    p.expect(pexpect.EOF, timeout=10)
    rest = plain(p.before)
    p.close()
    return p.exitstatus, rest


TICKER = ("import time; ticks = []; "
          "tk = spawn(lambda: [ticks.append(time.monotonic()) or co.sleep(0.05) for _ in iter(int, 1)]); "
          "tk.name = 'ticker'")


def test_ticker_runs_at_idle_prompt_ctrl_c_and_clean_exit(shell):
    p = shell
    p.sendline(TICKER)
    p.expect(PROMPT)
    run(p, "n0 = len(ticks); 'started=%d' % (n0 > 0)", r"started=1")
    time.sleep(1.0)                    # idle at the prompt
    n = int(run(p, "'idle_ticks=%d' % (len(ticks) - n0)", r"idle_ticks=(\d+)").group(1))
    assert 15 <= n <= 30, n            # ~20 in 1 s, plus typing latency

    # %greenlets lists the ticker
    run(p, "%greenlets", r"ticker\s+<lambda>\(\)\s+waiting in sleep\(0\.05\)")

    # Ctrl-C during a foreground wait: back at the prompt fast, ticker goes on
    p.sendline("n1 = len(ticks); co.sleep(30)")
    time.sleep(0.5)
    t0 = time.monotonic()
    p.sendintr()
    p.expect("KeyboardInterrupt")
    assert time.monotonic() - t0 < 1.0
    tb = plain(p.before)
    tb = tb[tb.rindex("Traceback"):]
    assert '<coopshell-input-' in tb and "co.sleep(30)" in tb
    assert "coopshell/" not in tb and "hub.py" not in tb      # no runtime internals
    p.expect(PROMPT)
    time.sleep(0.3)
    n = int(run(p, "'after=%d' % (len(ticks) - n1)", r"after=(\d+)").group(1))
    assert n >= 10, n                   # kept ticking during and after the interrupt

    # the last result is `_`
    run(p, "40 + 2", r"(?<![0-9])42\r\n")
    run(p, "'u=%d' % (_ + 1)", r"u=43")

    status, rest = exit_cleanly(p)
    assert status == 0
    assert "killing 1 live greenlet" in rest and "<lambda>" in rest
    assert "Traceback" not in rest and "Error" not in rest


def test_idle_shell_with_1000_parked_greenlets_uses_no_cpu(shell):
    p = shell
    run(p, "import coopshell.event; ev = coopshell.event.Event(); "
           "ps = [spawn(ev.wait) for _ in range(500)] + [spawn(co.sleep, 3600) for _ in range(500)]; "
           "co.sleep(0.1); 'parked=%d' % sum(1 for g in ps if g)", r"parked=1000")
    p.expect(PROMPT)
    time.sleep(0.3)
    proc = psutil.Process(p.pid)
    c0 = sum(proc.cpu_times()[:2])
    time.sleep(3.0)
    cpu = sum(proc.cpu_times()[:2]) - c0
    assert cpu < 0.1, cpu
    status, rest = exit_cleanly(p, "ctrl-d")
    assert status == 0 and "killing 1000 live greenlets" in rest and "Traceback" not in rest


class _SlowHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.5)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_monkey_makes_urllib_fetches_concurrent(shell):
    try:
        import coopshell.monkey  # noqa: F401
        import coopshell.socket  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"coopshell.monkey / coopshell.socket not available: {exc}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        p = shell
        out = run(p, "%monkey", r"stale|no stale").string
        p.expect(PROMPT)
        m = run(p, "import urllib.request, time; t0 = time.monotonic(); "
                   f"gs = [spawn(lambda: urllib.request.urlopen({url!r}).read()) for _ in range(5)]; "
                   "joinall(gs, timeout=10); "
                   "'elapsed=%.2f ok=%d' % (time.monotonic() - t0, sum(g.value == b'ok' for g in gs))",
                r"elapsed=([\d.]+) ok=(\d)", timeout=15)
        elapsed, ok = float(m.group(1)), int(m.group(2))
        assert ok == 5
        assert elapsed < 1.5, elapsed   # 5 x 0.5 s one after the other would be 2.5 s
        run(p, "%monkey status", r"patched: .*socket")
        run(p, "%monkey off", r"unpatched: .*socket")
        exit_cleanly(p)
    finally:
        server.shutdown()
        server.server_close()


def test_await_multiline_storm_blocking_and_magic_errors(shell):
    p = shell
    run(p, "import asyncio; g = spawn(lambda: co.sleep(0.1) or 7); await asyncio.sleep(0.05); "
           "'aw=%d' % (await g)", r"aw=7")
    p.sendline("def double(x):")
    p.sendline("    return x * 2")
    p.sendline("")
    run(p, "'ml=%d' % double(21)", r"ml=42")

    # a storm of failing greenlets is summarised, and the shell stays responsive
    p.sendline("gs = [spawn(lambda: 1/0) for _ in range(10000)]")
    p.expect(r"and 999\d more greenlets failed with ZeroDivisionError", timeout=15)
    shown = plain(p.before).count("failed with ZeroDivisionError")
    assert 1 <= shown <= 10, shown
    run(p, "'alive=%d' % 1", r"alive=1")

    # a greenlet blocking the hub is named
    p.sendline("import time; b = spawn(time.sleep, 1.0); b.name = 'sleepy'; b.join()")
    p.expect(r"blocked for over 0\.5s by <Greenlet \"sleepy\"")
    run(p, "%blocking off", r"detector: off")
    run(p, "%blocking 0.3", r"threshold 0.3s")

    # magics: one clear line, no traceback
    run(p, "%nosuchmagic", r"unknown magic %nosuchmagic")
    run(p, "%kill abc", r"not a greenlet ID")
    p.sendline("js = [spawn(co.sleep, 0.3) for _ in range(3)]")
    p.expect(PROMPT)
    run(p, "%joinall 5", r"joinall: 3/3 done, 0 failed")

    # Ctrl-C interrupts a top-level await and CPU-bound code
    p.sendline("await asyncio.sleep(30)")
    time.sleep(0.4)
    t0 = time.monotonic()
    p.sendintr()
    p.expect("KeyboardInterrupt")
    assert time.monotonic() - t0 < 1.0
    p.sendline("x = 0")
    p.expect(PROMPT)
    p.sendline("while True: x += 1")
    p.sendline("")
    time.sleep(0.5)
    p.sendintr()
    p.expect("KeyboardInterrupt")
    run(p, "'spun=%s' % (x > 1000)", r"spun=True")

    # an error in user code shows the user's frame, not the runtime's
    p.sendline("slow = spawn(co.sleep, 5); slow.get(timeout=0.05)")
    p.expect(r"Timeout")
    tb = plain(p.before)
    assert "slow.get(timeout=0.05)" in tb and "coopshell/" not in tb[tb.rindex("Traceback"):]
    status, rest = exit_cleanly(p, "ctrl-d")
    assert status == 0 and "Traceback" not in rest


def test_history_and_tab_completion(tmp_path, shell):
    p = shell
    p.send("co.spawn_la")
    p.send("\t")
    p.send("(0, print, 'compl' + 'eted')\r")
    p.expect("completed")
    run(p, "'hist=%d' % 5", "hist=5")
    exit_cleanly(p)
    history = (tmp_path / "history").read_text()
    assert "co.spawn_later(0, print, 'compl' + 'eted')" in history
    assert "'hist=%d' % 5" in history


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_background_output_never_lands_in_typed_text(tmp_path):
    sock = f"coopshell-test-{uuid.uuid4().hex[:8]}"
    env = shell_env(tmp_path)
    tmux = ["tmux", "-L", sock]
    cmd = " ".join([f"{k}={v}" for k, v in [("TERM", "xterm"), ("COOPSHELL_HISTORY", env["COOPSHELL_HISTORY"]),
                                             ("PROMPT_TOOLKIT_NO_CPR", "1")]]
                   + [sys.executable, "-m", "coopshell"])
    subprocess.run(tmux + ["-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "150", "-y", "40",
                           "env " + cmd], check=True)

    def screen():
        return subprocess.run(tmux + ["capture-pane", "-p", "-t", "t"], capture_output=True,
                              text=True).stdout

    def wait_for(pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = screen()
            if re.search(pattern, s):
                return s
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not on screen:\n{screen()}")

    try:
        wait_for(PROMPT)
        subprocess.run(tmux + ["send-keys", "-t", "t", "-l",
                               "tk = spawn(lambda: [print('TICK', i) or co.sleep(0.1) for i in range(10**6)])"])
        subprocess.run(tmux + ["send-keys", "-t", "t", "Enter"])
        wait_for(r"TICK 3")
        typed = "partial_input_xyz"
        for ch in typed:               # type while the ticker prints
            subprocess.run(tmux + ["send-keys", "-t", "t", "-l", ch])
            time.sleep(0.03)
        time.sleep(0.5)
        s1 = screen()
        time.sleep(0.4)
        s2 = screen()
        for s in (s1, s2):
            lines = [ln for ln in s.splitlines() if ln.strip()]
            assert lines[-1].rstrip() == f">>> {typed}", s
            assert sum(typed in ln for ln in lines) == 1, s
            tick_lines = [ln for ln in lines if "TICK" in ln and "spawn(" not in ln]
            assert tick_lines and all(re.fullmatch(r"TICK \d+ *", ln) for ln in tick_lines), s
        ticks = [int(m) for m in re.findall(r"TICK (\d+)", s2)]
        assert ticks and max(ticks) > max(int(m) for m in re.findall(r"TICK (\d+)", s1))
        subprocess.run(tmux + ["send-keys", "-t", "t", "C-c"])          # clears the line
        wait_for(r">>> *$")
        lines = [ln for ln in screen().splitlines() if ln.strip()]
        assert lines[-1].rstrip() == ">>>"
        subprocess.run(tmux + ["send-keys", "-t", "t", "C-d"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if subprocess.run(tmux + ["has-session", "-t", "t"], capture_output=True).returncode:
                break
            time.sleep(0.1)
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)
