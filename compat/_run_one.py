"""Child entry: ``python -m compat._run_one {alias|control} TARGET [ARGS...]``.

Runs one gevent test module (``gevent.tests.test__x``) or one example file as
``__main__``, in this fresh interpreter. ``alias`` first installs the gevent
alias and the adaptations (:mod:`compat._alias_boot`); ``control`` runs the
real gevent untouched. Unittest modules get ``-v`` so every case prints a
line the parent can count, even when the file is later killed by the time
limit; plain scripts get their argv untouched.
"""

from __future__ import annotations

import os
import runpy
import sys

__all__ = ["main"]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("alias", "control"):
        print("usage: python -m compat._run_one {alias|control} gevent.tests.test__x | FILE.py "
              "[ARGS...]", file=sys.stderr)
        return 2
    mode, target, rest = argv[0], argv[1], argv[2:]
    if mode == "alias":
        from compat import _alias_boot
        _alias_boot.install()
        print(f"[compat] alias: {_alias_boot.alias_kind()}", file=sys.stderr, flush=True)
    else:
        os.environ.pop("COOPSHELL_COMPAT_ALIAS", None)
    if target.endswith(".py"):  # an example script
        sys.argv = [target, *rest]
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, run_name="__main__")
    else:
        import importlib.util
        spec = importlib.util.find_spec(target)
        if spec is None or spec.origin is None:
            print(f"[compat] no module {target!r}", file=sys.stderr)
            return 2
        sys.argv = [spec.origin, *_verbose(spec.origin), *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    return 0


def _verbose(path: str) -> list[str]:
    """``["-v"]`` for a unittest module; nothing for a plain script, which
    may read its own argv (test__issue6 re-runs itself with one argument
    and exits on any other)."""
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except OSError:
        return ["-v"]
    return ["-v"] if any(w in source for w in ("unittest", "greentest", "main(")) else []


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
