"""Run monkey-patching scenarios in fresh subprocesses, all at once.

Patching is process-global, so every scenario runs in its own interpreter.
A scenario is Python source that fills the dict ``OUT`` and returns
normally; the runner prints ``OUT`` as JSON on the last line. Starting a
whole batch in parallel keeps the wall time of the test module small.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

__all__ = ["PRELUDE", "Batch"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PRELUDE = """\
import json, os, sys, time
_mono = time.monotonic
OUT = {}

def timed(fn, n=8):
    import coopshell
    t0 = _mono()
    gs = [coopshell.spawn(fn, i) for i in range(n)]
    coopshell.joinall(gs, raise_error=True)
    return _mono() - t0, [g.value for g in gs]

"""

EPILOGUE = """
print("RESULT " + json.dumps(OUT, default=repr), flush=True)
"""


class Batch:
    """Start every scenario now; ``result(name)`` waits for one and returns
    its ``OUT`` dict (or fails with its stderr)."""

    def __init__(self, scenarios: dict[str, str], env: dict[str, str] | None = None,
                 cwd: str | None = None):
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
        full_env.update(env or {})
        self.procs = {}
        for name, code in scenarios.items():
            source = PRELUDE + textwrap.dedent(code) + EPILOGUE
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-c", source], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env=full_env, cwd=cwd)
        self.results: dict[str, tuple[int, str, str]] = {}

    def raw(self, name: str, timeout: float = 60) -> tuple[int, str, str]:
        if name not in self.results:
            proc = self.procs[name]
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                raise AssertionError(f"scenario {name!r} hung (killed after {timeout}s)\n"
                                     f"stdout:\n{out}\nstderr:\n{err}") from None
            self.results[name] = (proc.returncode, out, err)
        return self.results[name]

    def result(self, name: str, timeout: float = 60) -> dict:
        code, out, err = self.raw(name, timeout)
        lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        if code != 0 or not lines:
            raise AssertionError(f"scenario {name!r} failed (exit {code})\nstdout:\n{out}\n"
                                 f"stderr:\n{err}")
        res = json.loads(lines[-1][len("RESULT "):])
        res["_stderr"] = err
        return res

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
