"""Smoke test of the gevent compatibility harness (compat/): its unittest parser on
real unittest runs, its time limit on a real hanging child,
and the results writer. gevent itself is not needed (the full harness is
``python -m compat``, run by hand)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT))
from compat import report  # noqa: E402
from compat.parse import normalize_cause, parse_unittest  # noqa: E402
from compat.run import run_child  # noqa: E402

CASES = textwrap.dedent("""
    import threading, unittest

    class T(unittest.TestCase):
        def test_a_ok(self):
            pass
        def test_b_ok(self):
            print("some output of its own", end="")
        def test_c_fail(self):
            self.assertEqual(1, 2, "boom at 0x7f00aa")
        def test_d_error(self):
            {}["missing key"]
        @unittest.skip("not here")
        def test_e_skip(self):
            pass
        def test_f_hang(self):
            if HANG:
                threading.Event().wait()

    HANG = False
    if __name__ == "__main__":
        import sys
        HANG = "--hang" in sys.argv
        sys.argv = [sys.argv[0], "-v"]
        unittest.main()
""")


def _module(tmp_path) -> Path:
    path = tmp_path / "cases_mod.py"
    path.write_text(CASES)
    return path


def _run(path, *args, timeout=120.0):
    return run_child([sys.executable, str(path), *args], cwd=path.parent,
                     env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}, timeout=timeout)


def _expected(path) -> dict:
    """The same module's counts as unittest's own result object gives them."""
    code = (f"import unittest, sys; sys.path.insert(0, {str(path.parent)!r}); import cases_mod;"
            "r = unittest.TextTestRunner(stream=open('/dev/null', 'w')).run("
            "unittest.defaultTestLoader.loadTestsFromModule(cases_mod));"
            "print('COUNTS', r.testsRun, len(r.failures), len(r.errors), len(r.skipped))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line = out.stdout[out.stdout.rindex("COUNTS"):]
    ran, failed, errors, skipped = map(int, line.split()[1:])
    return {"ran": ran, "failed": failed, "errors": errors, "skipped": skipped,
            "passed": ran - failed - errors - skipped}


def test_parser_counts_a_finished_run_like_unittest(tmp_path):
    path = _module(tmp_path)
    rc, timed_out, text, _ = _run(path)
    counts = parse_unittest(text, returncode=rc, timed_out=timed_out)
    expected = _expected(path)
    assert counts.finished and not timed_out
    assert {k: getattr(counts, k) for k in expected} == expected
    causes = [c[2] for c in counts.causes]
    assert any(c.startswith("AssertionError: 1 != 2") for c in causes), causes
    assert any(c.startswith("KeyError") for c in causes), causes
    assert not counts.ok


def test_time_limit_kills_a_hanging_file_and_counts_it_as_an_error(tmp_path):
    path = _module(tmp_path)
    rc, timed_out, text, _ = _run(path, "--hang", timeout=20.0)
    assert timed_out and rc is None
    counts = parse_unittest(text, returncode=rc, timed_out=timed_out)
    assert not counts.finished
    assert counts.passed == 2 and counts.failed == 1 and counts.skipped == 1
    assert counts.errors == 2  # test_d_error, and test_f_hang killed while running
    assert "test_f_hang" in counts.note
    assert counts.causes[-1][2].startswith("timed out")


def test_parser_reports_an_import_time_death_with_its_cause():
    text = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
            "    from gevent import util\n"
            "ImportError: cannot import name 'util' from 'coopshell' (/a/coopshell/__init__.py)\n")
    counts = parse_unittest(text, returncode=1, timed_out=False)
    assert counts.errors == 1 and counts.passed == 0 and not counts.ok
    assert counts.causes[0][2].startswith("ImportError: cannot import name 'util'")
    assert counts.causes[0][3] == "coopshell.util"  # the missing submodule


def test_normalize_cause_groups_messages_that_differ_only_in_numbers_and_addresses():
    a = normalize_cause("AssertionError: 3 != 4 at 0x7f12 in /tmp/a/b.py")
    b = normalize_cause("AssertionError: 10 != 11 at 0xdeadbeef in /var/x.py")
    assert a == b


def test_report_totals_cap_coopshell_at_the_cases_gevent_runs():
    def res(file, mode, ran, passed, failed=0, errors=0, skipped=0, finished=True, causes=()):
        return {"file": file, "mode": mode, "ran": ran, "passed": passed, "failed": failed,
                "errors": errors, "skipped": skipped, "finished": finished, "timed_out": False,
                "ok": finished and not failed and not errors, "seconds": 1.0,
                "causes": list(causes)}
    results = {"tests": [res("test__a.py", "alias", 5, 2, failed=3,
                             causes=[("c", "FAIL", "AssertionError: 1 != 2", "coopshell.event")] * 3),
                         res("test__a.py", "control", 5, 5),
                         res("test__b.py", "alias", 1, 0, errors=1, finished=False,
                             causes=[("(import)", "ERROR", "ImportError: x", "coopshell")]),
                         res("test__b.py", "control", 4, 3, skipped=1)],
               "examples": []}
    meta = {"elapsed": 1, "jobs": 1, "timeout": 1.0, "netns": False, "date": "d",
            "gevent": "g", "alias": "coopshell.monkey.alias_gevent"}
    tot = report.summarize(results, meta)
    assert tot["cases"] == 5 + 3 and tot["control"] == 8 and tot["alias"] == 2
    assert tot["alias_whole"] == 0 and tot["control_whole"] == 2
    ranked = report.rank_causes(results)
    assert ranked[0][1] == 3 and ranked[0][3] == "coopshell.event"
    # the import-time death of test__b loses the 3 cases gevent runs there
    assert [r for r in ranked if r[2] == "ImportError: x"][0][0] == 3
    assert "| test__a | 5 |" in report.render(results, meta)


def test_a_plain_script_keeps_its_argv_and_passes_on_exit_0_whatever_it_printed(tmp_path):
    from compat._run_one import _verbose

    script = tmp_path / "script.py"
    script.write_text("import sys\nprint('Traceback (most recent call last): expected')\n"
                      "sys.exit(0 if sys.argv[1:] == [] else 'bad args: %r' % sys.argv)\n")
    unit = _module(tmp_path)
    assert _verbose(str(script)) == [] and _verbose(str(unit)) == ["-v"]
    proc = subprocess.run([sys.executable, str(script), *_verbose(str(script))],
                          capture_output=True, text=True, timeout=60)
    counts = parse_unittest(proc.stdout + proc.stderr, returncode=proc.returncode, timed_out=False)
    assert proc.returncode == 0 and counts.ok and counts.passed == 1
