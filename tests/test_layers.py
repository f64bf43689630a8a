"""Imports point down: each layer imports alone, without any layer above it.

core (``coopshell/_core``) <- sync (greenlet, timeout, event, lock, queue,
pool, local) <- io (socket, ssl, select, ..., threadpool, server, pywsgi) <-
monkey <- entry points (``coopshell.gunicorn``: patch, then serve) and
interactive. Each module is imported in a fresh interpreter, and
``sys.modules`` is checked for anything from a higher layer, the interactive
package, and the front-end and comparison packages.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE = ["coopshell._core.loop", "coopshell._core.hub", "coopshell._core.waiter", "coopshell._core.io_wait",
        "coopshell._core.exceptions", "coopshell._core._timers", "coopshell._core._poll",
        "coopshell._core.sigint"]
SYNC = ["coopshell.greenlet", "coopshell._worker", "coopshell._wait", "coopshell.timeout",
        "coopshell.event", "coopshell.lock", "coopshell.queue", "coopshell._queue_wait", "coopshell._channel",
        "coopshell.pool", "coopshell.local"]
IO = ["coopshell.socket", "coopshell.ssl", "coopshell.select", "coopshell.selectors", "coopshell.os",
      "coopshell.subprocess", "coopshell.threadpool", "coopshell.resolver", "coopshell.server",
      "coopshell.signal", "coopshell.hub", "coopshell.core", "coopshell.pywsgi"]
#: Entry points: above monkey (they may patch), beside interactive; nothing below imports them.
ENTRY = ["coopshell.gunicorn"]
ALWAYS_FORBIDDEN = ["prompt_toolkit", "IPython", "ipykernel", "zmq", "gevent", "eventlet"]


def _higher(layer: list[str]) -> list[str]:
    order = [CORE, SYNC, IO]
    above = [m for group in order[order.index(layer) + 1:] for m in group]
    return above + ["coopshell.monkey", "coopshell._monkey", "coopshell.interactive"] + ENTRY


def _loaded_by(module: str) -> list[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _check(module: str, forbidden: list[str]) -> None:
    loaded = _loaded_by(module)
    bad = [m for m in loaded for f in forbidden if m == f or m.startswith(f + ".")]
    assert not bad, f"importing {module} loaded {bad}"


@pytest.mark.parametrize("module", CORE)
def test_core_imports_alone(module):
    _check(module, _higher(CORE) + ALWAYS_FORBIDDEN)


@pytest.mark.parametrize("module", SYNC)
def test_sync_layer_imports_without_io(module):
    _check(module, _higher(SYNC) + ALWAYS_FORBIDDEN)


@pytest.mark.parametrize("module", IO)
def test_io_layer_imports_without_monkey_or_interactive(module):
    _check(module, ["coopshell.monkey", "coopshell._monkey", "coopshell.interactive", "gunicorn"]
           + ENTRY + ALWAYS_FORBIDDEN)


@pytest.mark.parametrize("module", ENTRY)
def test_entry_points_import_without_interactive(module):
    pytest.importorskip("gunicorn")
    _check(module, ["coopshell.interactive"] + ALWAYS_FORBIDDEN)


def test_nothing_in_the_package_imports_an_entry_point():
    # Lazy imports included: no module of coopshell names an entry point.
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "coopshell"
    bad = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_pkg = parts[-1] == "__init__"
        rel = ".".join(parts[:-1] if is_pkg else parts)
        package = rel if is_pkg else rel.rsplit(".", 1)[0]
        if rel in ENTRY:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{pkg}.{base}" if base else pkg
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            bad += [f"{rel} imports {n}" for n in names if n in ENTRY]
    assert not bad, bad


def test_import_coopshell_is_the_core_only():
    _check("coopshell", SYNC + IO + ["coopshell.monkey", "coopshell._monkey", "coopshell.interactive"]
           + ENTRY + ALWAYS_FORBIDDEN)


def test_engine_modules_form_no_import_cycle():
    # Every import inside coopshell/_core, at any depth (lazy ones included), points
    # to a module that does not import back: a topological order exists.
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "coopshell" / "_core"
    graph: dict[str, set[str]] = {}
    for path in root.glob("*.py"):
        name = path.stem
        deps = set()
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for block in ast.walk(tree)
                       if isinstance(block, ast.If) and getattr(block.test, "id", None) == "TYPE_CHECKING"
                       for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue  # annotations only: never executed
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name for a in node.names)
        graph[name] = deps & {p.stem for p in root.glob("*.py")}
    done: set[str] = set()

    def visit(n: str, stack: tuple[str, ...]) -> None:
        assert n not in stack, f"import cycle: {' -> '.join(stack + (n,))}"
        if n in done:
            return
        for d in graph[n]:
            visit(d, stack + (n,))
        done.add(n)

    for n in graph:
        visit(n, ())
