"""The coopshell kernel as a newcomer meets it (issue 13): `install` with ipykernel's
flags, trimmed tracebacks, one report per awaited failure, the hint after an interrupted
join, the %monkey report, %help and the predefined names. Driven through jupyter_client."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from _kernel_util import Kernel, kernel_env
from test_kernel import _interrupt

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def k():
    kernel = Kernel("coopshell")
    yield kernel
    kernel.close()


def _tb(result) -> str:
    return _ANSI.sub("", "\n".join(result.reply["content"].get("traceback", [])))


def test_install_writes_a_spec_that_starts_coopshell(tmp_path):
    out = subprocess.run([sys.executable, "-m", "coopshell.kernel", "install", "--prefix",
                          str(tmp_path), "--name", "coop-x", "--display-name", "Coop X"],
                         capture_output=True, text=True, timeout=60, env=kernel_env())
    assert out.returncode == 0, out.stderr
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "coop-x"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["argv"] == [sys.executable, "-m", "coopshell.kernel", "-f", "{connection_file}"]
    assert spec["display_name"] == "Coop X"
    assert f"Installed kernelspec coop-x (Coop X) in {spec_dir}" in out.stdout
    # a Jupyter that looks there starts the coopshell kernel
    km = KernelManager(kernel_name="coop-x",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir.parent)]))
    km.start_kernel(env=kernel_env())
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        info = kc.kernel_info(reply=True, timeout=30)
        assert info["content"]["implementation"] == "coopshell"
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)


def test_install_help_and_flags(tmp_path):
    out = subprocess.run([sys.executable, "-m", "coopshell.kernel", "install", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for flag in ("--user", "--prefix", "--sys-prefix", "--name", "--display-name"):
        assert flag in out.stdout
    assert "coopshell" in out.stdout and "IPython" not in out.stdout
    out = subprocess.run([sys.executable, "-m", "coopshell.kernel", "install", "--user",
                          "--prefix", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "not allowed with" in out.stderr
    out = subprocess.run([sys.executable, "-m", "coopshell.kernel", "install", "--prefix",
                          str(tmp_path), "--name", "bad name!"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1 and "kernel name must be" in out.stderr


def test_predefined_names_and_help(k):
    assert k.ok("(co.__name__, spawn is co.spawn, joinall is co.joinall, sleep is co.sleep)").text \
        == "('coopshell', True, True, True)"
    r = k.ok("%help")
    for name in ("%monkey", "%greenlets", "%where", "%kill", "%joinall", "%blocking"):
        assert name in r.stream()


def test_interrupted_joinall_traceback_is_trimmed_and_says_what_runs(k):
    # The printer runs only once the main greenlet is parked in joinall.
    reply, _ = _interrupt(k, "g = spawn(sleep, 60)\nspawn(print, 'wait' + 'ing', flush=True)\n"
                             "joinall([g])", "waiting")
    tb = _ANSI.sub("", "\n".join(reply["content"]["traceback"]))
    assert "KeyboardInterrupt" in tb and "joinall([g])" in tb
    assert "greenlet.py" not in tb and "hub.py" not in tb, tb
    ident = k.ok("g.minimal_ident").text
    hint = "".join(m["content"]["text"] for m in k.iopub if m["msg_type"] == "stream"
                   and m["parent_header"]["msg_id"] == reply["parent_header"]["msg_id"])
    assert f"1 greenlet you waited on is still running: %kill {ident} stops it" in hint
    k.ok("g.kill()")


def test_error_in_blocking_call_is_trimmed(k):
    r = k.execute("slow = spawn(sleep, 5)\nslow.get(timeout=0.05)")
    tb = _tb(r)
    assert r.ename == "Timeout" and "slow.get(timeout=0.05)" in tb
    assert "greenlet.py" not in tb and "coopshell/" not in tb, tb
    k.ok("slow.kill()")


def test_await_failing_greenlet_reports_once(k):
    r = k.execute("await spawn(lambda: 1/0)")
    assert r.ename == "ZeroDivisionError"
    assert "ZeroDivisionError" not in r.stream("stderr"), r.stream("stderr")
    assert _tb(r).count("ZeroDivisionError: division by zero") == 1


def test_monkey_report_keeps_the_kernels_modules_apart(k):
    try:
        r = k.ok("%monkey")
        text = r.stream()
        user_part = text.split("stay blocking on purpose")[0]
        for internal in ("ipykernel.", "jupyter_client.", "_pydevd_bundle", "tornado.", "zmq."):
            assert f"  {internal}" not in user_part, text
        assert "patch_all(fix_references=True)" not in text
        assert "%monkey --fix" in text or "no stale references" in text
    finally:
        k.ok("%monkey off")
