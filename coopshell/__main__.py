"""``python -m coopshell``: start the coopshell shell (the demo until the shell lands)."""

from __future__ import annotations


def main() -> None:
    from .demo import main as demo_main
    demo_main()


if __name__ == "__main__":
    main()
