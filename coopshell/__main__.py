"""``python -m coopshell`` and the ``coopshell`` console script.

``coopshell`` starts the interactive shell; ``coopshell SUBCOMMAND …`` runs a
subcommand (``coopshell attach …`` when :mod:`coopshell.interactive.attach`
is installed). Everything else (``--version``, ``--help``, bad arguments) is
the shell's to answer.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["main", "SUBCOMMANDS"]

#: subcommand -> module with a ``main(argv) -> int``; imported only when used.
SUBCOMMANDS = {"attach": "coopshell.interactive.attach"}


def main() -> None:
    """Dispatch to a subcommand or run the shell; exit with its status."""
    argv = sys.argv[1:]
    if argv and argv[0] in SUBCOMMANDS:
        try:
            mod = importlib.import_module(SUBCOMMANDS[argv[0]])
        except ImportError as exc:
            print(f"coopshell {argv[0]}: not available ({exc})", file=sys.stderr)
            sys.exit(2)
        sys.exit(mod.main(argv[1:]))
    from .interactive.shell.main import main as shell_main
    sys.exit(shell_main(argv))


if __name__ == "__main__":
    main()
