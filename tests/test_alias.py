"""The gevent alias: ``import gevent`` gives coopshell's very modules."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from helpers.monkey_run import ROOT

PROGRAM = """
import sys
import gevent, gevent.socket, gevent.monkey
import coopshell, coopshell.socket
from gevent import sleep, spawn, joinall
assert gevent is coopshell and gevent.socket is coopshell.socket, (gevent, gevent.socket)
assert gevent.socket.__spec__.name == "coopshell.socket"
out = []
joinall([spawn(lambda i=i: (sleep(0.01 * i), out.append(i))) for i in range(3)])
try:
    import gevent.no_such_module_here
except ImportError as e:
    missing = str(e)
print("OK", out, gevent.monkey.is_anything_patched(), "coopshell" in missing, sys.argv[1:])
"""


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_runner_gevent_script(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(PROGRAM))
    out = subprocess.run([sys.executable, "-m", "coopshell.monkey", "--gevent", str(script), "a"],
                         capture_output=True, text=True, timeout=60, env=_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK [0, 1, 2] True True ['a']"


def test_passthrough_loads_real_files_and_real_gevent_needs_consent(tmp_path):
    real = tmp_path / "site" / "gevent"
    (real / "testing").mkdir(parents=True)
    (real / "__init__.py").write_text("raise RuntimeError('the real gevent must not load')\n")
    (real / "testing" / "__init__.py").write_text("import gevent\nHUB = gevent.get_hub\n")
    code = textwrap.dedent("""
        import sys
        from coopshell import monkey
        try:
            monkey.alias_gevent()
        except monkey.MonkeyPatchError as e:
            print("refused", "shadow_installed=True" in str(e))
        monkey.alias_gevent(shadow_installed=True, passthrough=["gevent.testing"])
        import gevent.testing, coopshell
        print(gevent.testing.__file__.startswith(sys.path[0]), gevent.testing.HUB is coopshell.get_hub)
    """)
    env = _env()
    env["PYTHONPATH"] = str(tmp_path / "site") + os.pathsep + env["PYTHONPATH"]
    out = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r})\n" + code],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["refused", "True", "True", "True"]


def test_python_m_through_the_alias_runs_the_coopshell_module(tmp_path):
    # `python -m gevent.monkey script.py`: runpy asks the alias's loader for
    # the code of gevent.monkey.__main__ (it had no get_code: ImportError).
    script = tmp_path / "prog.py"
    script.write_text("import threading, sys\n"
                      "print(threading.Lock.__module__ != '_thread', sys.argv[1:])\n")
    code = textwrap.dedent(f"""
        import runpy, sys
        import coopshell.monkey
        coopshell.monkey.alias_gevent(shadow_installed=True)   # a bench venv has the real gevent
        sys.argv = ["gevent.monkey", {str(script)!r}, "x"]
        runpy.run_module("gevent.monkey", run_name="__main__", alter_sys=True)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True ['x']"
