"""The cached throwaway venv that holds gevent's test files and examples.

gevent's files are never part of this repository: the pinned wheel (it ships
``gevent/tests`` and ``gevent/testing``) is installed into a venv under
``~/.cache/coopshell-compat/`` (``COOPSHELL_COMPAT_CACHE`` moves it), with what
gevent's tests import and coopshell installed editable from this checkout; the
sdist gives ``examples/``. A stamp file makes later runs reuse both.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

__all__ = ["GEVENT_VERSION", "TEST_DEPS", "Env", "cache_dir", "ensure_env", "REPO"]

GEVENT_VERSION = "26.9.0"
#: What gevent's tests and examples import besides gevent itself.
TEST_DEPS = ("zope.interface", "zope.event", "psutil", "objgraph", "requests")
REPO = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    return Path(os.environ.get("COOPSHELL_COMPAT_CACHE")
                or Path.home() / ".cache" / "coopshell-compat")


@dataclasses.dataclass(frozen=True)
class Env:
    python: Path          # the venv's interpreter
    gevent_dir: Path      # the installed real gevent package
    examples_dir: Path    # examples/ from the sdist (read-only; runs use temp copies)

    @property
    def tests_dir(self) -> Path:
        return self.gevent_dir / "tests"


def _run(cmd: list[str], log) -> None:
    log("  $ " + " ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"setting up the compat venv failed ({proc.returncode}): "
                           f"{' '.join(cmd)}\n{proc.stdout[-3000:]}")


def _stamp() -> dict:
    return {"gevent": GEVENT_VERSION, "deps": list(TEST_DEPS), "repo": str(REPO),
            "python": sys.version.split()[0], "base": sys.base_prefix}


def ensure_env(log=lambda msg: print(msg, file=sys.stderr)) -> Env:
    """Create (or reuse) the venv and the unpacked examples; returns where they are."""
    root = cache_dir()
    tag = f"gevent{GEVENT_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}"
    venv, examples = root / f"venv-{tag}", root / f"examples-{GEVENT_VERSION}"
    python = venv / "bin" / "python"
    stamp_file = venv / "compat-stamp.json"
    try:
        fresh = json.loads(stamp_file.read_text()) == _stamp()
    except (OSError, ValueError):
        fresh = False
    if not fresh:
        log(f"compat: building the venv {venv} (gevent {GEVENT_VERSION}; once, then cached)")
        shutil.rmtree(venv, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
        base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        _run([str(base if base.exists() else sys.executable), "-m", "venv", str(venv)], log)
        _run([str(python), "-m", "pip", "install", "-q", f"gevent=={GEVENT_VERSION}",
              *TEST_DEPS], log)
        _run([str(python), "-m", "pip", "install", "-q", "-e", str(REPO)], log)
        stamp_file.write_text(json.dumps(_stamp()))
    if not (examples / "examples").is_dir():
        sdist_dir = root / "sdist"
        sdists = glob.glob(str(sdist_dir / f"gevent-{GEVENT_VERSION}.tar.gz"))
        if not sdists:
            log(f"compat: fetching the gevent {GEVENT_VERSION} sdist for examples/")
            _run([str(python), "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                  "-d", str(sdist_dir), f"gevent=={GEVENT_VERSION}"], log)
            sdists = glob.glob(str(sdist_dir / f"gevent-{GEVENT_VERSION}.tar.gz"))
        tmp = examples.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        prefix = f"gevent-{GEVENT_VERSION}/examples/"
        with tarfile.open(sdists[0]) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix) and
                       (m.isfile() or m.isdir())]
            for m in members:
                m.name = "examples/" + m.name[len(prefix):]
            tar.extractall(tmp, members=members, filter="data")
        shutil.rmtree(examples, ignore_errors=True)
        tmp.rename(examples)
    out = subprocess.run([str(python), "-c", "import importlib.util as u;"
                          "print(u.find_spec('gevent').submodule_search_locations[0])"],
                         stdout=subprocess.PIPE, text=True, check=True)
    return Env(python=python, gevent_dir=Path(out.stdout.strip()),
               examples_dir=examples / "examples")
