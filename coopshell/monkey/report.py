"""What ``patch_all()`` did, as data and as text.

``str(report)`` is written for the person who called ``patch_all()``:
what was patched, what was skipped and why, warnings, and the module
globals that still hold an original (stale references). A front end can
ask for its own modules to be reported apart (``internal_prefixes``) and
for its own hint (``hint``: the shell says ``%monkey --fix``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["StaleReference", "PatchReport", "DEFAULT_HINT", "CONVERTED_PREFIX"]

#: How stale references can be rebound, for a script.
DEFAULT_HINT = "patch_all(fix_references=True) rebinds them"
#: ``StaleReference.module`` of an object converted in place (an SSLContext)
CONVERTED_PREFIX = "<"


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

    #: stdlib module -> names replaced in it by this call; ``-name`` is a
    #: name removed (``select: -epoll``: ``select.epoll`` no longer exists,
    #: so ``selectors`` cannot pick a poller that would block the hub)
    patched: dict[str, list[str]] = field(default_factory=dict)
    #: patch name -> why it was not applied
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: informational lines (nothing to patch, ...)
    notes: list[str] = field(default_factory=list)
    #: the user's module globals still bound to originals after patching
    stale: list[StaleReference] = field(default_factory=list)
    #: stale references inside the front end's own modules (``internal_prefixes``)
    internal: list[StaleReference] = field(default_factory=list)
    #: the stale references that were rebound (and objects converted in place)
    fixed: list[StaleReference] = field(default_factory=list)
    interactive: bool = False
    #: what to do about stale references, in the caller's words
    hint: str = DEFAULT_HINT

    @property
    def ok(self) -> bool:
        """True when nothing was skipped and none of the user's calls stays blocking."""
        return not self.skipped and not self.stale

    def __str__(self) -> str:
        lines = self._patched_lines()
        if self.skipped:
            lines.append("skipped:")
            lines.extend(f"  {name}: {why}" for name, why in self.skipped.items())
        lines.extend(f"note: {n}" for n in self.notes)
        lines.extend(f"warning: {w}" for w in self.warnings)
        lines.extend(self._fixed_lines())
        if self.stale:
            lines.append(f"{len(self.stale)} stale reference(s) stay blocking ({self.hint}):")
            lines.extend(f"  {r}" for r in self.stale)
        elif not self.fixed:
            lines.append("no stale references")
        if self.internal:
            names = sorted({r.module.partition(".")[0] for r in self.internal})
            lines.append(f"{len(self.internal)} stale reference(s) in the front end's own modules "
                         f"({', '.join(names)}): they do not affect your code")
        return "\n".join(lines)

    def _patched_lines(self) -> list[str]:
        if not self.patched:
            return ["patched: nothing"]
        lines = ["patched:"]
        for mod, names in self.patched.items():
            lines.append(f"  {mod}: {', '.join(names) if names else '(already patched)'}")
        if any(n.startswith("-") for names in self.patched.values() for n in names):
            lines.append("  (-name: removed, so nothing can pick that blocking poller)")
        return lines

    def _fixed_lines(self) -> list[str]:
        if not self.fixed:
            return []
        names = [r for r in self.fixed if not r.module.startswith(CONVERTED_PREFIX)]
        converted = len(self.fixed) - len(names)
        lines = []
        if names:
            lines.append(f"rebound {len(names)} stale reference(s):")
            lines.extend(f"  {r}" for r in names)
        if converted:
            lines.append(f"converted {converted} ssl.SSLContext object(s) created before patching")
        return lines

    def merge(self, other: PatchReport) -> None:
        """Add ``other`` (one ``patch_X()`` report) to this one."""
        for mod, names in other.patched.items():
            mine = self.patched.setdefault(mod, [])
            mine.extend(n for n in names if n not in mine)
        self.skipped.update(other.skipped)
        self.warnings.extend(other.warnings)
        self.notes.extend(other.notes)

    # Kept for callers of the single-module version.
    _merge = merge
