"""HTML for Jupyter: greenlet tables, ``%joinall`` progress, and the display formatters.

The sync layer knows nothing of IPython: the HTML reprs of ``Greenlet``,
``Group`` and ``Pool`` are display formatters registered here for those
types, not methods on the classes. Names and ages never wrap; long function
reprs are cut (the full text is in the cell's plain-text form).
"""

from __future__ import annotations

import html
import re
import sys
from time import monotonic as _monotonic
from typing import Any, Iterable

from ..greenlet import Greenlet

__all__ = ["greenlet_table_html", "progress_html", "register_formatters", "unregister_formatters",
           "MAX_FUNC_CHARS"]

#: Function reprs longer than this are cut in tables.
MAX_FUNC_CHARS = 60

_TABLE_STYLE = "border-collapse:collapse;font-family:monospace;font-size:90%"
_NOWRAP = ' style="white-space:nowrap"'
_PROGRESS = re.compile(r"(\d+)/(\d+)\b")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _greenlet_row(g: Greenlet, now: float) -> str:
    from .magics.describe import age, describe_state, function_text

    e = html.escape
    try:
        func = function_text(g)
    except Exception:
        func = "?"
    try:
        state = describe_state(g)
    except Exception:
        state = g.state
    full = e(func)
    return (f"<tr><td>{g.minimal_ident}</td><td{_NOWRAP}>{e(g.name)}</td>"
            f'<td title="{full}">{e(_cut(func, MAX_FUNC_CHARS))}</td>'
            f"<td>{e(state)}</td><td{_NOWRAP}>{e(age(now - g.spawn_time))}</td></tr>")


def greenlet_table_html(greenlets: Iterable[Any], caption: str | None = None,
                        more: int = 0) -> str:
    """An HTML table (id, name, function, state, age) of ``greenlets``;
    ``more``: rows left out (said in a last row)."""
    now = _monotonic()
    rows = "".join(_greenlet_row(g, now) for g in greenlets if isinstance(g, Greenlet))
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    if not rows:
        rows = '<tr><td colspan="5"><i>no greenlets</i></td></tr>'
    if more:
        rows += f'<tr><td colspan="5"><i>… and {more} more</i></td></tr>'
    return (f'<table class="coopshell-greenlets" style="{_TABLE_STYLE}">{cap}'
            "<thead><tr><th>id</th><th>name</th><th>function</th><th>state</th>"
            f"<th>age</th></tr></thead><tbody>{rows}</tbody></table>")


def progress_html(text: str) -> str:
    """The ``%joinall`` progress line as HTML, with a progress bar."""
    m = _PROGRESS.search(text)
    bar = ""
    if m is not None:
        bar = (f'<progress value="{m.group(1)}" max="{m.group(2)}" style="width:16em">'
               "</progress> ")
    return f'<div class="coopshell-joinall">{bar}{html.escape(text)}</div>'


def _greenlet_html(g: Greenlet) -> str:
    return greenlet_table_html([g])


def _group_html(group: Any) -> str:
    members = sorted(group, key=lambda g: g.minimal_ident)
    size = getattr(group, "size", None)
    what = type(group).__name__
    cap = f"{what}: {len(members)} greenlet(s)"
    if size is not None:
        cap += f", size {size}, {getattr(group, 'free_count', lambda: '?')()} free"
    return greenlet_table_html(members, cap)


# (module, class name) of types rendered as tables; resolved lazily by IPython.
_DEFERRED = (("coopshell.pool", "Group", _group_html), ("coopshell.pool", "Pool", _group_html))


def register_formatters(ip: Any) -> list[tuple[Any, Any, Any]]:
    """Register the HTML formatters in IPython ``ip``; returns what
    :func:`unregister_formatters` needs."""
    done: list[tuple[Any, Any, Any]] = []
    fmt = ip.display_formatter.formatters.get("text/html")
    if fmt is None:
        return done
    old = fmt.for_type(Greenlet, _greenlet_html)
    done.append((fmt, Greenlet, old))
    for mod, name, fn in _DEFERRED:
        key = (mod, name)
        cls = _resolve(key)
        if cls is not None:
            old = fmt.for_type(cls, fn)
            done.append((fmt, cls, old))
        else:
            old = fmt.for_type_by_name(mod, name, fn)
            done.append((fmt, key, old))
    return done


def unregister_formatters(done: list[tuple[Any, Any, Any]]) -> None:
    """Undo :func:`register_formatters`."""
    for fmt, key, old in done:
        try:
            if isinstance(key, tuple):
                fmt.deferred_printers.pop(key, None)
                fmt.type_printers.pop(_resolve(key), None)
            else:
                fmt.pop(key, None)
            if old is not None:
                if isinstance(key, tuple):
                    fmt.for_type_by_name(key[0], key[1], old)
                else:
                    fmt.for_type(key, old)
        except Exception:
            pass


def _resolve(key: tuple[str, str]) -> Any:
    mod = sys.modules.get(key[0])
    return getattr(mod, key[1], None) if mod is not None else None
