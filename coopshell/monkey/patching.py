"""The patch functions and ``patch_all``, driven by :mod:`.table`.

Each ``patch_<name>()`` imports the row's coopshell module, replaces exactly
the names its ``__implements__`` lists in each target stdlib module, and
returns a :class:`PatchReport`. ``patch_all`` walks the table in order.
"""

from __future__ import annotations

import difflib
import importlib
import sys
import types
from sys import modules as sys_modules
import warnings
from typing import Any, Callable, Iterable

from .. import events
from . import busy, state
from .pinning import pin_original_classes
from .report import DEFAULT_HINT, PatchReport
from .stale import fix_references_now, holders, old_ssl_contexts, split_internal, stale_references
from .state import MonkeyPatchError, MonkeyPatchWarning
from .table import GEVENT_ONLY, GEVENT_ONLY_NOTES, NAMES, ROWS, TABLE, Row

__all__ = [
    "patch_all", "patch_socket", "patch_dns", "patch_ssl", "patch_select", "patch_selectors",
    "patch_time", "patch_os", "patch_subprocess", "patch_signal", "patch_queue", "patch_thread",
    "patch_sys", "patch_builtins", "patch_module", "patch_item", "SSL_WARNING", "SETTINGS_KEY",
    "REPATCH_WARNING",
]

SSL_WARNING = "ssl.SSLContext object(s) created before patching"

# True while patch_all runs the patch_X functions (they warn only when called directly)
_collecting = False
# False while a repeated patch_all has nothing new to patch (gevent then sends no events)
_events_on = True
SETTINGS_KEY = state.SETTINGS_KEY
REPATCH_WARNING = ("Patching more than once will result in the union of all True parameters "
                   "being patched")


# -- primitives ---------------------------------------------------------------------------


def patch_item(module: types.ModuleType | str, name: str, value: Any) -> None:
    """Set ``module.name = value``, saving the original for ``unpatch``.
    Patching twice keeps the first original."""
    state.check_thread()
    state.set_item(state.module_of(module), name, value)


def patch_module(target_module: types.ModuleType | str, source_module: types.ModuleType | str,
                 items: Iterable[str] | None = None) -> list[str]:
    """Replace ``items`` (default: ``source_module.__implements__``) of
    ``target_module`` with the objects of the same name in ``source_module``.
    Returns the names set by this call (already patched ones excluded)."""
    state.check_thread()
    target = state.module_of(target_module)
    source = state.module_of(source_module)
    if items is None:
        items = _implements(source, target.__name__)
    done = []
    for name in items:
        try:
            value = getattr(source, name)
        except AttributeError:
            raise MonkeyPatchError(f"{source.__name__}.__implements__ names {name!r}, "
                                   f"but {source.__name__} has no such attribute") from None
        if state.set_item(target, name, value):
            done.append(name)
    return done


def _implements(source: types.ModuleType, target: str) -> list[str]:
    names = getattr(source, "__implements__", None)
    if isinstance(names, dict):
        names = names.get(target)
    if not isinstance(names, (list, tuple)):
        raise MonkeyPatchError(f"{source.__name__} has no __implements__ list for {target}: "
                               f"nothing says which names of {target} it replaces")
    return list(names)


def _source(row: Row) -> types.ModuleType:
    """The row's coopshell module, or MonkeyPatchError saying why not."""
    try:
        module = importlib.import_module(row.source)
    except ImportError as exc:
        why = state.preload_skipped.get(row.source, str(exc))
        raise MonkeyPatchError(f"{row.source} is not available ({why}); "
                               f"{row.name} stays blocking") from None
    missing = getattr(module, "__unavailable__", None)
    if missing:
        raise MonkeyPatchError(f"{missing}; {row.name} stays blocking")
    if getattr(module, "__implements__", None) is None:
        raise MonkeyPatchError(f"{row.source} defines no __implements__ list; "
                               f"{row.name} is left unpatched")
    return module


def _apply(row: Row, items: dict[str, list[str]] | None = None, aggressive: bool = False,
           source: types.ModuleType | None = None) -> PatchReport:
    """Patch the row's targets (``items``: per target, default
    ``__implements__``); with ``aggressive``, remove its ``removals``."""
    state.check_thread()
    if source is None:
        source = _source(row)
    if items is None:
        items = {t: _implements(source, t) for t in row.targets}
    report = PatchReport()
    busy.check_busy(report, list(items))
    for target, names in items.items():
        module = state.module_of(target)
        if _events_on:
            try:
                events.notify_and_call_entry_points(
                    events.GeventWillPatchModuleEvent(target, source, module, list(names)))
            except events.DoNotPatch:
                report.skipped[target] = "vetoed by a subscriber of gevent's will-patch-module event"
                continue
        done = patch_module(target, source, names)
        if _events_on:
            events.notify_and_call_entry_points(events.GeventDidPatchModuleEvent(target, source, module))
        if aggressive and row.removals:
            done += [f"-{n}" for n in row.removals
                     if n not in names and state.remove_item(module, n)]
        report.patched.setdefault(target, []).extend(done)
    return report


def _done(report: PatchReport) -> PatchReport:
    """Direct calls of patch_X warn at once; patch_all collects and decides."""
    if not _collecting:
        for w in report.warnings:
            warnings.warn(w, MonkeyPatchWarning, stacklevel=3)
    return report


# -- one function per row -----------------------------------------------------------------


def patch_os() -> PatchReport:
    """Replace ``coopshell.os.__implements__`` in ``os`` (``fork``, ``waitpid``…)."""
    return _done(_apply(ROWS["os"]))


def patch_time() -> PatchReport:
    """``time.sleep`` becomes ``coopshell.sleep``."""
    return _done(_apply(ROWS["time"]))


def patch_socket(dns: bool = True, aggressive: bool = True) -> PatchReport:
    """Replace ``coopshell.socket.__implements__`` in ``socket``, and its
    ``__dns__`` look-ups (``getaddrinfo``…) unless ``dns=False``.
    ``aggressive`` is accepted for gevent compatibility."""
    state.check_thread()
    row = ROWS["socket"]
    source = _source(row)
    names = list(source.__implements__) + (list(source.__dns__) if dns else [])
    return _done(_apply(row, {"socket": names}, source=source))


def patch_dns() -> PatchReport:
    """Replace only the DNS look-ups of ``socket`` (``coopshell.socket.__dns__``)."""
    state.check_thread()
    row = ROWS["dns"]
    source = _source(row)
    return _done(_apply(row, {"socket": list(source.__dns__)}, source=source))


def patch_select(aggressive: bool = True) -> PatchReport:
    """Replace ``coopshell.select.__implements__`` in ``select``; with
    ``aggressive`` also remove the pollers it does not implement (``epoll``…)
    so ``selectors`` cannot pick one that blocks the hub."""
    return _done(_apply(ROWS["select"], aggressive=aggressive))


def patch_selectors(aggressive: bool = True) -> PatchReport:
    """Replace ``coopshell.selectors.__implements__`` in ``selectors``; with
    ``aggressive`` remove the selector classes it does not implement."""
    return _done(_apply(ROWS["selectors"], aggressive=aggressive))


def patch_ssl() -> PatchReport:
    """Replace ``coopshell.ssl.__implements__`` in ``ssl``.

    The original classes keep working for objects made before patching (or
    by code holding the original class): their methods that look a patched
    name up by global (``super(SSLContext, SSLContext)`` in the property
    setters) get the originals back, so they cannot recurse into the patched
    class. Such contexts still make blocking sockets: the report names them
    (``fix_references=True`` converts them)."""
    report = _apply(ROWS["ssl"])
    pin_original_classes("ssl")
    if "SSLContext" in report.patched.get("ssl", ()):
        _warn_ssl_imported_early(report)
    old = old_ssl_contexts()
    if old:
        held = holders(old)
        where = f" (held by {', '.join(held[:8])})" if held else ""
        report.warnings.append(f"{len(old)} {SSL_WARNING} still make blocking sockets{where}; "
                               f"create new contexts, or pass fix_references=True")
    return _done(report)


def _warn_ssl_imported_early(report: PatchReport) -> None:
    """gevent's warning when ``ssl`` was patched too late for some code: a
    module that imported ``SSLContext`` by name, or a class that subclasses
    the original, keeps making blocking sockets (gevent's wording for the
    two lists, which code and tests look for)."""
    original = state.saved["ssl"]["SSLContext"]
    direct = sorted({name for name, module in list(sys.modules.items())
                     if name.partition(".")[0] not in ("ssl", "coopshell")
                     and isinstance(getattr(module, "__dict__", None), dict)
                     and module.__dict__.get("SSLContext") is original})
    subclasses, todo = [], list(type.__subclasses__(original))
    while todo:
        klass = todo.pop()
        todo.extend(type.__subclasses__(klass))
        home = (klass.__module__ or "").partition(".")[0]
        if home not in ("ssl", "coopshell", "gevent"):
            subclasses.append(f"{klass.__module__}.{klass.__qualname__}")
    found = ([f"Modules that had direct imports (NOT patched): {direct}."] if direct else []) + (
        [f"Subclasses (NOT patched): {sorted(subclasses)}."] if subclasses else [])
    if found:
        report.warnings.append(
            "ssl was imported before patching; what took the original SSLContext keeps making "
            "blocking sockets (patch first, or pass fix_references=True for the module "
            "globals). " + " ".join(found))


def patch_subprocess() -> PatchReport:
    """Replace ``coopshell.subprocess.__implements__`` in ``subprocess``."""
    return _done(_apply(ROWS["subprocess"]))


def patch_signal() -> PatchReport:
    """Replace ``coopshell.signal.__implements__`` in ``signal``: handlers
    installed with ``signal.signal`` then run in a new greenlet, so they may
    block."""
    return _done(_apply(ROWS["signal"]))


def patch_queue() -> PatchReport:
    """Replace ``coopshell.queue.__implements__`` in ``queue``."""
    return _done(_apply(ROWS["queue"]))


def patch_thread(threading: bool = True, _threading_local: bool = True, Event: bool = True,
                 logging: bool = True, existing_locks: bool = True) -> PatchReport:
    """Make ``threading`` (and ``_thread``) start greenlets and use greenlet
    locks: ``Thread.start()`` spawns, ``Lock``/``RLock``/``Condition``/``Event``
    wait cooperatively, ``threading.local`` is greenlet-local.

    The main thread stays ``threading.main_thread()`` and keeps its real
    ident; threads already running keep working, and a real OS thread that
    waits on a greenlet lock blocks for real. ``logging`` swaps the (unheld)
    locks of the logging module and its handlers for greenlet locks.
    ``existing_locks`` swaps the module-level locks of modules imported
    before patching (``concurrent.futures.thread._global_shutdown_lock``)
    for greenlet locks, when nobody holds them. ``Event`` is accepted for
    gevent compatibility: ``threading.Event`` is built on the patched
    ``Condition``."""
    state.check_thread()
    row = ROWS["thread"]
    source = _source(row)
    wanted = {"_thread": True, "threading": threading, "_threading_local": _threading_local}
    items = {t: names for t, names in source.__implements__.items() if wanted.get(t, True)}
    report = _apply(row, items, source=source)
    others = busy.real_threads()
    if others:
        report.warnings.append(
            f"{len(others)} real thread(s) already run ({', '.join(others[:5])}): they keep the "
            f"locks they hold; greenlet locks they wait on block them for real")
    if getattr(source, "local", None) is None:
        report.skipped["thread.local"] = ("coopshell.local is not available: threading.local "
                                          "stays per real thread, shared by greenlets")
    if threading and "threading" in report.patched:
        _green_main_tstate_lock(source)
    if existing_locks:
        _swap_module_locks(report, source)
    if logging and "logging" in sys.modules:
        _swap_logging_locks(report)
    return _done(report)


#: module-level native locks of stdlib modules that greenlets take, by module
_MODULE_LOCKS = {"concurrent.futures.thread": ("_global_shutdown_lock",)}


def _swap_module_locks(report: PatchReport, source: types.ModuleType) -> None:
    """Give modules imported before patching greenlet locks in place of
    their module-level native ones (saved for unpatching). Left as they are,
    a greenlet that holds one (``ThreadPoolExecutor.submit``) while another
    forks hangs the process: the module's at-fork hook blocks the one
    thread on it."""
    for mod_name, names in _MODULE_LOCKS.items():
        module = sys.modules.get(mod_name)
        if module is None:
            continue
        for name in names:
            old = getattr(module, name, None)
            if old is None or isinstance(old, source.LockType):
                continue
            if not old.acquire(False):
                report.warnings.append(f"{mod_name}.{name} is held; left a native lock")
                continue
            old.release()
            state.set_item(module, name, source.LockType())
            report.patched.setdefault(mod_name, []).append(name)


def _green_main_tstate_lock(source: types.ModuleType) -> None:
    """Give the main thread a greenlet lock as its ``_tstate_lock`` (3.10-3.12).

    A greenlet-thread that joins the main thread waits on that lock, which
    ``threading._shutdown`` releases at exit. The real one would block the
    main OS thread for real (every greenlet with it: a deadlock); the greenlet
    lock lets the loop run until shutdown releases it."""
    import threading as std_threading
    main = std_threading.main_thread()
    real = getattr(main, "_tstate_lock", None)
    if real is None or isinstance(real, source.LockType) or not real.locked():
        return  # Python >= 3.13 (joins use the thread handle), already done, or stopped
    green = source.LockType()
    green.acquire()
    locks = getattr(std_threading, "_shutdown_locks", None)  # shutdown waits on these
    with std_threading._shutdown_locks_lock:
        main._tstate_lock = green
        if locks is not None and real in locks:
            locks.discard(real)
            locks.add(green)

    def undo() -> None:
        with std_threading._shutdown_locks_lock:
            if main._tstate_lock is green:
                main._tstate_lock = real
                if locks is not None and green in locks:
                    locks.discard(green)
                    locks.add(real)
    state.undo_hooks.setdefault("threading", []).append(undo)


def patch_sys(stdin: bool = True, stdout: bool = True, stderr: bool = True) -> PatchReport:
    """Make ``sys.stdin``/``stdout``/``stderr`` cooperative file objects
    (gevent's ``patch_sys``; opt-in): their blocking calls run in the hub's
    thread pool, so a greenlet waiting on the terminal or a pipe lets the
    others run. In the hub, in other real threads and at exit the calls go
    straight to the original streams (see :mod:`.sysstreams`)."""
    state.check_thread()
    from .sysstreams import patch_sys_streams
    report = PatchReport()
    patch_sys_streams(report, stdin, stdout, stderr)
    return _done(report)


def patch_builtins() -> PatchReport:
    """gevent's ``patch_builtins``: replaces ``coopshell.builtins.__implements__``
    in ``builtins``, which on Python 3 is nothing (imports are already
    thread-safe, so gevent's cooperative ``__import__`` is not needed); the
    report says so."""
    state.check_thread()
    source = importlib.import_module("coopshell.builtins")
    report = PatchReport()
    done = patch_module("builtins", source, source.__implements__)
    if done:
        report.patched["builtins"] = done
    elif not _collecting:  # patch_all's default builtins=True: no note every time
        report.notes.append(f"builtins: {GEVENT_ONLY_NOTES['builtins']}")
    return _done(report)


def _swap_logging_locks(report: PatchReport) -> None:
    """Give ``logging`` and its handlers greenlet locks (only unheld ones)."""
    import logging
    new_rlock = sys.modules["threading"].RLock  # the patched factory at this point
    swapped = []
    targets: list[tuple[Any, str]] = [(logging, "_lock")]
    for ref in list(getattr(logging, "_handlerList", [])):
        handler = ref() if callable(ref) else ref
        if handler is not None and getattr(handler, "lock", None) is not None:
            targets.append((handler, "lock"))
    for owner, attr in targets:
        old = getattr(owner, attr, None)
        if old is None or type(getattr(old, "_block", None)).__module__ == "coopshell._monkey.thread":
            continue  # none, or already a greenlet RLock
        is_owned = getattr(old, "_is_owned", None)
        if is_owned is not None and is_owned():
            report.warnings.append(f"logging lock {owner!r}.{attr} is held; left unpatched")
            continue
        if not old.acquire(False):
            report.warnings.append(f"logging lock {owner!r}.{attr} is held by another "
                                   f"thread; left unpatched")
            continue
        old.release()
        setattr(owner, attr, new_rlock())
        swapped.append((owner, attr, old))
    if swapped:
        report.patched.setdefault("logging", []).extend(
            attr if owner is logging else f"{type(owner).__name__}.lock" for owner, attr, _ in swapped)

        def undo() -> None:
            for owner, attr, old in swapped:
                setattr(owner, attr, old)
        state.undo_hooks.setdefault("threading", []).append(undo)


_PATCHERS: dict[str, Callable[..., PatchReport]] = {
    "os": patch_os, "time": patch_time, "thread": patch_thread, "socket": patch_socket,
    "dns": patch_dns, "select": patch_select, "selectors": patch_selectors, "ssl": patch_ssl,
    "subprocess": patch_subprocess, "signal": patch_signal, "queue": patch_queue,
}
assert tuple(_PATCHERS) == NAMES, "one patch function per table row, in table order"


# -- patch_all ----------------------------------------------------------------------------


def patch_all(socket: bool = True, dns: bool = True, time: bool = True, select: bool = True,
              thread: bool | None = None, os: bool = True, ssl: bool = True,
              subprocess: bool = True, signal: bool = True, queue: bool | None = None,
              selectors: bool | None = None, sys: bool = False, builtins: bool = True,
              aggressive: bool = True, Event: bool = True,
              fix_references: bool | None = None, warn: bool | None = None,
              internal_prefixes: Iterable[str] = (), hint: str | None = None,
              **kwargs: Any) -> PatchReport:
    """Patch everything asked for, in the table's order, and report.

    ``thread=None`` (the default) means: patch ``threading`` unless this is an
    interactive session (see :func:`is_interactive`); ``queue`` follows
    ``thread`` and ``selectors`` follows ``select``. A coopshell module that
    is not available is skipped with the reason in the report.
    ``fix_references`` rebinds stale module globals (see
    :func:`stale_references`): True everywhere, False nowhere, None (the
    default) in stdlib modules only (``socketserver._ServerSelector``…).
    The report's warnings are also issued at once as ``MonkeyPatchWarning``
    (gevent's behaviour), except in an interactive session, where the front
    end shows the report (``warn=True``/``False`` decides explicitly). A
    repeated call with different flags warns that their union is patched.
    Subscribers of :mod:`coopshell.events` get gevent's patch events
    (``DoNotPatch`` vetoes); extra keyword arguments reach them as
    ``patch_all_kwargs``.
    ``sys=True`` (off by default, as in gevent) also runs :func:`patch_sys`;
    ``builtins`` runs :func:`patch_builtins` (nothing to replace on Python 3).

    A front end passes ``internal_prefixes`` (its own packages, such as
    ``("prompt_toolkit", "ipykernel")``): stale references in them are
    reported apart (``report.internal``), never rebound, and do not make
    ``report.ok`` false. ``hint`` replaces the report's advice on stale
    references (the shell says ``%monkey --fix rebinds them``).
    """
    flags: dict[str, bool | None] = {
        "os": os, "time": time, "thread": thread, "socket": socket, "dns": dns, "select": select,
        "selectors": selectors, "ssl": ssl, "subprocess": subprocess, "signal": signal,
        "queue": queue}
    report, extra = _start(kwargs, flags, hint)
    arguments = {**flags, "sys": sys, "builtins": builtins, "aggressive": aggressive,
                 "Event": Event}
    fresh, repeated = _check_repatching(arguments)
    options = {"dns": dns, "aggressive": aggressive, "Event": Event}
    global _collecting, _events_on
    _collecting, _events_on = True, bool(fresh)
    done: set[str] = set()
    try:
        if fresh:
            events.notify_and_call_entry_points(events.GeventWillPatchAllEvent(fresh, extra))
        with busy.one_scan():
            for row in TABLE:
                if not flags[row.name] or row.covered_by in done:
                    continue
                try:
                    report.merge(_PATCHERS[row.name](**{o: options[o] for o in row.options}))
                except MonkeyPatchError as exc:
                    report.skipped[row.name] = str(exc)
                else:
                    done.add(row.name)
        if builtins:
            report.merge(patch_builtins())
        if fresh:
            events.notify_and_call_entry_points(events.GeventDidPatchBuiltinModulesEvent(fresh, extra))
        if sys:  # last, as gevent: threading's shutdown must not see them half-done
            report.merge(patch_sys())
        if fresh:
            events.notify_and_call_entry_points(events.GeventDidPatchAllEvent(fresh, extra))
    except events.DoNotPatch:
        report.skipped["all"] = "vetoed by a subscriber of gevent's will-patch-all event"
    finally:
        _collecting, _events_on = False, True
    _finish(report, fix_references, tuple(internal_prefixes))
    if repeated:
        report.warnings.insert(0, REPATCH_WARNING)
    if warn or (warn is None and not report.interactive):
        for w in report.warnings:
            warnings.warn(w, MonkeyPatchWarning, stacklevel=2)
    return report


def _check_repatching(arguments: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """gevent's bookkeeping of repeated ``patch_all`` calls, kept where gevent
    keeps it (``monkey.saved[SETTINGS_KEY]``): the flags that turn on for the
    first time (what the events announce), and whether the flags differ from
    the last call (gevent warns that the union of them is patched)."""
    package = sys_modules.get(__package__ or "coopshell.monkey")
    store = getattr(package, "saved", state.saved)
    current = store.setdefault(SETTINGS_KEY, {})
    repeated = bool(current) and current != arguments
    fresh = {}
    for k, v in arguments.items():
        if k not in current:
            fresh[k] = current[k] = v
        elif v and not current[k]:
            fresh[k] = current[k] = True
    return fresh, repeated


_KNOWN = (*NAMES, "sys", "builtins", "aggressive", "Event", "fix_references", "warn",
          "internal_prefixes", "hint", *GEVENT_ONLY)


def _start(kwargs: dict[str, Any], flags: dict[str, bool | None],
           hint: str | None) -> tuple[PatchReport, dict[str, Any]]:
    """Check the arguments, resolve the defaults, record gevent-only flags.

    Other keyword arguments are gevent's plugin arguments: passed on to the
    patch events as ``patch_all_kwargs`` and noted in the report. One that
    looks like a misspelt patch name (``sokcet``) is a TypeError."""
    gevent_only = {k: kwargs.pop(k) for k in list(kwargs) if k in GEVENT_ONLY}
    typos = {k: difflib.get_close_matches(k, _KNOWN, n=1, cutoff=0.8) for k in kwargs}
    typos = {k: m[0] for k, m in typos.items() if m}
    if typos:
        raise TypeError(f"patch_all() got unknown patch name(s) "
                        f"{', '.join(f'{k!r} (did you mean {m!r}?)' for k, m in sorted(typos.items()))}; "
                        f"known: {', '.join(_KNOWN)}")
    if hint is not None and not isinstance(hint, str):
        raise TypeError(f"hint must be a str (advice on stale references), got {hint!r}")
    state.check_thread()
    report = PatchReport(interactive=state.is_interactive(), hint=hint or DEFAULT_HINT)
    if kwargs:
        report.notes.append(f"extra argument(s) {', '.join(map(repr, sorted(kwargs)))} are not "
                            f"patch names: passed to event subscribers as patch_all_kwargs")
    for k, v in gevent_only.items():
        if v:
            report.skipped[k] = GEVENT_ONLY[k]
    if flags["thread"] is None:
        flags["thread"] = not report.interactive
        if not flags["thread"]:
            report.skipped["thread"] = ("interactive session: the front end's threads need real "
                                        "locks (pass thread=True to patch threading anyway)")
    for row in TABLE:
        if row.follows is not None and flags[row.name] is None:
            flags[row.name] = flags[row.follows]
            if not flags[row.name] and row.follows in report.skipped:
                report.skipped[row.name] = (f"follows {row.follows} (pass {row.name}=True to "
                                            f"patch it anyway)")
    return report, dict(kwargs)


def _finish(report: PatchReport, fix_references: bool | None, internal: tuple[str, ...]) -> None:
    """Rebind what was asked for, then list what still holds an original."""
    if fix_references is not False:
        report.fixed = fix_references_now(stdlib_only=fix_references is None, exclude=internal)
        if fix_references and not old_ssl_contexts():  # all converted: no longer true
            report.warnings = [w for w in report.warnings if SSL_WARNING not in w]
    report.stale, report.internal = split_internal(stale_references(), internal)

