"""Interactive front ends: the asyncio bridge, the magics, the coopshell shell,
the Jupyter kernel and the IPython extension.

Importing this package imports nothing heavy; each front end is its own module
(``bridge`` needs asyncio only; ``shell`` needs prompt_toolkit; ``kernel``
needs ipykernel).
"""

from __future__ import annotations

__all__: list[str] = []
