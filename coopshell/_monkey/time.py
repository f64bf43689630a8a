"""What ``patch_time`` installs in ``time``: the cooperative ``sleep``."""

from __future__ import annotations

from .._core.hub import sleep

__all__ = ["sleep"]

#: Stdlib names this module replaces.
__implements__ = ["sleep"]
