"""``coopshell`` / ``python -m coopshell``: parse the command line and run the shell."""

from __future__ import annotations

import asyncio
import sys
from typing import Iterable

__all__ = ["main", "USAGE"]

USAGE = """\
usage: coopshell [--tag] [--version] [-h]

An interactive Python shell where coopshell greenlets keep running at the prompt.
Input that is not a terminal (a pipe, a file) is read like `python -i` reads it.

options:
  -h, --help   show this help and exit
  --version    print the coopshell version and exit
  --tag        start with %tag on: background greenlets' output lines start with
               [name] (also: COOPSHELL_TAG=1)

History: $COOPSHELL_HISTORY or ~/.coopshell_history. At the prompt, %help lists the magics."""


def main(argv: Iterable[str] | None = None) -> int:
    """Run the shell with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if args and args[0] in ("-V", "--version"):
        import coopshell
        print(f"coopshell {coopshell.__version__}")
        return 0
    tag = None
    if args and args[0] == "--tag":
        tag = True
        args = args[1:]
    if args:
        print(f"coopshell: unexpected arguments {' '.join(args)!r} (try --help)", file=sys.stderr)
        return 2
    from ..bridge import new_event_loop
    from .session import Shell

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    loop, selector = new_event_loop()
    asyncio.set_event_loop(loop)
    shell = Shell(interactive=interactive, selector=selector, tag=tag)
    try:
        code = loop.run_until_complete(shell.run())
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
    return code
