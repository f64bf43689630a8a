"""``%load_ext coopshell`` in a real terminal IPython (pexpect, a pty) and in a
stock ipykernel (jupyter_client, the ``python3`` kernelspec)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pexpect
import psutil
import pytest

from _kernel_util import VENV_BIN, Kernel, kernel_env

_ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b\][^\x07]*\x07")


class TerminalIPython:
    """IPython's real prompt_toolkit prompt in a pty."""

    def __init__(self):
        env = kernel_env()
        env["TERM"] = "xterm"   # prompt_toolkit ignores input hooks on dumb terminals
        env["PROMPT_TOOLKIT_NO_CPR"] = "1"   # pexpect answers no cursor position requests
        self.p = pexpect.spawn(os.path.join(VENV_BIN, "ipython"),
                               ["--no-banner", "--colors=NoColor", "--no-confirm-exit",
                                "--HistoryManager.enabled=False", "--TerminalInteractiveShell.autosuggestions_provider=None"],
                               env=env, encoding="utf-8", timeout=20, dimensions=(40, 200))
        self.n = 1
        self.p.expect(r"In \[1\]:")

    def run(self, line: str) -> str:
        """Type ``line``, wait for the next prompt; return the output in between."""
        self.p.sendline(line)
        self.n += 1
        self.p.expect(rf"In \[{self.n}\]:")
        return _ANSI.sub("", self.p.before)

    def value(self, expr: str) -> str:
        out = self.run(f"print('VAL', {expr})")
        m = re.search(r"VAL (.*?)\r?\n", out)
        assert m, out
        return m.group(1).strip()

    def close(self):
        if self.p.isalive():
            self.p.sendline("exit")
            try:
                self.p.expect(pexpect.EOF, timeout=5)
            except pexpect.TIMEOUT:
                self.p.terminate(force=True)


@pytest.fixture(scope="module")
def term():
    t = TerminalIPython()
    yield t
    t.close()


def test_import_coopshell_does_not_import_ipython():
    code = ("import sys, coopshell\n"
            "heavy = [m for m in ('IPython', 'ipykernel', 'prompt_toolkit', 'zmq') if m in sys.modules]\n"
            "assert callable(coopshell.load_ipython_extension)\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "[]", out.stderr


def test_terminal_greenlets_run_at_the_prompt(term):
    term.run("%load_ext coopshell")
    term.run("import coopshell as co, time, asyncio; ticks = []")
    term.run("def tick():\n    while True:\n        ticks.append(1); co.sleep(0.02)\n")
    term.run("bg = co.spawn(tick)")
    n0 = int(term.value("len(ticks)"))
    time.sleep(0.6)                                   # sitting at the prompt
    n1 = int(term.value("len(ticks)"))
    assert n1 - n0 >= 8, (n0, n1)
    out = term.run("%greenlets")
    assert "tick()" in out and "waiting in sleep(0.02)" in out, out


def test_terminal_await_cell_runs_greenlets(term):
    term.run("n0 = len(ticks)")
    assert int(term.value("(await asyncio.sleep(0.3)) or len(ticks) - n0")) >= 5


def test_terminal_ctrl_c_interrupts_the_join_only(term):
    term.p.sendline("print('JOIN' + 'ING'); co.spawn(co.sleep, 30).join()")
    term.p.expect("JOINING")
    time.sleep(0.1)
    t0 = time.monotonic()
    term.p.sendintr()
    term.n += 1
    term.p.expect(rf"In \[{term.n}\]:")
    assert time.monotonic() - t0 < 2
    assert "KeyboardInterrupt" in term.p.before
    n0 = int(term.value("len(ticks)"))
    assert term.value("bg.dead") == "False"
    time.sleep(0.3)
    assert int(term.value("len(ticks)")) > n0 + 3


def test_terminal_interrupted_joinall_traceback_is_trimmed(term):
    # The printer runs only once the main greenlet is parked in joinall.
    term.p.sendline("g = co.spawn(co.sleep, 60); co.spawn(print, 'PARK' + 'ED', flush=True); "
                    "co.joinall([g])")
    term.p.expect("PARKED")
    term.p.sendintr()
    term.n += 1
    term.p.expect(rf"In \[{term.n}\]:")
    out = _ANSI.sub("", term.p.before)
    assert "KeyboardInterrupt" in out and "co.joinall([g])" in out, out
    for internal in ("greenlet.py", "hub.py", "_iwait", "switch()"):
        assert internal not in out, out
    assert term.value("g.dead") == "False"           # only the wait was interrupted
    term.run("g.kill()")


def test_terminal_failed_joinall_traceback_is_trimmed(term):
    out = term.run("co.joinall([co.spawn(lambda: 1 / 0)], raise_error=True)")
    assert "failed with ZeroDivisionError" in out, out   # the hub's report of the greenlet
    cell_tb = out.split("-" * 40)[-1]                # then IPython's traceback of the cell
    assert "ZeroDivisionError" in cell_tb and "raise_error=True)" in cell_tb, out
    assert "<lambda>" in cell_tb, out               # the greenlet's failing frame stays
    assert "greenlet.py" not in cell_tb and "hub.py" not in cell_tb, out


def test_terminal_progress_bar_and_tag(term):
    term.run("from coopshell.progress import progress")
    out = term.run("jobs = [co.spawn(co.sleep, 0.1 * i) for i in range(1, 9)]; "
                   "r = [g.value for g in progress(jobs, desc='sweep')]")
    assert re.search(r"sweep: 8/8 100% [\d.]+/s in ", out), out     # the final state stays
    # A background sweep finishing while the prompt is up: its final line is
    # printed once, above the prompt.
    term.p.sendline("bgs = co.spawn(lambda: list(progress([co.spawn(co.sleep, 0.3)], desc='bgsweep')))")
    term.n += 1
    term.p.expect(r"bgsweep: 1/1 100% [\d.]+/s in ")
    term.p.expect(rf"In \[{term.n}\]:")
    assert term.value("bgs.dead") == "True"
    assert "tagged output: on" in term.run("%tag on")
    term.p.sendline("tg = co.spawn(print, 'bg', 'words'); tg.name = 'term-bg'; tg.join(); "
                    "print('fg' + 'words')")
    term.n += 1
    term.p.expect(rf"In \[{term.n}\]:")
    out = _ANSI.sub("", term.p.before)
    assert "[term-bg] bg words" in out and re.search(r"(?m)^fgwords", out), out
    assert "tagged output: off" in term.run("%tag off")


def test_terminal_idle_cpu_is_zero(term):
    term.run("bg.kill(); ev = __import__('coopshell.event').event.Event()")
    term.run("parked = [co.spawn(ev.wait) for _ in range(1000)] + [co.spawn(co.sleep, 3600)]")
    proc = psutil.Process(term.p.pid)
    time.sleep(0.3)
    c0 = proc.cpu_times()
    time.sleep(2.0)
    c1 = proc.cpu_times()
    used = (c1.user - c0.user) + (c1.system - c0.system)
    assert used < 0.1, f"terminal IPython used {used:.3f} s CPU in 2 s idle"
    term.run("ev.set()")
    assert term.value("sum(g.dead for g in parked)") == "1000"


def test_terminal_unload_stops_the_hub_at_the_prompt(term):
    term.run("bg2 = co.spawn(tick)")
    term.run("%unload_ext coopshell")
    n0 = int(term.value("len(ticks)"))
    time.sleep(0.4)
    n1 = int(term.value("len(ticks)"))
    assert n1 == n0, "the hub still ran at the prompt after %unload_ext"
    out = term.run("%greenlets")
    assert "UsageError" in out and "not found" in out, out
    # blocking calls still run the hub
    term.run("co.sleep(0.2)")
    assert int(term.value("len(ticks)")) > n1 + 3
    term.run("%load_ext coopshell")
    n2 = int(term.value("len(ticks)"))
    time.sleep(0.4)
    assert int(term.value("len(ticks)")) > n2 + 5


def test_stock_ipykernel_load_ext():
    k = Kernel("python3")
    try:
        assert "coopshell" not in k.ok("import sys; sorted(m for m in sys.modules if m.startswith('coopshell'))").text
        k.ok("%load_ext coopshell")
        k.ok("import coopshell as co, asyncio, time\n"
             "ticks = []\n"
             "def tick():\n"
             "    while True:\n"
             "        ticks.append(1); co.sleep(0.02)\n"
             "bg = co.spawn(tick)")
        n0 = int(k.ok("len(ticks)").text)
        time.sleep(0.5)
        n1 = int(k.ok("len(ticks)").text)
        assert n1 - n0 >= 8, (n0, n1)
        r = k.ok("%greenlets")
        assert r.data("text/html") and "tick()" in r.data("text/html")[0]
        assert k.ok("n = len(ticks); await asyncio.sleep(0.3); len(ticks) - n >= 5").text == "True"
        assert k.ok("g = co.spawn(lambda: 5); await g").text == "5"
        r = k.ok("bg")
        assert r.data("text/html")
        k.ok("%unload_ext coopshell")
        assert not k.ok("bg").data("text/html")
        n2 = int(k.ok("len(ticks)").text)
        time.sleep(0.4)
        assert int(k.ok("len(ticks)").text) == n2
        assert k.execute("%greenlets").status == "error"
    finally:
        k.close()


def test_stock_ipykernel_extension_loaded_at_startup():
    # c.InteractiveShellApp.extensions runs before the kernel's start()
    k = Kernel("python3", extra_arguments=["--InteractiveShellApp.extensions=coopshell"])
    try:
        k.ok("import coopshell as co\n"
             "ticks = []\n"
             "bg = co.spawn(lambda: [(ticks.append(1), co.sleep(0.02)) for _ in range(1000)])")
        time.sleep(0.4)
        assert int(k.ok("len(ticks)").text) >= 8
        assert "<table" in k.ok("%greenlets").data("text/html")[0]
    finally:
        k.close()
