"""``%monkey``: patch the stdlib from a session, with a report that tells the truth.

Differences from calling ``coopshell.monkey.patch_all`` in a script, because
a front end runs threads of its own:

- ``threading`` is never patched here: the front end's threads (the shell's
  output thread, the kernel's iopub and heartbeat threads, the blocked-hub
  detector) need real locks, and patching it silences the session.
  ``%monkey thread`` is refused with that reason.
- Stale references held by the front end's own modules (the front end sets
  them with :func:`set_front_end_modules`: prompt_toolkit in the shell,
  ipykernel and jupyter_client in the kernel) are listed apart from the
  user's: they run in the front end's threads and stay blocking on purpose.
- The hint says ``%monkey --fix``, and long ``--fix`` lists are summarised.
"""

from __future__ import annotations

from typing import Any

from .args import MagicError, split

__all__ = ["monkey", "set_front_end_modules", "front_end_modules", "THREAD_REFUSAL"]

_TARGETS = {
    "socket": "socket", "dns": "dns", "ssl": "ssl", "select": "select", "selectors": "select",
    "time": "time", "subprocess": "subprocess", "os": "os", "signal": "signal",
    "queue": "queue", "thread": "thread", "threading": "thread",
}
_FLAGS = ("socket", "dns", "time", "select", "thread", "os", "ssl", "subprocess", "signal", "queue")
_STATUS_MODULES = ("socket", "ssl", "select", "selectors", "time", "subprocess", "os", "signal",
                   "queue", "threading")
#: Rebound references listed one per line up to this many; the rest are summarised.
MAX_LISTED = 8

#: Why ``%monkey thread`` is refused in a session.
THREAD_REFUSAL = ("%monkey thread: refused in an interactive session: the front end's own threads "
                  "(its output and I/O threads, the blocked-hub detector) need real locks, and "
                  "patching threading would silence the session. Patch threading in a script "
                  "instead: python -m coopshell.monkey script.py")

_front_end: tuple[str, ...] = ("coopshell",)


def set_front_end_modules(prefixes: tuple[str, ...]) -> None:
    """Module-name prefixes of the running front end (reported apart by ``%monkey``)."""
    global _front_end
    if not isinstance(prefixes, tuple) or not all(isinstance(p, str) for p in prefixes):
        raise TypeError(f"set_front_end_modules() expected a tuple of str, got {prefixes!r}")
    _front_end = tuple(dict.fromkeys(("coopshell",) + prefixes))


def front_end_modules() -> tuple[str, ...]:
    """The prefixes :func:`set_front_end_modules` set."""
    return _front_end


def _is_front_end(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in _front_end)


def _split_stale(stale: list[Any]) -> tuple[list[Any], list[Any]]:
    user = [r for r in stale if not _is_front_end(r.module)]
    internal = [r for r in stale if _is_front_end(r.module)]
    return user, internal


def _internal_line(internal: list[Any]) -> str:
    tops = sorted({r.module.partition(".")[0] for r in internal})
    return (f"{len(internal)} reference(s) in the front end's own modules ({', '.join(tops)}) "
            "stay blocking on purpose: they run in the front end's threads")


def _render(report: Any) -> str:
    user, internal = _split_stale(list(report.stale))
    fixed = list(report.fixed)
    report.stale = user
    report.fixed = fixed[:MAX_LISTED]
    skipped = report.skipped.get("thread")
    if skipped is not None:
        report.skipped["thread"] = ("interactive session: the front end's threads need real locks "
                                    "(threading is patched only in scripts)")
    try:
        text = str(report)
    finally:
        report.stale, report.fixed = user + internal, fixed
    text = text.replace(f"rebound {min(len(fixed), MAX_LISTED)} stale reference(s):",
                        f"rebound {len(fixed)} stale reference(s):")
    text = text.replace("patch_all(fix_references=True) rebinds them", "%monkey --fix rebinds them")
    lines = text.split("\n")
    if len(fixed) > MAX_LISTED:
        rest = fixed[MAX_LISTED:]
        kinds = sorted({str(getattr(r, "target", "?")).split(" at ")[0] for r in rest})
        summary = f"  … and {len(rest)} more ({', '.join(kinds)[:100]})"
        at = next((i for i, ln in enumerate(lines) if ln.startswith("rebound ")), None)
        if at is not None:
            lines.insert(at + 1 + MAX_LISTED, summary)
    if not user and fixed:
        lines.append("no stale references in your modules")
    if internal:
        lines.append(_internal_line(internal))
    if any(n.startswith("-") for names in report.patched.values() for n in names):
        lines.append("(-name: removed from the module, as gevent does, because coopshell has no "
                     "cooperative version of it; code then falls back to what is left)")
    return "\n".join(lines)


def monkey(arg: str = "") -> str:
    """``%monkey [all|socket|dns|ssl|select|time|subprocess|os|signal|queue…] [--fix]``,
    ``%monkey off``, ``%monkey status``."""
    args = split(arg)
    try:
        import coopshell.monkey as m
    except ImportError as exc:
        raise MagicError(f"%monkey: coopshell.monkey is not available ({exc})") from None
    # The front end sets coopshell.monkey.INTERACTIVE (threading stays unpatched).
    fix = None  # patch_all's default: rebind stale references in the stdlib only
    if "--fix" in args:
        fix = True
        args = [a for a in args if a != "--fix"]
    if args == ["off"]:
        restored = m.unpatch_all()
        return ("unpatched: " + ", ".join(restored)) if restored else "nothing was patched"
    if args == ["status"]:
        patched = [name for name in _STATUS_MODULES if m.is_module_patched(name)]
        user, internal = _split_stale(m.stale_references())
        lines = ["patched: " + (", ".join(patched) if patched else "nothing")]
        if user:
            lines.append(f"{len(user)} stale reference(s) stay blocking (%monkey --fix rebinds them):")
            lines.extend(f"  {r}" for r in user)
        else:
            lines.append("no stale references")
        if internal:
            lines.append(_internal_line(internal))
        return "\n".join(lines)
    if not args or args == ["all"]:
        return _render(m.patch_all(fix_references=fix))
    flags = dict.fromkeys(_FLAGS, False)
    for a in args:
        key = _TARGETS.get(a.lower())
        if key is None:
            raise MagicError(f"%monkey: unknown target {a!r}; expected all, off, status or some of: "
                             + ", ".join(sorted(set(_TARGETS))))
        flags[key] = True
    if flags["thread"] and m.is_interactive():
        raise MagicError(THREAD_REFUSAL)
    try:
        report = m.patch_all(fix_references=fix, **flags)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise MagicError(f"%monkey: {exc}") from None
    return _render(report)
