"""Progress bars in the front ends: the shell draws them in the prompt's
message (typed text stays intact), Jupyter updates one display in place."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import uuid

import pexpect
import pytest

from _kernel_util import Kernel
from test_shell import PROMPT, exit_cleanly, plain, shell, shell_env  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def k():
    kernel = Kernel("coopshell")
    kernel.ok("import coopshell as co, coopshell.event\nfrom coopshell.progress import progress")
    yield kernel
    kernel.close()


def _displays(messages):
    return [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")]


def test_kernel_progress_is_one_display_updated_in_place(k):
    r = k.ok("jobs = [co.spawn(co.sleep, 0.1 * i) for i in range(1, 13)]\n"
             "for g in progress(jobs, desc='sweep'):\n"
             "    pass")
    shown = _displays(r.messages)
    assert shown and shown[0]["msg_type"] == "display_data", r.messages
    ids = {m["content"]["transient"]["display_id"] for m in shown}
    assert len(ids) == 1, ids
    updates = [m for m in shown if m["msg_type"] == "update_display_data"]
    assert len(updates) >= 2, shown                      # redrawn while it ran, then final
    texts = [m["content"]["data"]["text/plain"] for m in shown]
    counts = [int(re.match(r"sweep: (\d+)/12", t).group(1)) for t in texts]
    assert counts == sorted(counts) and counts[-1] == 12, texts
    final = shown[-1]["content"]["data"]
    assert re.match(r"sweep: 12/12 100% [\d.]+/s in ", final["text/plain"]), final
    assert '<progress value="12" max="12"' in final["text/html"]


def test_kernel_background_sweep_draws_in_the_cell_that_started_it(k):
    a = k.ok("gate = co.event.Event()\n"
             "def sweep():\n"
             "    gate.wait()\n"
             "    return list(progress([co.spawn(co.sleep, 0.05) for _ in range(3)], desc='bg'))\n"
             "s = co.spawn(sweep)")
    b = k.ok("gate.set(); s.join(); len(s.value)")
    assert b.text == "3"
    k.wait_for(lambda: [m for m in _displays(k.iopub)
                        if "bg: 3/3" in m["content"]["data"]["text/plain"]], 10, "the final bar")
    shown = [m for m in _displays(k.iopub) if m["content"]["data"]["text/plain"].startswith("bg:")]
    assert {m["parent_header"]["msg_id"] for m in shown} == {a.msg_id}
    assert not _displays(b.messages)


def test_kernel_joinall_magic_uses_the_progress_display(k):
    k.ok("%kill all")
    r = k.ok("jobs = [co.spawn(co.sleep, 0.05 * i) for i in range(12)]\n%joinall 5")
    shown = _displays(r.messages)
    assert len({m["content"]["transient"]["display_id"] for m in shown}) == 1, shown
    assert "joinall: 12/12" in shown[-1]["content"]["data"]["text/plain"]
    assert "<progress" in shown[-1]["content"]["data"]["text/html"]
    assert "joinall: 12/12 done, 0 failed" in r.stream()


class Tmux:
    """The shell in a real terminal emulator (tmux), so the screen can be read:
    prompt_toolkit sends only the characters that changed, so a raw pty
    stream never holds the bar's whole line."""

    def __init__(self, tmp_path):
        self.tmux = ["tmux", "-L", f"coopshell-bars-{uuid.uuid4().hex[:8]}"]
        env = shell_env(tmp_path)
        cmd = " ".join([f"TERM=xterm COOPSHELL_HISTORY={env['COOPSHELL_HISTORY']} "
                        f"PROMPT_TOOLKIT_NO_CPR=1", sys.executable, "-m", "coopshell"])
        subprocess.run(self.tmux + ["-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "150",
                                    "-y", "40", "env " + cmd], check=True)

    def screen(self) -> list[str]:
        out = subprocess.run(self.tmux + ["capture-pane", "-p", "-t", "t"], capture_output=True,
                             text=True).stdout
        return [ln.rstrip() for ln in out.splitlines() if ln.strip()]

    def wait_for(self, pred, what, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            lines = self.screen()
            if lines and pred(lines):
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not on screen:\n" + "\n".join(lines))
            time.sleep(0.05)

    def type(self, text: str, enter: bool = False) -> None:
        subprocess.run(self.tmux + ["send-keys", "-t", "t", "-l", text], check=True)
        if enter:
            subprocess.run(self.tmux + ["send-keys", "-t", "t", "Enter"], check=True)

    def close(self) -> None:
        subprocess.run(self.tmux + ["kill-server"], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_shell_bar_above_the_prompt_leaves_typed_text_intact(tmp_path):
    t = Tmux(tmp_path)
    try:
        t.wait_for(lambda ls: ls[-1] == ">>>", "the prompt")
        t.type("from coopshell.progress import progress; "
               "jobs = [co.spawn(co.sleep, 0.4 * i) for i in range(1, 9)]; "
               "sw = spawn(lambda: list(progress(jobs, desc='sweep')))", enter=True)
        typed = ""

        def bar_then(count_re):
            # the bar is the line right above the prompt, and the prompt holds what was typed
            def pred(ls):
                return (len(ls) >= 2 and re.fullmatch(rf"sweep: {count_re}/8 \d+% [\d.]+/s ETA .*", ls[-2])
                        and ls[-1] == f">>> {typed}".rstrip())
            return pred

        for piece, count_re in (("print('typed'", "[1-3]"), (" + '-' + ", "[3-6]"),
                                ("'intact')", "[5-7]")):
            t.wait_for(bar_then(count_re), f"bar at {count_re}/8 above '>>> {typed}'")
            t.type(piece)
            typed += piece
        lines = t.wait_for(lambda ls: any(re.fullmatch(r"sweep: 8/8 100% [\d.]+/s in .*", ln)
                                          for ln in ls), "the final bar line")
        lines = t.wait_for(lambda ls: ls[-1] == f">>> {typed}", "the typed text after the bar")
        assert not any(re.match(r"sweep: [0-7]/8", ln) for ln in lines), lines  # drawn in place
        final = [ln for ln in lines if ln.startswith("sweep: 8/8")]
        assert len(final) == 1, lines                          # printed once, above the prompt
        subprocess.run(t.tmux + ["send-keys", "-t", "t", "Enter"], check=True)
        t.wait_for(lambda ls: "typed-intact" in ls and ls[-1] == ">>>", "the statement's output")
    finally:
        t.close()


def test_shell_joinall_magic_draws_a_transient_bar_then_the_summary(shell):
    p = shell
    p.sendline("jobs = [co.spawn(co.sleep, 0.2 * i) for i in range(1, 6)]")
    p.expect(PROMPT)
    p.sendline("%joinall 10")
    p.expect(r"joinall: 5/5 done, 0 failed, [\d.]+s")
    assert re.search(r"joinall: [0-4]/5", plain(p.before)), plain(p.before)   # the live bar
    status, _ = exit_cleanly(p)
    assert status == 0
