"""Smoke test of the benchmark runner: one tiny round of every scenario on
coopshell, each in its own worker process, ending in a markdown table; and
the ``--baseline REV`` column, which measures coopshell at another commit.

No timed assertions: only that every measurement produced a number."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT))
from bench import scenarios  # noqa: E402


# Variants coopshell may lack in the tree under test: shown as n/a, not a number.
MAY_BE_NA = {("queue_pingpong", "µs/round trip"),        # coopshell.queue may not exist yet
             ("dns_sweep", "s total, dnspython resolver"),  # coopshell.resolver.dnspython
             ("dns_sweep", "s total, ares resolver"),       # coopshell.resolver.ares
             ("shell_startup", "s to prompt, ptpython")}    # ptpython: bench extra only


def _run(*args, timeout=60, env=None):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_runner_prints_a_row_per_scenario_metric(tmp_path):
    out_md = tmp_path / "RESULTS.md"
    proc = _run("bench", "--size", "smoke", "--rounds", "1", "--impl", "coopshell",
                "--write", str(out_md), "--date", "2000-01-02", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [ln for ln in proc.stdout.splitlines() if ln.startswith("| ")]
    assert rows[0].startswith("| scenario | metric | better | implementation | median")
    number = r"\d+(\.\d+)?"
    for name in scenarios.names():
        for metric in scenarios.load(name).METRICS:
            row = [r for r in rows if r.startswith(f"| {name} | {metric.unit} |")]
            assert len(row) == 1, (name, metric, rows)
            cells = [c.strip() for c in row[0].strip("|").split("|")]
            assert cells[3] == "coopshell"
            if (name, metric.unit) in MAY_BE_NA and cells[4] == "n/a":
                continue
            assert re.fullmatch(number, cells[4]), row
    # gevent was not run, so no ratio can be given
    assert all(r.endswith("| — |") for r in rows[2:])
    text = out_md.read_text()
    assert "2000-01-02" in text and "| spawn_join | µs/greenlet |" in text
    assert "greenlet " in text and "gevent " in text


def test_worker_prints_one_json_line_and_loads_only_its_implementation():
    params = json.dumps(scenarios.load("event_pingpong").PARAMS["smoke"])
    proc = _run("bench.worker", "event_pingpong", "coopshell", params, timeout=30)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result) == {"metrics"}, result
    assert result["metrics"]["us_per_roundtrip"] > 0


@pytest.mark.parametrize("args, message", [
    (["--scenario", "nope"], "unknown scenario 'nope'"),
    (["--impl", "twisted"], "unknown implementation 'twisted'"),
    (["--rounds", "0"], "--rounds must be >= 1"),
])
def test_bad_arguments_are_refused(args, message, capsys):
    from bench.run import main
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_baseline_adds_a_column_for_coopshell_at_that_commit(tmp_path):
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                         text=True, check=True).stdout.strip()
    out_md = tmp_path / "RESULTS.md"
    proc = _run("bench", "--size", "smoke", "--rounds", "2", "--impl", "coopshell",
                "--scenario", "event_pingpong", "--scenario", "tcp_echo_subprocess",
                "--baseline", "HEAD", "--write", str(out_md), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tree = ROOT / "bench" / "out" / f"baseline-{sha[:12]}" / "tree"
    head = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert head == sha
    rows = [ln for ln in proc.stdout.splitlines() if ln.startswith("| ")]
    assert rows[0].endswith("| ÷ gevent | ÷ coopshell@HEAD |"), rows[0]
    for name in ("event_pingpong", "tcp_echo_subprocess"):
        ours = [r for r in rows if r.startswith(f"| {name} |") and "| coopshell |" in r]
        before = [r for r in rows if r.startswith(f"| {name} |") and "| coopshell@HEAD |" in r]
        assert len(ours) == len(before) == 1, rows
        assert re.fullmatch(r"\d+(\.\d+)?×", ours[0].strip("|").split("|")[-1].strip()), ours
        assert re.fullmatch(r"\d+(\.\d+)?", before[0].strip("|").split("|")[4].strip()), before
        # the round-by-round log shows both columns interleaved, twice
        log = [ln for ln in proc.stderr.splitlines() if f"] {name} round" in ln]
        order = [re.search(r"round \d+/\d+ (\S+):", ln).group(1) for ln in log]
        assert order == ["coopshell", "coopshell@HEAD"] * 2, log
    assert re.search(r"event_pingpong .*after ÷ before \d", proc.stdout), proc.stdout
    assert f"--baseline HEAD" in out_md.read_text()


def test_baseline_that_names_no_commit_is_refused():
    proc = _run("bench", "--size", "smoke", "--impl", "coopshell", "--scenario",
                "event_pingpong", "--baseline", "no-such-rev-xyz")
    assert proc.returncode == 2
    assert "--baseline 'no-such-rev-xyz': not a commit" in proc.stderr


def test_worker_refuses_to_report_a_coopshell_from_the_wrong_checkout(tmp_path):
    # The worker is told to measure the checkout in tmp_path, but its sys.path
    # finds the working tree's coopshell: that must be an error, not a number.
    params = json.dumps(scenarios.load("event_pingpong").PARAMS["smoke"])
    env = dict(os.environ, BENCH_COOPSHELL_PATH=str(tmp_path))
    proc = _run("bench.worker", "event_pingpong", "coopshell@elsewhere", params, env=env,
                timeout=30)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result) == {"error"}, result
    assert f"expected {tmp_path}{os.sep}coopshell" in result["error"]


def test_precompile_writes_bytecode_even_when_the_environment_forbids_it(tmp_path):
    # The runner compiles coopshell once (as pip does for an installed
    # package), so fresh interpreters load .pyc files like gevent's and do
    # not compile coopshell from source in every measurement.
    pkg = tmp_path / "coopshell"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("X = 1\n")
    (pkg / "mod.py").write_text("Y = 2\n")
    code = ("import sys; from pathlib import Path; from bench.run import precompile; "
            f"assert sys.dont_write_bytecode; precompile(Path({str(tmp_path)!r}))")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name.split(".")[0] for p in (pkg / "__pycache__").iterdir())
    assert written == ["__init__", "mod"]
