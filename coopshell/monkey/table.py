"""The one table of patches: which coopshell module replaces which stdlib
names, in which order, with which options.

Each :class:`Row` is one patch name (a ``patch_all`` flag, a ``patch_X``
function, an ``unpatch`` name). The names replaced come from the source
module itself (its ``__implements__``; ``coopshell.socket.__dns__`` for the
DNS look-ups), never from a copy kept here. ``TABLE`` is in the order
``patch_all`` applies it: os first (fork), thread before queue, socket
before dns (the fallback when socket cannot be patched) and before ssl.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Row", "TABLE", "ROWS", "NAMES", "GEVENT_ONLY", "GEVENT_ONLY_NOTES", "KEEP_ORIGINALS",
           "BACKENDS", "modules_of"]


@dataclass(frozen=True)
class Row:
    """One patch."""

    #: the patch name: ``patch_all(name=...)``, ``patch_<name>()``, ``unpatch(name)``
    name: str
    #: the coopshell module whose ``__implements__`` says what is replaced
    source: str
    #: the stdlib modules it changes (unpatching restores them)
    targets: tuple[str, ...]
    #: the C accelerator modules behind them: the originals' own home,
    #: never reported as stale references
    backends: tuple[str, ...] = ()
    #: with ``aggressive=True``, names removed from the first target unless
    #: the source implements them (left in place they would block the hub)
    removals: tuple[str, ...] = ()
    #: the ``patch_all`` options passed on to ``patch_<name>()``
    options: tuple[str, ...] = ()
    #: when this patch's flag is None (the default), it follows that one's
    follows: str | None = None
    #: skipped when that patch was applied (it already includes this one)
    covered_by: str | None = None
    #: the source's ``__implements__`` is a ``{target: names}`` mapping
    per_target: bool = False


TABLE: tuple[Row, ...] = (
    Row("os", "coopshell.os", ("os",), backends=("posix", "nt")),
    Row("time", "coopshell._monkey.time", ("time",)),
    Row("thread", "coopshell._monkey.thread", ("_thread", "threading", "_threading_local"),
        options=("Event",), per_target=True),
    Row("socket", "coopshell.socket", ("socket",), backends=("_socket",),
        options=("dns", "aggressive")),
    Row("dns", "coopshell.socket", ("socket",), covered_by="socket"),
    Row("select", "coopshell.select", ("select",),
        removals=("epoll", "kqueue", "kevent", "devpoll", "poll"), options=("aggressive",)),
    Row("selectors", "coopshell.selectors", ("selectors",), follows="select",
        removals=("EpollSelector", "KqueueSelector", "DevpollSelector", "PollSelector"),
        options=("aggressive",)),
    Row("ssl", "coopshell.ssl", ("ssl",), backends=("_ssl",)),
    Row("subprocess", "coopshell.subprocess", ("subprocess",), backends=("_posixsubprocess",)),
    Row("signal", "coopshell.signal", ("signal",), backends=("_signal",)),
    Row("queue", "coopshell.queue", ("queue",), backends=("_queue",), follows="thread"),
)

ROWS: dict[str, Row] = {row.name: row for row in TABLE}
#: the patch names, in patch order
NAMES: tuple[str, ...] = tuple(ROWS)

#: gevent's patch_all flags that have no coopshell counterpart: accepted, reported
GEVENT_ONLY = {
    "contextvars": "not needed: every greenlet already runs in its own context",
    "httplib": "not needed: http.client uses the patched socket",
}
#: what the report notes for gevent's patches that have nothing to do here
GEVENT_ONLY_NOTES = {
    "builtins": "nothing to replace on Python 3 (imports are already thread-safe)",
}

#: top-level packages that hold originals on purpose (stale scans skip them)
KEEP_ORIGINALS = ("coopshell", "greenlet", "gevent", "eventlet")

#: every module that is an original's own home: the targets and their backends
BACKENDS = frozenset(m for row in TABLE for m in row.targets + row.backends)


def modules_of(name: str) -> tuple[str, ...]:
    """The stdlib modules a patch name (or a stdlib module name) stands for;
    ValueError for an unknown name."""
    row = ROWS.get(name)
    if row is not None:
        return row.targets
    if any(name in r.targets for r in TABLE):
        return (name,)
    raise ValueError(f"unknown patch name {name!r}; known: {', '.join(NAMES)} "
                     f"or a patched stdlib module ({', '.join(sorted(BACKENDS & _TARGETS))})")


_TARGETS = frozenset(m for row in TABLE for m in row.targets)
