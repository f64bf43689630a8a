"""The stdlib ``builtins`` module, as ``gevent.builtins`` has it on Python 3.

gevent once replaced ``__import__`` to take a greenlet-aware import lock;
on Python 3 the import system's per-module locks make that unnecessary, so
gevent's module (and this one) rewrites nothing: every name is the running
interpreter's builtin. ``coopshell.monkey`` has nothing to patch here.
"""

from __future__ import annotations

import builtins as _std

#: Builtin names this module rewrites: none.
__implements__: list[str] = []
#: Names only coopshell has.
__extensions__: list[str] = []
#: Every public builtin, passed through unchanged (gevent's ``copy_globals``).
__imports__ = [n for n in dir(_std) if not n.startswith("_")]
globals().update({n: getattr(_std, n) for n in __imports__})

__all__ = __implements__ + __imports__ + __extensions__
