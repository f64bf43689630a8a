"""``python -m coopshell.monkey``: patch, then run a program as ``__main__``.

::

    python -m coopshell.monkey [options] script.py [args...]
    python -m coopshell.monkey [options] -m package.module [args...]

This module holds no stdlib object, so running it as ``__main__`` leaves
nothing for the stale-reference scan to find: a clean program gets a
report with ``ok`` true.
"""

from __future__ import annotations

import sys
from typing import Any

from .alias import alias_gevent
from .patching import patch_all
from .table import NAMES

__all__ = ["main"]

USAGE = f"""usage: python -m coopshell.monkey [options] (script.py | -m/--module module) [args...]

Patch the stdlib for coopshell, then run the program as __main__.
options:
  --no-NAME          do not patch NAME ({', '.join(NAMES)}, aggressive)
  --NAME             patch NAME even where the default would not (thread, queue)
  --fix-references   rebind module globals still holding originals
  --gevent           make `import gevent` (and gevent.X) load coopshell's modules
  --attachable       serve `coopshell attach PID` while the program runs (a 0600 Unix socket)
  --verbose          print the patch report to stderr first"""


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), patch, run; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    flags: dict[str, Any] = {}
    opts = {"verbose": False, "gevent": False, "attachable": False}
    module_name = None
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt in ("-m", "--module"):  # --module: gevent's runner's spelling
            if not args:
                return _usage(f"{opt} needs a module name")
            module_name = args.pop(0)
            break
        if opt in ("-h", "--help"):
            print(USAGE)
            return 0
        error = _option(opt, flags, opts)
        if error:
            return _usage(error)
    if module_name is None and not args:
        return _usage("no script or -m module given")
    if opts["gevent"]:
        alias_gevent(shadow_installed=True)  # --gevent is the user asking for it
    report = patch_all(**flags)
    if opts["verbose"]:
        print(report, file=sys.stderr)
    if opts["attachable"]:
        from ..backdoor import listen
        server = listen()
        try:
            _run(module_name, args)
        finally:
            server.close()
    else:
        _run(module_name, args)
    return 0


def _option(opt: str, flags: dict[str, Any], opts: dict[str, bool]) -> str | None:
    """Record one option; returns an error message for an unknown one."""
    if opt[2:] in opts and opt.startswith("--"):
        opts[opt[2:]] = True
    elif opt == "--fix-references":
        flags["fix_references"] = True
    elif opt.startswith("--no-") and opt[5:] in NAMES + ("aggressive",):
        flags[opt[5:]] = False
    elif opt.startswith("--") and opt[2:] in NAMES:
        flags[opt[2:]] = True
    else:
        return f"unknown option {opt!r}"
    return None


def _run(module_name: str | None, args: list[str]) -> None:
    import os
    import runpy
    if module_name is not None:
        sys.argv[:] = [module_name] + args
        runpy.run_module(module_name, run_name="__main__", alter_sys=True)
    else:
        sys.argv[:] = args
        sys.path[0] = os.path.dirname(os.path.abspath(args[0]))
        runpy.run_path(args[0], run_name="__main__")


def _usage(message: str) -> int:
    print(f"coopshell.monkey: {message}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
