"""``python -m compat``: gevent's own tests and examples, under the alias and under gevent.

Each test file runs in its own subprocess (``python -m compat._run_one MODE
gevent.tests.test__x``) with a time limit, once with ``import gevent`` aliased
to coopshell and once on the real gevent (the control). Where ``unshare`` is
available every child gets its own network namespace holding only loopback:
fixed ports never collide between parallel runs, and nothing can reach past
127.0.0.1. Output is parsed by :mod:`compat.parse`, logs go to the cache
directory, and :mod:`compat.report` writes ``compat/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import examples, report, selection
from .env import GEVENT_VERSION, REPO, Env, cache_dir, ensure_env
from .parse import parse_unittest

__all__ = ["main", "run_child", "netns_available", "child_environ"]

MODES = ("alias", "control")
DEFAULT_TIMEOUT = 120.0
_NETNS: bool | None = None


def netns_available() -> bool:
    """Can children get a private network namespace (``unshare -n``, as root)?"""
    global _NETNS
    if _NETNS is None:
        try:
            _NETNS = subprocess.run(["unshare", "-n", "-m", "--", "true"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    timeout=20).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _NETNS = False
    return _NETNS


def in_netns(cmd: list[str]) -> list[str]:
    if not netns_available():
        return cmd
    return ["unshare", "-n", "-m", "--", "sh", "-c",
            'ip link set lo up 2>/dev/null || true; exec "$@"', "sh", *cmd]


def child_environ(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GEVENT", "COOPSHELL_COMPAT_ALIAS", "PYTHONPATH", "VIRTUAL_ENV"))}
    paths = [str(REPO)]
    if mode == "alias":
        paths.append(str(REPO / "compat" / "_site"))
        env["COOPSHELL_COMPAT_ALIAS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["GEVENTTEST_USE_RESOURCES"] = "-network"   # gevent's own switch: no Internet tests
    return env


def run_child(cmd: list[str], *, cwd: Path, env: dict, timeout: float,
              log_path: Path | None = None) -> tuple[int | None, bool, str, float]:
    """Run ``cmd`` in its own session; kill the whole group at the time limit.

    Returns (exit status or None, timed out?, output, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
    text = out.decode("utf-8", "replace")
    seconds = time.monotonic() - start
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(f"$ {' '.join(cmd)}\n# exit {proc.returncode} timed_out={timed_out} "
                            f"{seconds:.1f}s\n{text}")
    return (None if timed_out else proc.returncode), timed_out, text, seconds


def run_test_file(env: Env, mode: str, name: str, timeout: float, logs: Path) -> dict:
    module = "gevent.tests." + name.removesuffix(".py")
    cmd = in_netns([str(env.python), "-m", "compat._run_one", mode, module])
    rc, timed_out, text, seconds = run_child(cmd, cwd=env.tests_dir, env=child_environ(mode),
                                             timeout=timeout, log_path=logs / mode / f"{name}.log")
    counts = parse_unittest(text, returncode=rc, timed_out=timed_out)
    return {"file": name, "mode": mode, "seconds": round(seconds, 1), "rc": rc,
            "timed_out": timed_out, **counts.as_dict(), "ok": counts.ok}


def _parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m compat", description=__doc__.split("\n")[0])
    p.add_argument("--jobs", "-j", type=int, default=2, help="parallel children (default 2)")
    p.add_argument("--file", "-f", action="append", default=[], metavar="NAME",
                   help="only this test file (test__event or test__event.py) or example "
                        "(echoserver); repeatable")
    p.add_argument("--ci", action="store_true",
                   help="fast subset (compat/ci_files.txt) under the alias only; exit 1 on "
                        "any regression")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds per test file (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--mode", choices=MODES, action="append",
                   help="run only under the alias or only under gevent (default both)")
    p.add_argument("--no-examples", action="store_true")
    p.add_argument("--no-tests", action="store_true")
    p.add_argument("--from-logs", metavar="DIR", help="write the results again from a past "
                   "run's log directory (re-parsing its test logs), without running anything")
    p.add_argument("--write", metavar="PATH", help="where to write the results "
                   "(default compat/RESULTS.md for a full run, nothing otherwise)")
    return p.parse_args(argv)


def _select(env: Env, args) -> tuple[list[str], list[str]]:
    tests = selection.portable_tests(env.tests_dir)
    exs = list(examples.EXAMPLES)
    if args.ci:
        return selection.ci_files(), list(examples.CI_EXAMPLES)
    if args.file:
        want = {f.removesuffix(".py") for f in args.file}
        unknown = want - {t.removesuffix(".py") for t in tests} - set(exs)
        if unknown:
            excluded = {e.removesuffix(".py") for e in selection.EXCLUDED}
            why = [f"{u} (excluded: {selection.EXCLUDED[u + '.py']})" if u in excluded else u
                   for u in sorted(unknown)]
            raise SystemExit(f"python -m compat: unknown --file {', '.join(why)}; test files "
                             f"are named like test__event, examples like echoserver")
        tests = [t for t in tests if t.removesuffix(".py") in want]
        exs = [e for e in exs if e in want]
    return ([] if args.no_tests else tests), ([] if args.no_examples else exs)


def main(argv=None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    if args.jobs < 1:
        raise SystemExit(f"python -m compat: --jobs must be at least 1, got {args.jobs}")
    if args.from_logs:
        return _from_logs(Path(args.from_logs), args.write or str(REPO / "compat" / "RESULTS.md"))
    started = time.monotonic()
    env = ensure_env()
    modes = ("alias",) if args.ci else tuple(args.mode or MODES)
    tests, exs = _select(env, args)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logs = cache_dir() / "logs" / stamp
    print(f"compat: {len(tests)} test files, {len(exs)} examples, modes {'+'.join(modes)}, "
          f"jobs {args.jobs}, netns {'yes' if netns_available() else 'no'}; logs in {logs}",
          file=sys.stderr)
    jobs = [("test", m, t) for t in tests for m in modes] + \
           [("example", m, e) for e in exs for m in modes]
    results = {"tests": [], "examples": []}

    def work(job):
        kind, mode, name = job
        if kind == "test":
            return kind, run_test_file(env, mode, name, args.timeout, logs)
        return kind, examples.run_example(env, mode, name, logs)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for kind, res in pool.map(work, jobs):
            results["tests" if kind == "test" else "examples"].append(res)
            mark = "ok" if res["ok"] else ("TIMEOUT" if res.get("timed_out") else "FAIL")
            detail = (f"{res['passed']}/{res['ran']} passed" if kind == "test"
                      else res.get("note", ""))
            print(f"  [{res['mode']:7}] {res['file']:45} {mark:7} {detail} "
                  f"({res['seconds']}s)", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started
    meta = {"elapsed": round(elapsed), "jobs": args.jobs, "timeout": args.timeout,
            "netns": netns_available(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "gevent": GEVENT_VERSION, "excluded": selection.EXCLUDED,
            "alias": _alias_kind(env)}
    record = json.dumps({"meta": meta, **results}, indent=1)
    (cache_dir() / "last-run.json").write_text(record)
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "run.json").write_text(record)
    if args.ci:
        bad = [r for r in results["tests"] + results["examples"] if not r["ok"]]
        for r in bad:
            print(f"compat --ci: REGRESSION {r['file']}: {r.get('note') or ''} "
                  f"{r.get('failed', 0)} failed, {r.get('errors', 0)} errors; see "
                  f"{logs / r['mode']}", file=sys.stderr)
        n = len(results["tests"]) + len(results["examples"])
        print(f"compat: {n - len(bad)} passed, {len(bad)} failed")
        print(f"compat --ci: {elapsed:.0f}s", file=sys.stderr)
        return 1 if bad else 0
    target = args.write or (None if (args.file or args.mode) else str(REPO / "compat" / "RESULTS.md"))
    summary = report.summarize(results, meta)
    print(summary["headline"])
    if target:
        Path(target).write_text(report.render(results, meta))
        print(f"compat: wrote {target}", file=sys.stderr)
    return 0


def reparse_log(path: Path, mode: str) -> dict:
    """A test result rebuilt from its log (``$ cmd`` / ``# exit RC timed_out=B Ss`` / output)."""
    head, status, text = path.read_text().split("\n", 2)
    fields = status.split()
    rc = None if fields[2] == "None" else int(fields[2])
    timed_out = fields[3] == "timed_out=True"
    counts = parse_unittest(text, returncode=rc, timed_out=timed_out)
    return {"file": path.name.removesuffix(".log"), "mode": mode,
            "seconds": float(fields[4].rstrip("s")), "rc": rc, "timed_out": timed_out,
            **counts.as_dict(), "ok": counts.ok}


def _from_logs(logs: Path, target: str) -> int:
    record = json.loads((logs / "run.json").read_text())
    keep = set(selection.portable_tests(Path(ensure_env().tests_dir)))
    tests = [reparse_log(p, mode) for mode in MODES for p in sorted((logs / mode).glob("*.py.log"))
             if p.name.removesuffix(".log") in keep]
    results = {"tests": tests, "examples": record["examples"]}
    meta = dict(record["meta"], excluded=selection.EXCLUDED, gevent=GEVENT_VERSION)
    print(report.summarize(results, meta)["headline"])
    Path(target).write_text(report.render(results, meta))
    print(f"compat: wrote {target} from {logs}", file=sys.stderr)
    return 0


def _alias_kind(env: Env) -> str:
    code = ("import compat._alias_boot as b; b.install(); print(b.alias_kind())")
    out = subprocess.run([str(env.python), "-c", code], env=child_environ("alias"),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return out.stdout.strip() or "unknown"
