"""``python -m coopshell.kernel -f CONNECTION_FILE``: the coopshell Jupyter kernel.

A thin entry point; the kernel lives in :mod:`coopshell.interactive.kernel`.
Importing this module imports ipykernel (``import coopshell`` does not).
"""

from __future__ import annotations

from .interactive.kernel import CoopKernel, CoopKernelApp, main

__all__ = ["CoopKernel", "CoopKernelApp", "main"]

if __name__ == "__main__":
    main()
