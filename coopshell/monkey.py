"""Monkey patching: make the stdlib cooperate, late, reversibly, with a report.

Like gevent's ``gevent.monkey``, patching replaces attributes of the stdlib
module objects (``socket.socket``, ``time.sleep``, ``threading.Lock``…) with
the coopshell implementations, so code that looks them up through the module
cooperates. Each coopshell io module names what it replaces in its
``__implements__`` list; this module patches exactly those names.

Differs from gevent:

- ``unpatch(*names)`` / ``unpatch_all()`` put back the very same original
  objects (identity is preserved).
- ``stale_references()`` lists the loaded modules whose globals still hold an
  original (``from socket import create_connection`` done before patching):
  those calls stay blocking. ``patch_all()`` rebinds the ones in stdlib
  modules (``socketserver._ServerSelector``…), ``patch_all(fix_references=True)``
  all of them, and ``unpatch`` rebinds them back.
- ``patch_all()`` returns a :class:`PatchReport`: what was patched, what was
  skipped and why, warnings, stale references. ``print(report)`` reads well.
- In an interactive session (a REPL, IPython, a Jupyter kernel, the coopshell
  shell) ``patch_all()`` leaves ``threading`` (and ``queue``) alone unless
  ``thread=True`` is passed: the front end's own threads need real locks.
- Patching from a thread other than the main thread raises
  :class:`MonkeyPatchError`; unknown patch names raise ``TypeError``.

Run a program fully patched before its own imports::

    python -m coopshell.monkey [--no-thread ...] script.py args...
    python -m coopshell.monkey -m package.module args...
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading as _threading
import types
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

__all__ = [
    "patch_all", "patch_socket", "patch_dns", "patch_ssl", "patch_select", "patch_selectors",
    "patch_time", "patch_os", "patch_subprocess", "patch_signal", "patch_queue", "patch_thread",
    "patch_module", "patch_item", "unpatch", "unpatch_all", "is_module_patched",
    "is_object_patched", "get_original", "saved", "stale_references", "fix_references",
    "fix_references_now",
    "is_interactive", "PatchReport", "StaleReference", "MonkeyPatchError", "INTERACTIVE", "main",
]

#: Set to True by the interactive front ends (shell, kernel, IPython extension):
#: ``patch_all()`` then leaves ``threading`` alone unless asked explicitly.
INTERACTIVE = False

# Captured at import: patching must never turn this module against itself.
_get_ident = _threading.get_ident
_main_thread = _threading.main_thread


class MonkeyPatchError(RuntimeError):
    """Raised when patching is impossible: wrong thread, a coopshell module
    that is missing, a module without ``__implements__``."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


#: Saved for an attribute the stdlib module did not have before patching.
_MISSING: Any = _Missing()

# stdlib module name -> {attribute: original object, or _MISSING}
_saved: dict[str, dict[str, Any]] = {}
# (module name, global name, original, replacement) rebound by fix_references
_fixed: list[tuple[str, str, Any, Any]] = []
# True while patch_all runs the patch_X functions (they warn only when called directly)
_collecting = False
_greenlet_cache: list | None = None
# stdlib module name -> callables that undo extra fix-ups (logging locks, ...)
_undo_hooks: dict[str, list[Callable[[], None]]] = {}

# Which coopshell module replaces which stdlib module. The names come from
# each coopshell module's ``__implements__``.
_SOURCES = {
    "socket": "coopshell.socket",
    "ssl": "coopshell.ssl",
    "select": "coopshell.select",
    "selectors": "coopshell.selectors",
    "os": "coopshell.os",
    "subprocess": "coopshell.subprocess",
    "signal": "coopshell.signal",
    "queue": "coopshell.queue",
    "threading": "coopshell._monkey.thread",
    "_thread": "coopshell._monkey.thread",
    "_threading_local": "coopshell._monkey.thread",
}

# Names of coopshell.socket's __implements__ that are DNS look-ups
# (used when coopshell.socket has no ``__dns__`` list of its own).
_DNS_NAMES = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr",
              "getnameinfo", "getfqdn")

# With aggressive=True, names removed from the stdlib module unless the
# coopshell module implements them: left in place they would block the hub.
_AGGRESSIVE_REMOVALS = {
    "select": ("epoll", "kqueue", "kevent", "devpoll", "poll"),
    "selectors": ("EpollSelector", "KqueueSelector", "DevpollSelector", "PollSelector"),
}

# Patch names accepted by patch_all() and unpatch(), in the order patch_all
# applies them (os first: fork; socket before ssl; thread before queue).
_ORDER = ("os", "time", "thread", "socket", "dns", "select", "selectors", "ssl", "subprocess",
          "signal", "queue")
# Patch name -> the stdlib modules it touches (for unpatch).
_MODULES_OF = {
    "os": ("os",), "time": ("time",), "thread": ("threading", "_thread", "_threading_local"),
    "socket": ("socket",), "dns": ("socket",), "select": ("select",),
    "selectors": ("selectors",), "ssl": ("ssl",), "subprocess": ("subprocess",),
    "signal": ("signal",), "queue": ("queue",),
}

# gevent's patch_all flags that have no coopshell counterpart: accepted, reported.
_GEVENT_ONLY = {
    "sys": "not supported: sys.stdin/stdout/stderr stay as they are",
    "builtins": "not needed on Python 3 (imports are already thread-safe)",
    "contextvars": "not needed: every greenlet already runs in its own context",
    "httplib": "not needed: http.client uses the patched socket",
}

# Modules that hold originals on purpose; stale_references() ignores them.
_KEEP_ORIGINALS = ("coopshell", "greenlet", "gevent", "eventlet")
# C accelerator modules behind the patched ones: they are the originals' home.
_BACKENDS = frozenset({"_socket", "_thread", "_ssl", "_queue", "posix", "nt", "_signal",
                       "_posixsubprocess", "_threading_local", "select", "time", "threading",
                       "socket", "ssl", "selectors", "os", "subprocess", "signal", "queue"})


@dataclass(frozen=True)
class StaleReference:
    """A module global still bound to an original: ``module.name`` is
    ``target`` (e.g. ``myapp.create_connection`` is ``socket.create_connection``)."""

    module: str
    name: str
    target: str

    def __str__(self) -> str:
        return f"{self.module}.{self.name} -> original {self.target}"


@dataclass
class PatchReport:
    """What ``patch_all()`` did. ``str(report)`` is the human summary."""

    #: stdlib module -> names replaced (or removed) in it by this call
    patched: dict[str, list[str]] = field(default_factory=dict)
    #: patch name -> why it was not applied
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: informational lines (nothing to patch, ...)
    notes: list[str] = field(default_factory=list)
    #: module globals still bound to originals after patching (see stale_references)
    stale: list[StaleReference] = field(default_factory=list)
    #: the stale references that fix_references=True rebound
    fixed: list[StaleReference] = field(default_factory=list)
    interactive: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing was skipped and nothing stays blocking."""
        return not self.skipped and not self.stale

    def __str__(self) -> str:
        lines = []
        if self.patched:
            lines.append("patched:")
            for mod, names in self.patched.items():
                lines.append(f"  {mod}: {', '.join(names) if names else '(already patched)'}")
        else:
            lines.append("patched: nothing")
        if self.skipped:
            lines.append("skipped:")
            for name, why in self.skipped.items():
                lines.append(f"  {name}: {why}")
        for n in self.notes:
            lines.append(f"note: {n}")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        if self.fixed:
            lines.append(f"rebound {len(self.fixed)} stale reference(s):")
            lines.extend(f"  {r}" for r in self.fixed)
        if self.stale:
            lines.append(f"{len(self.stale)} stale reference(s) stay blocking "
                         f"(patch_all(fix_references=True) rebinds them):")
            lines.extend(f"  {r}" for r in self.stale)
        elif not self.fixed:
            lines.append("no stale references")
        return "\n".join(lines)

    def _merge(self, other: PatchReport) -> None:
        for mod, names in other.patched.items():
            self.patched.setdefault(mod, []).extend(n for n in names if n not in self.patched.get(mod, ()))
        self.skipped.update(other.skipped)
        self.warnings.extend(other.warnings)
        self.notes.extend(other.notes)


# -- queries ---------------------------------------------------------------------------


def is_module_patched(mod_name: str) -> bool:
    """True if ``mod_name`` (a stdlib module name such as ``"socket"``) has
    patched attributes."""
    return bool(_saved.get(_check_name(mod_name, "mod_name")))


def is_object_patched(mod_name: str, item_name: str) -> bool:
    """True if ``mod_name.item_name`` is currently replaced by patching."""
    return _check_name(item_name, "item_name") in _saved.get(_check_name(mod_name, "mod_name"), ())


def get_original(mod_name: str, item_name: str | Sequence[str]) -> Any:
    """The original ``mod_name.item_name`` from before patching (the current
    attribute if it is not patched). With a list of names, a list of objects."""
    _check_name(mod_name, "mod_name")
    if isinstance(item_name, str):
        return _get_original(mod_name, (item_name,))[0]
    if not isinstance(item_name, (list, tuple)) or not all(isinstance(n, str) for n in item_name):
        raise TypeError(f"item_name must be a str or a list of str, got {item_name!r}")
    return _get_original(mod_name, item_name)


def saved() -> dict[str, dict[str, Any]]:
    """A copy of the saved originals: ``{module: {name: original}}``."""
    return {mod: dict(items) for mod, items in _saved.items() if items}


def is_interactive() -> bool:
    """True in a REPL, IPython, a Jupyter kernel, ``python -i``, or a front
    end that set ``coopshell.monkey.INTERACTIVE``."""
    return bool(INTERACTIVE or sys.flags.interactive or hasattr(sys, "ps1")
                or "IPython" in sys.modules or "ipykernel" in sys.modules)


# -- patching primitives ------------------------------------------------------------------


def patch_item(module: types.ModuleType | str, name: str, value: Any) -> None:
    """Set ``module.name = value``, saving the original for ``unpatch``.
    Patching twice keeps the first original."""
    _check_thread()
    module = _module(module)
    _patch_item(module, name, value)


def patch_module(target_module: types.ModuleType | str, source_module: types.ModuleType | str,
                 items: Iterable[str] | None = None) -> list[str]:
    """Replace ``items`` (default: ``source_module.__implements__``) of
    ``target_module`` with the objects of the same name in ``source_module``.
    Returns the names set by this call (already patched ones excluded)."""
    _check_thread()
    target = _module(target_module)
    source = _module(source_module)
    if items is None:
        items = getattr(source, "__implements__", None)
        if items is None:
            raise MonkeyPatchError(f"{source.__name__} has no __implements__ list: nothing says "
                                   f"which names of {target.__name__} it replaces")
    done = []
    for name in items:
        try:
            value = getattr(source, name)
        except AttributeError:
            raise MonkeyPatchError(f"{source.__name__}.__implements__ names {name!r}, "
                                   f"but {source.__name__} has no such attribute") from None
        if _patch_item(target, name, value):
            done.append(name)
    return done


def _patch_item(module, name, value) -> bool:
    mod_saved = _saved.setdefault(module.__name__, {})
    current = module.__dict__.get(name, _MISSING)
    if name in mod_saved and current is value:
        return False  # idempotent
    if name not in mod_saved:
        mod_saved[name] = current
    if value is _MISSING:
        if current is not _MISSING:
            delattr(module, name)
    else:
        setattr(module, name, value)
    return True


def _remove_item(module, name) -> bool:
    if name not in module.__dict__:
        return False
    return _patch_item(module, name, _MISSING)


# -- the patch functions ------------------------------------------------------------------


def patch_time() -> PatchReport:
    """``time.sleep`` becomes ``coopshell.sleep``."""
    _check_thread()
    from ._core.hub import sleep
    report = PatchReport()
    _record(report, "time", ["sleep"] if _patch_item(_module("time"), "sleep", sleep) else [])
    return _done(report)


def patch_socket(dns: bool = True, aggressive: bool = True) -> PatchReport:
    """Replace ``coopshell.socket.__implements__`` in ``socket``; with
    ``dns=False`` leave the DNS look-ups (``getaddrinfo``…) alone.
    ``aggressive`` is accepted for gevent compatibility."""
    _check_thread()
    source = _source("socket")
    dns_names = _dns_names(source)
    items = [n for n in source.__implements__ if n not in dns_names]
    if dns:
        items += dns_names
    report = PatchReport()
    _check_busy(report, ["socket"])
    _record(report, "socket", patch_module("socket", source, items))
    return _done(report)


def patch_dns() -> PatchReport:
    """Replace only the DNS look-ups of ``socket`` (``getaddrinfo``…)."""
    _check_thread()
    try:
        source = _source("socket")
        items = _dns_names(source)
    except MonkeyPatchError:
        try:  # coopshell.resolver alone is enough for the look-ups
            source = importlib.import_module("coopshell.resolver")
        except ImportError as exc:
            raise MonkeyPatchError(f"coopshell.resolver is not available ({exc}); "
                                   f"DNS look-ups stay blocking") from None
        items = [n for n in _DNS_NAMES if hasattr(source, n)]
    report = PatchReport()
    _record(report, "socket", patch_module("socket", source, items))
    return _done(report)


def patch_ssl() -> PatchReport:
    """Replace ``coopshell.ssl.__implements__`` in ``ssl``. Contexts created
    before patching keep making blocking sockets: the report names them
    (``fix_references=True`` in patch_all converts them when it can)."""
    _check_thread()
    source = _source("ssl")
    report = PatchReport()
    _check_busy(report, ["ssl"])
    _record(report, "ssl", patch_module("ssl", source))
    old = _old_ssl_contexts()
    if old:
        holders = _holders(old)
        where = f" (held by {', '.join(holders[:8])})" if holders else ""
        report.warnings.append(
            f"{len(old)} {_SSL_WARNING} still make blocking "
            f"sockets{where}; create new contexts, or pass fix_references=True")
    return _done(report)


_SSL_WARNING = "ssl.SSLContext object(s) created before patching"


def patch_select(aggressive: bool = True) -> PatchReport:
    """Replace ``coopshell.select.__implements__`` in ``select``; with
    ``aggressive`` also remove the pollers it does not implement (``epoll``…)
    so ``selectors`` cannot pick one that blocks the hub."""
    _check_thread()
    source = _source("select")
    report = PatchReport()
    names = patch_module("select", source)
    if aggressive:
        names += _remove_unimplemented("select", source)
    _record(report, "select", names)
    return _done(report)


def patch_selectors(aggressive: bool = True) -> PatchReport:
    """Replace ``coopshell.selectors.__implements__`` in ``selectors``."""
    _check_thread()
    source = _source("selectors")
    report = PatchReport()
    names = patch_module("selectors", source)
    if aggressive:
        names += _remove_unimplemented("selectors", source)
    _record(report, "selectors", names)
    return _done(report)


def patch_os() -> PatchReport:
    """Replace ``coopshell.os.__implements__`` in ``os`` (``fork``, ``waitpid``…)."""
    return _patch_simple("os")


def patch_subprocess() -> PatchReport:
    """Replace ``coopshell.subprocess.__implements__`` in ``subprocess``."""
    return _patch_simple("subprocess")


def patch_signal() -> PatchReport:
    """Replace ``coopshell.signal.__implements__`` in ``signal``. When
    coopshell.signal replaces no stdlib name (handlers already run in the
    main greenlet; ``coopshell.signal_handler`` runs them in a greenlet),
    there is nothing to do and the report says so."""
    _check_thread()
    try:
        module = importlib.import_module("coopshell.signal")
    except ImportError as exc:
        raise MonkeyPatchError(f"coopshell.signal is not available ({exc})") from None
    if getattr(module, "__implements__", None) is None:
        report = PatchReport()
        report.notes.append("signal: nothing to patch (stdlib handlers run in the main greenlet; "
                            "use coopshell.signal_handler for handlers that block)")
        return report
    return _patch_simple("signal")


def patch_queue() -> PatchReport:
    """Replace ``coopshell.queue.__implements__`` in ``queue``."""
    return _patch_simple("queue")


def patch_thread(threading: bool = True, _threading_local: bool = True, Event: bool = True,
                 logging: bool = True, existing_locks: bool = True) -> PatchReport:
    """Make ``threading`` (and ``_thread``) start greenlets and use greenlet
    locks: ``Thread.start()`` spawns, ``Lock``/``RLock``/``Condition``/``Event``
    wait cooperatively, ``threading.local`` is greenlet-local.

    The main thread stays ``threading.main_thread()`` and keeps its real
    ident; threads already running keep working with their own locks.
    ``logging`` swaps the (unheld) locks of the logging module and its
    handlers for greenlet locks. ``Event`` and ``existing_locks`` are accepted
    for gevent compatibility: ``threading.Event`` is built on the patched
    ``Condition`` and needs no separate patch."""
    _check_thread()
    source = _source("threading")
    report = PatchReport()
    _check_busy(report, ["threading"])
    others = [t.name for t in _threading.enumerate() if t.ident != _get_ident() and t.is_alive()]
    if others:
        report.warnings.append(
            f"{len(others)} real thread(s) already run ({', '.join(others[:5])}): they keep the "
            f"locks they hold, but locks they create from now on are greenlet locks")
    _record(report, "_thread", patch_module("_thread", source, source.__implements_thread__))
    if threading:
        _record(report, "threading", patch_module("threading", source, source.__implements_threading__))
    if source.local is None:
        report.skipped["thread.local"] = ("coopshell.local is not available: threading.local "
                                          "stays per real thread, shared by greenlets")
    elif _threading_local:
        _record(report, "_threading_local", patch_module("_threading_local", source, ["local"]))
    if logging and "logging" in sys.modules:
        _swap_logging_locks(report)
    return _done(report)


def _dns_names(source):
    """coopshell.socket's DNS look-ups: its ``__dns__`` list, or the known
    names found in its ``__implements__``."""
    names = getattr(source, "__dns__", None)
    if names is None:
        names = [n for n in source.__implements__ if n in _DNS_NAMES]
    return list(names)


def _patch_simple(name):
    _check_thread()
    source = _source(name)
    report = PatchReport()
    _check_busy(report, [name])
    _record(report, name, patch_module(name, source))
    return _done(report)


def _done(report):
    """Direct calls of patch_X warn at once; patch_all collects and decides."""
    if not _collecting:
        for w in report.warnings:
            warnings.warn(w, RuntimeWarning, stacklevel=3)
    return report


def patch_all(socket: bool = True, dns: bool = True, time: bool = True, select: bool = True,
              thread: bool | None = None, os: bool = True, ssl: bool = True,
              subprocess: bool = True, signal: bool = True, queue: bool | None = None,
              selectors: bool | None = None, aggressive: bool = True, Event: bool = True, fix_references: bool | None = None,
              warn: bool = False, **kwargs: Any) -> PatchReport:
    """Patch everything asked for, in a safe order, and report.

    ``thread=None`` (the default) means: patch ``threading`` unless this is an
    interactive session (see :func:`is_interactive`); ``queue`` follows
    ``thread`` and ``selectors`` follows ``select``. A coopshell module that is not available is skipped with the
    reason in the report. ``fix_references`` rebinds stale module globals
    (see :func:`stale_references`): True everywhere, False nowhere, None (the
    default) in stdlib modules only (``socketserver._ServerSelector``…).
    ``warn`` also issues the report's warnings through ``warnings.warn``.
    """
    gevent_only = {k: kwargs.pop(k) for k in list(kwargs) if k in _GEVENT_ONLY}
    if kwargs:
        raise TypeError(f"patch_all() got unknown patch name(s) {', '.join(map(repr, sorted(kwargs)))}; "
                        f"known: {', '.join(_ORDER)}, aggressive, Event, fix_references, warn "
                        f"(gevent's {', '.join(_GEVENT_ONLY)} are accepted and reported)")
    _check_thread()
    report = PatchReport(interactive=is_interactive())
    for k, v in gevent_only.items():
        if v:
            report.skipped[k] = _GEVENT_ONLY[k]
    if thread is None:
        thread = not report.interactive
        if not thread:
            report.skipped["thread"] = ("interactive session: the front end's threads need real "
                                        "locks (pass thread=True to patch threading anyway)")
    if queue is None:
        queue = thread
        if not queue:
            report.skipped.setdefault("queue", "follows thread (pass queue=True to patch it anyway)")
    plan: list[tuple[str, Callable[[], PatchReport]]] = []
    if os:
        plan.append(("os", patch_os))
    if time:
        plan.append(("time", patch_time))
    if thread:
        plan.append(("thread", lambda: patch_thread(Event=Event)))
    if socket:
        plan.append(("socket", lambda: patch_socket(dns=dns, aggressive=aggressive)))
    elif dns:
        plan.append(("dns", patch_dns))
    if select:
        plan.append(("select", lambda: patch_select(aggressive=aggressive)))
    if selectors if selectors is not None else select:
        plan.append(("selectors", lambda: patch_selectors(aggressive=aggressive)))
    if ssl:
        plan.append(("ssl", patch_ssl))
    if subprocess:
        plan.append(("subprocess", patch_subprocess))
    if signal:
        plan.append(("signal", patch_signal))
    if queue:
        plan.append(("queue", patch_queue))
    global _collecting, _greenlet_cache
    _collecting = True
    _greenlet_cache = None
    try:
        for name, func in plan:
            try:
                report._merge(func())
            except MonkeyPatchError as exc:
                report.skipped[name] = str(exc)
                if name == "socket" and dns:  # the resolver alone can still patch DNS
                    try:
                        report._merge(patch_dns())
                    except MonkeyPatchError as exc2:
                        report.skipped["dns"] = str(exc2)
    finally:
        _collecting = False
        _greenlet_cache = None
    if fix_references is not False:
        report.fixed = fix_references_now(stdlib_only=fix_references is None)
        if fix_references and not _old_ssl_contexts():  # all converted: no longer true
            report.warnings = [w for w in report.warnings if _SSL_WARNING not in w]
    report.stale = stale_references()
    if warn:
        for w in report.warnings:
            warnings.warn(w, RuntimeWarning, stacklevel=2)
    return report


# -- unpatching --------------------------------------------------------------------------


def unpatch(*names: str) -> list[str]:
    """Restore the originals of the given patches (``"socket"``, ``"thread"``,
    ``"time"``…, or stdlib module names such as ``"threading"``), including the
    stale references that were rebound. Returns the modules restored."""
    _check_thread()
    modules: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"unpatch() takes patch names as str, got {name!r}")
        if name in _MODULES_OF:
            mods = _MODULES_OF[name]
        elif name in _saved or name in _SOURCES or name == "time":
            mods = (name,)
        else:
            raise ValueError(f"unknown patch name {name!r}; known: {', '.join(_ORDER)}")
        modules.extend(m for m in mods if m not in modules)
    if "threading" in modules and "threading" in _saved:
        _warn_running_greenlet_threads()
    restored = []
    for mod_name in modules:
        items = _saved.pop(mod_name, None)
        for hook in reversed(_undo_hooks.pop(mod_name, [])):
            hook()
        if not items:
            continue
        module = sys.modules.get(mod_name)
        originals = {id(v): v for v in items.values() if v is not _MISSING}
        if module is not None:
            for attr, original in items.items():
                if original is _MISSING:
                    module.__dict__.pop(attr, None)
                else:
                    setattr(module, attr, original)
        _unfix(originals)
        restored.append(mod_name)
    return restored


def _warn_running_greenlet_threads():
    from ._monkey.thread import LockType
    alive = [t for t in list(_threading._active.values())
             if isinstance(getattr(t, "_tstate_lock", None), LockType) and t.is_alive()]
    for t in alive:
        # Thread._delete() finds the thread by get_ident(); once unpatched,
        # that is the real ident and would unregister the main thread.
        def _delete(t=t):
            with _threading._active_limbo_lock:
                _threading._active.pop(t._ident, None)
        t._delete = _delete
    if alive:
        warnings.warn(f"unpatching threading while {len(alive)} greenlet thread(s) still run "
                      f"({', '.join(t.name for t in alive[:5])}): they finish as greenlets, "
                      f"with greenlet locks", RuntimeWarning, stacklevel=3)


def unpatch_all() -> list[str]:
    """Restore every patched module; returns the modules restored."""
    return unpatch(*list(_saved))


# -- stale references ---------------------------------------------------------------------


def stale_references() -> list[StaleReference]:
    """Module globals that still hold an original patched object, e.g. a
    module that did ``from socket import create_connection`` before
    patching. Calls through them stay blocking. Modules of runtimes that keep
    originals on purpose (coopshell, gevent…) are not listed."""
    return [StaleReference(m, n, t) for m, n, t, _o, _r in _scan_stale()]


def fix_references_now(stdlib_only: bool = False) -> list[StaleReference]:
    """Rebind every stale reference to the current patched object (undone by
    ``unpatch``); with ``stdlib_only``, only those in stdlib modules (such as
    ``socketserver._ServerSelector``). Returns what was rebound."""
    _check_thread()
    fixed = []
    for mod_name, name, target, original, replacement in _scan_stale():
        module = sys.modules.get(mod_name)
        if module is None or replacement is _MISSING or replacement is None:
            continue
        if stdlib_only and mod_name.partition(".")[0] not in _STDLIB_NAMES:
            continue
        try:
            module.__dict__[name] = replacement
        except Exception:
            continue
        _fixed.append((mod_name, name, original, replacement))
        fixed.append(StaleReference(mod_name, name, target))
    if not stdlib_only:
        fixed.extend(_fix_ssl_contexts())
    return fixed


_STDLIB_NAMES = frozenset(getattr(sys, "stdlib_module_names", ())) - {"__main__"}


#: Public alias of :func:`fix_references_now`, named like the patch_all flag.
fix_references = fix_references_now


def _scan_stale():
    originals: dict[int, tuple[Any, str, Any]] = {}
    for mod_name, items in _saved.items():
        module = sys.modules.get(mod_name)
        for attr, original in items.items():
            if original is _MISSING or original is None or isinstance(original, (int, str, bytes)):
                continue
            current = module.__dict__.get(attr, _MISSING) if module is not None else _MISSING
            if current is original:
                continue
            if current is None and f"{mod_name}.{attr}" == "threading._CRLock":
                current = module.RLock  # functools.RLock & co: rebind to the factory, not None
            label = f"{mod_name}.{attr}" + (" (removed by patching)" if current is _MISSING else "")
            originals.setdefault(id(original), (original, label, current))
    if not originals:
        return []
    found = []
    seen = set()
    for mod_name, module in list(sys.modules.items()):
        if mod_name in _BACKENDS or mod_name.partition(".")[0] in _KEEP_ORIGINALS:
            continue
        if mod_name in _saved or id(module) in seen:
            continue  # a patched module, or an alias (requests.packages.urllib3)
        seen.add(id(module))
        try:
            namespace = module.__dict__
            if not isinstance(namespace, dict):
                continue
            entries = list(namespace.items())
        except Exception:
            continue
        for name, value in entries:
            hit = originals.get(id(value))
            if hit is not None and hit[0] is value:
                found.append((mod_name, name, hit[1], value, hit[2]))
    return found


def _unfix(originals: dict[int, Any]) -> None:
    keep = []
    for entry in _fixed:
        mod_name, name, original, replacement = entry
        if id(original) not in originals:
            keep.append(entry)
            continue
        if callable(mod_name):  # an undo hook recorded by _fix_ssl_contexts
            mod_name()
            continue
        module = sys.modules.get(mod_name)
        if module is not None and module.__dict__.get(name, _MISSING) is replacement:
            module.__dict__[name] = original
    _fixed[:] = keep


# -- ssl contexts ----------------------------------------------------------------------------


def _old_ssl_contexts():
    orig = _saved.get("ssl", {}).get("SSLContext", _MISSING)
    ssl = sys.modules.get("ssl")
    if orig is _MISSING or ssl is None or ssl.SSLContext is orig:
        return []
    new = ssl.SSLContext
    return [o for o in gc.get_objects() if isinstance(o, orig) and not isinstance(o, new)]


def _fix_ssl_contexts() -> list[StaleReference]:
    ssl = sys.modules.get("ssl")
    contexts = _old_ssl_contexts()
    if not contexts:
        return []
    orig = _saved["ssl"]["SSLContext"]
    new = ssl.SSLContext
    fixed = []
    for ctx in contexts:
        if type(ctx) is not orig or not issubclass(new, orig):
            continue
        try:
            ctx.__class__ = new
        except TypeError:
            continue

        def undo(ctx=ctx):
            if type(ctx) is new:
                ctx.__class__ = orig
        _fixed.append((undo, "", orig, new))
        fixed.append(StaleReference(f"<SSLContext at {id(ctx):#x}>", "__class__", "ssl.SSLContext"))
    return fixed


def _holders(objs) -> list[str]:
    ids = {id(o) for o in objs}
    out = []
    for mod_name, module in list(sys.modules.items()):
        try:
            for name, value in list(module.__dict__.items()):
                if id(value) in ids:
                    out.append(f"{mod_name}.{name}")
        except Exception:
            continue
    return out


# -- helpers ---------------------------------------------------------------------------------


def _check_name(value, what):
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a module or attribute name (str), got {value!r}")
    return value


def _check_thread():
    if _get_ident() != _main_thread().ident:
        raise MonkeyPatchError(
            f"monkey patching must be done from the main thread, not from "
            f"{_threading.current_thread().name!r}: patching is process-wide and not thread-safe")
    if not _preloaded:
        _preload()


# Runtime modules that must not be imported by patching: the front ends pull
# in prompt_toolkit / IPython / ipykernel, and this module is already loaded.
_NO_PRELOAD = frozenset({"interactive", "kernel", "demo", "__main__", "monkey", "_monkey"})
_preloaded = False


def _preload():
    """Import every runtime module before the first patch: each captures the
    stdlib originals it needs at import time, which only works if it is
    imported while they are still the originals."""
    global _preloaded
    _preloaded = True
    import pkgutil

    import coopshell
    for info in pkgutil.iter_modules(coopshell.__path__):
        if info.name in _NO_PRELOAD:
            continue
        try:
            importlib.import_module(f"coopshell.{info.name}")
        except Exception:  # a missing optional dependency: patching reports it later
            pass
    importlib.import_module("coopshell._monkey.thread")


def _module(module):
    if isinstance(module, types.ModuleType):
        return module
    if isinstance(module, str):
        return importlib.import_module(module)
    raise TypeError(f"expected a module or a module name, got {module!r}")


def _source(name):
    """The coopshell module that replaces stdlib ``name``, or MonkeyPatchError."""
    src = _SOURCES[name]
    try:
        module = importlib.import_module(src)
    except ImportError as exc:
        raise MonkeyPatchError(f"{src} is not available ({exc}); {name} stays blocking") from None
    if name in ("threading", "_thread", "_threading_local"):
        missing = getattr(module, "__unavailable__", None)
        if missing:
            raise MonkeyPatchError(f"{missing}; threading stays blocking")
        return module
    if not isinstance(getattr(module, "__implements__", None), (list, tuple)):
        raise MonkeyPatchError(f"{src} defines no __implements__ list; {name} is left unpatched")
    return module


def _record(report, mod_name, names):
    report.patched.setdefault(mod_name, []).extend(names)


def _remove_unimplemented(mod_name, source):
    module = _module(mod_name)
    implemented = set(source.__implements__)
    return [f"-{n}" for n in _AGGRESSIVE_REMOVALS.get(mod_name, ())
            if n not in implemented and _remove_item(module, n)]


def _check_busy(report, mod_names):
    """Warn about threads and suspended greenlets that are running inside
    the Python code of a module about to be patched: they keep the original,
    blocking implementation until they return."""
    files = {}
    for mod_name in mod_names:
        module = sys.modules.get(mod_name)
        path = getattr(module, "__file__", None)
        if path:
            files[path] = mod_name
    if not files:
        return
    me = _get_ident()
    names = {t.ident: t.name for t in _threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        where = _frame_in(frame, files)
        if where:
            report.warnings.append(f"thread {names.get(ident, ident)!r} is running in {where}: "
                                   f"it keeps the original, blocking code until it returns")
    for obj in _suspended_greenlets():
        if obj.gr_frame is not None:
            where = _frame_in(obj.gr_frame, files)
            if where:
                report.warnings.append(f"a suspended greenlet {obj!r} is inside {where}: it keeps "
                                       f"the original, blocking code until it returns")


def _suspended_greenlets():
    """Greenlets with a frame (suspended); one gc scan per patch_all."""
    global _greenlet_cache
    if _greenlet_cache is not None:
        return _greenlet_cache
    from greenlet import greenlet as raw
    found = [o for o in gc.get_objects() if isinstance(o, raw) and o.gr_frame is not None]
    if _collecting:
        _greenlet_cache = found
    return found


def _frame_in(frame, files):
    while frame is not None:
        mod_name = files.get(frame.f_code.co_filename)
        if mod_name is not None:
            return f"{mod_name}.{frame.f_code.co_name} (line {frame.f_lineno})"
        frame = frame.f_back
    return None


def _swap_logging_locks(report):
    """Give ``logging`` and its handlers greenlet locks (only unheld ones)."""
    import logging
    new_rlock = _threading.RLock  # the patched factory at this point
    swapped = []
    targets = [(logging, "_lock")]
    for ref in list(getattr(logging, "_handlerList", [])):
        handler = ref() if callable(ref) else ref
        if handler is not None and getattr(handler, "lock", None) is not None:
            targets.append((handler, "lock"))
    for owner, attr in targets:
        old = getattr(owner, attr, None)
        if old is None or type(getattr(old, "_block", None)).__module__ == "coopshell._monkey.thread":
            continue  # none, or already a greenlet RLock
        is_owned = getattr(old, "_is_owned", None)
        try:
            if is_owned is not None and is_owned():
                report.warnings.append(f"logging lock {owner!r}.{attr} is held; left unpatched")
                continue
            if not old.acquire(False):
                report.warnings.append(f"logging lock {owner!r}.{attr} is held by another "
                                       f"thread; left unpatched")
                continue
            old.release()
        except Exception:
            continue
        setattr(owner, attr, new_rlock())
        swapped.append((owner, attr, old))
    if swapped:
        _record(report, "logging", [f"{attr}" if owner is logging else f"{type(owner).__name__}.lock"
                                    for owner, attr, _ in swapped])

        def undo():
            for owner, attr, old in swapped:
                setattr(owner, attr, old)
        _undo_hooks.setdefault("threading", []).append(undo)


def _get_original(mod_name, names):
    mod_saved = _saved.get(mod_name, {})
    module = None
    result = []
    for name in names:
        if name in mod_saved:
            value = mod_saved[name]
            if value is _MISSING:
                raise AttributeError(f"{mod_name} had no attribute {name!r} before patching")
        else:
            if module is None:
                module = importlib.import_module(mod_name)
            value = getattr(module, name)
        result.append(value)
    return result


# -- python -m coopshell.monkey ------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m coopshell.monkey [--no-NAME ...] [--fix-references]
    [--verbose] (script.py | -m module) [args...]``: patch, then run the
    program as ``__main__``."""
    import runpy

    args = list(sys.argv[1:] if argv is None else argv)
    flags: dict[str, Any] = {}
    verbose = False
    module_name = None
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt == "-m":
            if not args:
                return _usage("-m needs a module name")
            module_name = args.pop(0)
            break
        if opt in ("-h", "--help"):
            print(_USAGE)
            return 0
        if opt == "--verbose":
            verbose = True
        elif opt == "--fix-references":
            flags["fix_references"] = True
        elif opt.startswith("--no-") and opt[5:] in _ORDER + ("aggressive",):
            flags[opt[5:]] = False
        elif opt.startswith("--") and opt[2:] in _ORDER:
            flags[opt[2:]] = True
        else:
            return _usage(f"unknown option {opt!r}")
    if module_name is None and not args:
        return _usage("no script or -m module given")
    report = patch_all(**flags)
    if verbose:
        print(report, file=sys.stderr)
    if module_name is not None:
        sys.argv[:] = [module_name] + args
        runpy.run_module(module_name, run_name="__main__", alter_sys=True)
    else:
        import os as _os
        sys.argv[:] = args
        sys.path[0] = _os.path.dirname(_os.path.abspath(args[0]))
        runpy.run_path(args[0], run_name="__main__")
    return 0


_USAGE = f"""usage: python -m coopshell.monkey [options] (script.py | -m module) [args...]

Patch the stdlib for coopshell, then run the program as __main__.
options:
  --no-NAME          do not patch NAME ({', '.join(_ORDER)}, aggressive)
  --NAME             patch NAME even where the default would not (thread, queue)
  --fix-references   rebind module globals still holding originals
  --verbose          print the patch report to stderr first"""


def _usage(message):
    print(f"coopshell.monkey: {message}\n{_USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    # Run the copy imported as ``coopshell.monkey`` so that patch state is
    # shared with the program's own ``import coopshell.monkey``.
    from coopshell.monkey import main as _main
    sys.exit(_main())
