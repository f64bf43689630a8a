"""Output routing: ``sys.stdout``/``sys.stderr`` writes go to the backdoor session
whose context they run in (a ContextVar, inherited by spawned greenlets).
"""

from __future__ import annotations

import contextvars
import sys
from typing import Any

__all__ = ["sink_var", "statement_var", "route_output", "unroute_output"]

#: The session that output written in this context goes to (None: the original stream).
sink_var: contextvars.ContextVar[Any] = contextvars.ContextVar("coopshell_backdoor_sink", default=None)
#: The id of the attach statement this context runs (tags its output frames).
statement_var: contextvars.ContextVar[Any] = contextvars.ContextVar("coopshell_attach_id", default=None)
_routes = 0


class _RoutedStream:
    """Stands in for ``sys.stdout``/``sys.stderr`` while backdoor sessions exist:
    a write goes to the session whose context it runs in, else to the original."""

    def __init__(self, name: str, original):
        self._name = name
        self._original = original

    def write(self, text):
        sink = sink_var.get()
        if sink is None or sink.closed:
            return self._original.write(text)
        return sink.write_output(self._name, text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        sink = sink_var.get()
        if sink is None or sink.closed:
            return self._original.flush()
        return None

    def __getattr__(self, name):
        return getattr(self._original, name)


def route_output() -> None:
    """Install the routed streams (counted: one call per session)."""
    global _routes
    _routes += 1
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        if not isinstance(current, _RoutedStream):
            setattr(sys, name, _RoutedStream(name, current))


def unroute_output() -> None:
    """Undo one :func:`route_output`; the last one puts the original streams back."""
    global _routes
    _routes -= 1
    if _routes == 0:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if isinstance(current, _RoutedStream):
                setattr(sys, name, current._original)
