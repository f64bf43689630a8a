"""Smoke test of the benchmark runner: one tiny round of every scenario on
coopshell, each in its own worker process, ending in a markdown table."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT))
from bench import scenarios  # noqa: E402


def _run(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_runner_prints_a_row_per_scenario_metric(tmp_path):
    out_md = tmp_path / "RESULTS.md"
    proc = _run("bench", "--size", "smoke", "--rounds", "1", "--impl", "coopshell",
                "--write", str(out_md), "--date", "2000-01-02")
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
            if name == "queue_pingpong" and cells[4] == "n/a":
                continue  # coopshell.queue may not exist yet
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
