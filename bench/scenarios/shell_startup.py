"""Shell start-up: from exec to the first prompt, in a pseudo-terminal
(80x24, ``TERM=xterm-256color``), for the coopshell shell (``python -m
coopshell``), IPython, ptpython and ``python -m asyncio``, alternating,
``reps`` times each after one unmeasured warm-up start (bytecode caches,
IPython's profile directory; skipped at the smoke size). The reader answers the terminal's cursor
position requests like a terminal would, and stops the clock when the
output, escape sequences removed, shows the shell's prompt. Reported:
median seconds per shell, and coopshell ÷ IPython.

Every shell gets private, empty config and history locations (``HOME``,
``IPYTHONDIR``, ``XDG_*`` in a temporary directory), so user settings on
the machine do not count. Only the coopshell column runs this (there is no
gevent shell); the other shells are the reference."""

from __future__ import annotations

import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from bench.common import Metric, Target, child_env

TITLE = "shell start-up: exec to first prompt in a pty"
METRICS = [Metric("s_coopshell", "s to prompt, coopshell"),
           Metric("s_ipython", "s to prompt, IPython"),
           Metric("s_ptpython", "s to prompt, ptpython"),
           Metric("s_asyncio", "s to prompt, python -m asyncio"),
           Metric("ratio_ipython", "coopshell ÷ IPython")]
PARAMS = {"full": {"reps": 10, "warmup": True}, "quick": {"reps": 3, "warmup": True},
          "smoke": {"reps": 1, "warmup": False}}
TARGETS = [Target("s_coopshell", max_value=0.5), Target("ratio_ipython", max_value=0.7)]

# argv after the interpreter, and the prompt as it first appears once escape
# sequences are removed. prompt_toolkit shells (coopshell, ptpython, IPython)
# draw the prompt and then more (blank lines reserved below it, cursor moves),
# so their prompt is searched anywhere; `python -m asyncio` echoes
# ">>> import asyncio" in its banner, so its prompt must end the output.
SHELLS = {"coopshell": (["-m", "coopshell"], rb">>>"),
          "ipython": (["-m", "IPython"], rb"In \[1\]: "),
          "ptpython": (["-m", "ptpython"], rb">>>"),
          "asyncio": (["-m", "asyncio"], rb">>> $")}
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]"
                      rb"|\x1b[=>78]")
_CPR_REQUEST = b"\x1b[6n"


def time_to_prompt(argv: list[str], prompt: bytes, env: dict, timeout: float = 60.0) -> float:
    """Seconds from starting ``argv`` on a new pty until its output, escape
    sequences removed, matches the regular expression ``prompt``."""
    prompt_re = re.compile(prompt)
    import fcntl
    import select
    import struct
    import termios
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out = b""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    try:
        deadline = t0 + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"{' '.join(argv[1:])}: no prompt after {timeout:g} s; "
                                   f"output: {_ESCAPES.sub(b'', out)[-300:]!r}")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:     # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                raise RuntimeError(f"{' '.join(argv[1:])} exited before its prompt "
                                   f"(status {proc.wait()}): {_ESCAPES.sub(b'', out)[-300:]!r}")
            out += chunk
            for _ in range(chunk.count(_CPR_REQUEST)):
                os.write(master, b"\x1b[1;1R")
            if prompt_re.search(_ESCAPES.sub(b"", out)):
                return time.perf_counter() - t0
    finally:
        proc.kill()
        proc.wait()
        os.close(master)


def run_coopshell(reps, warmup):
    with tempfile.TemporaryDirectory(prefix="bench-shell-") as home:
        env = child_env(HOME=home, IPYTHONDIR=os.path.join(home, "ipython"),
                        XDG_CONFIG_HOME=os.path.join(home, "config"),
                        XDG_DATA_HOME=os.path.join(home, "data"),
                        XDG_CACHE_HOME=os.path.join(home, "cache"),
                        COOPSHELL_HISTORY=os.path.join(home, "coopshell_history"),
                        TERM="xterm-256color", COLUMNS="80", LINES="24")
        env.pop("PYTHONSTARTUP", None)
        # A shell that is not installed here (ptpython comes with the bench
        # extra only) is reported as n/a, not as a failure of the scenario.
        shells = {name: spec for name, spec in SHELLS.items()
                  if spec[0][0] != "-m" or spec[0][1] == "asyncio"
                  or importlib.util.find_spec(spec[0][1]) is not None}
        times = {name: [] for name in shells}
        for name, (args, prompt) in shells.items() if warmup else ():
            time_to_prompt([sys.executable, *args], prompt, env)          # warm-up
        for _ in range(reps):
            for name, (args, prompt) in shells.items():
                times[name].append(time_to_prompt([sys.executable, *args], prompt, env))
    med = {name: statistics.median(v) for name, v in times.items()}
    ratio = med["coopshell"] / med["ipython"] if "ipython" in med else None
    return {"s_coopshell": med["coopshell"], "s_ipython": med.get("ipython"),
            "s_ptpython": med.get("ptpython"), "s_asyncio": med.get("asyncio"),
            "ratio_ipython": ratio}
