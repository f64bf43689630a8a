"""The stdlib ``contextvars`` module, which is already greenlet-aware.

greenlet (>= 0.4.17) gives every greenlet its own current context, and
coopshell runs each spawned greenlet in a copy of its spawner's context
(DESIGN.md, Core: Context), so ``ContextVar`` values set in one greenlet are
invisible to the others and a new greenlet starts with its spawner's values.
This module therefore passes the stdlib's objects through unchanged; it
exists so that code written for ``gevent.contextvars`` imports.

Differs from ``gevent.contextvars``: gevent's is a pure-Python copy kept for
Pythons without native context variables; coopshell's objects are the
stdlib's (so asyncio tasks and ipykernel's output routing see the same
context as greenlets do).
"""

from __future__ import annotations

import contextvars as _std

#: Stdlib names this module rewrites: none, the stdlib's are per greenlet.
__implements__: list[str] = []
#: Names only coopshell has.
__extensions__: list[str] = []
#: Stdlib callables passed through after review (greenlet keeps a context per greenlet).
_REVIEWED = {"ContextVar", "Context", "Token", "copy_context"}


def _is_constant_or_exception(obj) -> bool:
    return not callable(obj) or (isinstance(obj, type) and issubclass(obj, BaseException))


__imports__ = [n for n in _std.__all__
               if n in _REVIEWED or _is_constant_or_exception(getattr(_std, n))]
globals().update({n: getattr(_std, n) for n in __imports__})

__all__ = __implements__ + __imports__ + __extensions__
