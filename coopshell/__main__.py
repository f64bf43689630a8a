"""``python -m coopshell`` and the ``coopshell`` console script: start the coopshell shell."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the interactive shell (``coopshell.interactive.shell``) and exit with its status.
    ``coopshell attach ...`` runs ``coopshell.interactive.attach`` instead."""
    if sys.argv[1:2] == ["attach"]:
        from .interactive.attach import main as attach_main
        sys.exit(attach_main(sys.argv[2:]))
    from .interactive.shell import main as shell_main
    sys.exit(shell_main())


if __name__ == "__main__":
    main()
