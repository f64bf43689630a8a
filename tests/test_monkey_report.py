"""The patch report: true for the user, the front end's internals apart."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers.monkey_run import ROOT, Batch

SCENARIOS = {"internal": """
import types, socket
fe = types.ModuleType("frontend_pkg.launcher"); fe.socket = socket.socket
sys.modules["frontend_pkg.launcher"] = fe
user = types.ModuleType("userlib"); user.socket = socket.socket
sys.modules["userlib"] = user
from coopshell import monkey
r = monkey.patch_all(internal_prefixes=("frontend_pkg",), hint="%monkey --fix rebinds them",
                     fix_references=True)
OUT["stale"] = [str(s) for s in r.stale]
OUT["internal"] = [str(s) for s in r.internal]
OUT["fe_untouched"] = fe.socket is monkey.get_original("socket", "socket")
OUT["text"] = str(r)
r2 = monkey.patch_all(internal_prefixes=("frontend_pkg",), hint="%monkey --fix rebinds them")
OUT["ok"] = r2.ok
OUT["text2"] = str(r2)
"""}


def test_front_end_internals_reported_apart():
    b = Batch(SCENARIOS)
    try:
        r = b.result("internal")
    finally:
        b.close()
    assert r["stale"] == [] and r["fe_untouched"]
    assert r["internal"] == ["frontend_pkg.launcher.socket -> original socket.socket"]
    assert "front end's own modules (frontend_pkg)" in r["text"]
    assert r["ok"] is True
    assert "-name: removed" in r["text"] and "no stale references" in r["text2"]


def test_runner_report_is_ok_for_a_clean_program(tmp_path):
    script = tmp_path / "clean.py"
    script.write_text("from coopshell import monkey\nprint(monkey.patch_all().ok)\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-m", "coopshell.monkey", str(script)],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
