"""The coopshell shell: a Python prompt where greenlets keep running.

``coopshell`` (or ``python -m coopshell``) starts a prompt_toolkit
``PromptSession`` on an asyncio loop built on the bridge's selector
(:mod:`coopshell.interactive.bridge`), so background greenlets run while you
are idle or typing, and their output is printed above the prompt
(``patch_stdout``), never inside the line being edited.

- :mod:`.session`: the session (running input, Ctrl-C, setup/teardown);
- :mod:`.compile`: is the input complete, and its code objects;
- :mod:`.completion`: Tab completion of names, attributes and magics;
- :mod:`.habits`: ``obj?``, ``!cmd``, ``%time``, ``%timeit``;
- :mod:`.main`: the command line (``--version``, piped input).
"""

from __future__ import annotations

from ..errors import ErrorReporter
from .main import main
from .session import DEFAULT_HISTORY, HISTORY_ENV, Shell

__all__ = ["Shell", "ErrorReporter", "main", "HISTORY_ENV", "DEFAULT_HISTORY"]
