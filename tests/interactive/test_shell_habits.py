"""The coopshell shell as a newcomer meets it (issue 13): piped input, --version,
interrupted joins, %monkey thread, await of a failing greenlet, and the IPython habits.
Driven for real: pexpect in a pty, or a pipe."""

import os
import subprocess
import sys
import time

import pexpect
import pytest

from test_shell import PROMPT, exit_cleanly, plain, run, shell, shell_env  # noqa: F401


def piped(tmp_path, text, timeout=60):
    return subprocess.run([sys.executable, "-m", "coopshell"], input=text, capture_output=True,
                          text=True, timeout=timeout, env=shell_env(tmp_path), cwd=str(tmp_path))


def test_piped_input_is_read_like_python_i(tmp_path):
    out = piped(tmp_path, "print(1+1)\nfor i in range(2):\n    print('i', i)\n\n"
                          "g = spawn(lambda: 5)\ng.get()\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "2\ni 0\ni 1\n5\n", repr(out.stdout)
    assert "\r" not in out.stdout + out.stderr
    assert "terminal" not in out.stderr.lower() and "warning" not in out.stderr.lower(), out.stderr
    # prompts go to stderr, one per input, as python -i does
    assert out.stderr.count(">>> ") == 5, out.stderr


def test_piped_input_error_and_exit_status(tmp_path):
    out = piped(tmp_path, "1/0\nprint('after')\nimport sys; sys.exit(3)\n")
    assert out.returncode == 3
    assert out.stdout == "after\n"
    assert "ZeroDivisionError" in out.stderr and "coopshell/" not in out.stderr


def test_version_and_help(tmp_path):
    import coopshell
    out = subprocess.run([sys.executable, "-m", "coopshell", "--version"], capture_output=True,
                         text=True, timeout=60, cwd=str(tmp_path))
    assert out.returncode == 0 and out.stdout.strip() == f"coopshell {coopshell.__version__}"
    out = subprocess.run([sys.executable, "-m", "coopshell", "--help"], capture_output=True,
                         text=True, timeout=60, cwd=str(tmp_path))
    assert out.returncode == 0 and "--version" in out.stdout
    out = subprocess.run([sys.executable, "-m", "coopshell", "--bogus"], capture_output=True,
                         text=True, timeout=60, cwd=str(tmp_path))
    assert out.returncode == 2 and "unexpected arguments '--bogus'" in out.stderr


def test_interrupted_join_says_what_still_runs(shell):
    p = shell
    run(p, "g = spawn(co.sleep, 60); 'id=%d' % g.minimal_ident", r"id=(\d+)")
    ident = p.match.group(1)
    p.expect(PROMPT)
    # The printer runs only once the main greenlet is parked in joinall.
    p.sendline("spawn(print, 'par' + 'ked'); joinall([g])")
    p.expect("parked")
    p.sendintr()
    p.expect(rf"1 greenlet you waited on is still running: %kill {ident} stops it")
    tb = plain(p.before)
    assert "KeyboardInterrupt" in tb and "greenlet.py" not in tb
    run(p, f"%kill {ident}", r"killed 1 greenlet\(s\)")
    exit_cleanly(p)


def test_monkey_thread_is_refused_and_the_shell_keeps_talking(shell):
    p = shell
    run(p, "%monkey thread", r"refused in an interactive session")
    run(p, "print('still' + 'here')", r"stillhere")
    run(p, "'r=%d' % 41 + '!'", r"r=41!")
    run(p, "import threading; threading.Lock.__module__ == '_thread' or 'x'", r"True")
    exit_cleanly(p)


def test_await_failing_greenlet_reports_once(shell):
    p = shell
    p.sendline("await spawn(lambda: 1/0)")
    p.expect(r"ZeroDivisionError: division by zero")
    p.expect(PROMPT)
    run(p, "'mark=%d' % 1", r"mark=1")
    text = plain(p.before)
    assert "ZeroDivisionError" not in text, text      # no second report came after the first
    exit_cleanly(p)


def test_ipython_habits(tmp_path, shell):
    p = shell
    run(p, "def f(a, b=2):\n    'Add them.'\n    return a + b\n", PROMPT)
    run(p, "f?", r"Signature: f\(a, b=2\)")
    p.expect("Add them")
    run(p, "f??", r"return a \+ b")
    run(p, "!echo hel''lo", r"hello")
    run(p, "xs = !printf 'a\\nb\\n'", PROMPT)
    run(p, "'xs=%r' % (xs,)", r"xs=\['a', 'b'\]")
    run(p, "%time sum(range(10))", r"CPU time: .*Wall time: ")
    p.expect(r"45")
    run(p, "%timeit 1 + 1", r"per loop \(mean ± std\. dev\. of 5 runs")
    run(p, "%help", r"obj\? / obj\?\?")
    p.send("%gre")
    p.send("\t")
    p.send("\r")
    p.expect(r"no live greenlets|\(\d+ live\)")
    run(p, "w = spawn(co.sleep, 30); w.name = 'sleeper'; co.sleep(0.01)", PROMPT)
    run(p, "%where sleeper", r"sleeper: waiting in sleep\(30\)")
    exit_cleanly(p)
