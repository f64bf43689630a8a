"""Monkey patching: make the stdlib cooperate, late, reversibly, with a report.

Like gevent's ``gevent.monkey``, patching replaces attributes of the stdlib
module objects (``socket.socket``, ``time.sleep``, ``threading.Lock``…) with
the coopshell implementations, so code that looks them up through the module
cooperates. Each coopshell io module names what it replaces in its
``__implements__`` list; this package patches exactly those names.

Differs from gevent:

- ``unpatch(*names)`` / ``unpatch_all()`` put back the very same original
  objects (identity is preserved).
- ``stale_references()`` lists the loaded modules whose globals still hold an
  original (``from socket import create_connection`` done before patching):
  those calls stay blocking. ``patch_all()`` rebinds the ones in stdlib
  modules (``socketserver._ServerSelector``…), ``patch_all(fix_references=True)``
  all of them, and ``unpatch`` rebinds them back.
- Objects made before patching keep working: the original classes' methods
  that look their own class up by global name keep seeing the original
  (``ssl.SSLContext``'s setters would otherwise recurse forever).
- ``patch_all()`` returns a :class:`PatchReport`: what was patched, what was
  skipped and why, warnings, stale references. ``print(report)`` reads well.
- In an interactive session (a REPL, IPython, a Jupyter kernel, the coopshell
  shell) ``patch_all()`` leaves ``threading`` (and ``queue``) alone unless
  ``thread=True`` is passed: the front end's own threads need real locks.
- Patching from a thread other than the main thread raises
  :class:`MonkeyPatchError`; a misspelt patch name raises ``TypeError``,
  other extra keywords go to the patch events (gevent's plugin arguments).
- Warnings are issued at once as :class:`MonkeyPatchWarning` (gevent's
  behaviour), except in an interactive session, where the report shows them.

Run a program fully patched before its own imports::

    python -m coopshell.monkey [--no-thread ...] script.py args...
    python -m coopshell.monkey -m package.module args...
    python -m coopshell.monkey --gevent script.py   # ``import gevent`` is coopshell

The package, one question per module: :mod:`.table` (which patches exist),
:mod:`.patching` (applying them), :mod:`.unpatching`, :mod:`.stale` (globals
still holding originals), :mod:`.pinning` (original classes kept working),
:mod:`.report`, :mod:`.alias` (``import gevent``), :mod:`.__main__` (the runner).
"""

from __future__ import annotations

from .alias import alias_gevent, unalias_gevent
from .patching import (patch_all, patch_builtins, patch_dns, patch_item, patch_module, patch_os,
                       patch_queue, patch_select, patch_selectors, patch_signal, patch_socket,
                       patch_ssl, patch_subprocess, patch_sys, patch_thread, patch_time)
from .report import PatchReport, StaleReference
from .stale import fix_references_now, stale_references
from .state import (MonkeyPatchError, MonkeyPatchWarning, check_name, get_original,
                    is_interactive)
from .state import SETTINGS_KEY, saved as _saved_state
from .unpatching import unpatch, unpatch_all

__all__ = [
    "patch_all", "patch_socket", "patch_dns", "patch_ssl", "patch_select", "patch_selectors",
    "patch_time", "patch_os", "patch_subprocess", "patch_signal", "patch_queue", "patch_thread",
    "patch_sys", "patch_builtins", "patch_module", "patch_item", "unpatch", "unpatch_all",
    "is_module_patched", "is_object_patched", "is_anything_patched", "get_original", "saved",
    "stale_references", "fix_references", "fix_references_now", "is_interactive",
    "alias_gevent", "unalias_gevent", "PatchReport", "StaleReference", "MonkeyPatchError",
    "MonkeyPatchWarning", "INTERACTIVE", "main",
]

#: Set to True by the interactive front ends (shell, kernel, IPython extension):
#: ``patch_all()`` then leaves ``threading`` alone unless asked explicitly.
INTERACTIVE = False

#: Public alias of :func:`fix_references_now`, named like the patch_all flag.
fix_references = fix_references_now


def is_module_patched(mod_name: str) -> bool:
    """True if ``mod_name`` (a stdlib module name such as ``"socket"``) has
    patched attributes."""
    return bool(_saved_state.get(check_name(mod_name, "mod_name")))


def is_object_patched(mod_name: str, item_name: str) -> bool:
    """True if ``mod_name.item_name`` is currently replaced by patching."""
    return check_name(item_name, "item_name") in _saved_state.get(check_name(mod_name, "mod_name"), ())


def is_anything_patched() -> bool:
    """True if any stdlib module has patched attributes."""
    return any(v for k, v in _saved_state.items() if k != SETTINGS_KEY)


#: The saved originals, live, as gevent's ``monkey.saved``: ``{module: {name:
#: original}}``; ``saved()`` gives a copy (see :class:`.state.SavedOriginals`).
saved = _saved_state


def main(argv: list[str] | None = None) -> int:
    """The ``python -m coopshell.monkey`` runner (see :mod:`.__main__`)."""
    from .__main__ import main as run
    return run(argv)
