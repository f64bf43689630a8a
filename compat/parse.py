"""Reads unittest's verbose output: per-file counts and the cause of each failure.

Works on output cut short (a file killed by the time limit, or one that died
at import): the ``test_x (mod.Class.test_x) ... ok`` lines are counted as they
come, the case that was running when the output stops is an error, and an
import-time traceback is one error whose cause is its last line.
"""

from __future__ import annotations

import dataclasses
import re

__all__ = ["Counts", "parse_unittest", "normalize_cause"]

_VERDICT_END = re.compile(r"(ok|FAIL|ERROR|skipped '.*'|skipped \".*\"|expected failure|"
                          r"unexpected success)\s*$")
_BLOCK = re.compile(r"^(ERROR|FAIL): (\S+) \(([\w.]+)\)", re.M)
_RAN = re.compile(r"^Ran (\d+) tests? in", re.M)
_SUMMARY = re.compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$", re.M)
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning|Timeout|Interrupt|"
                       r"Failure|Fault)\b|[A-Za-z_][\w.]*Error)(:.*)?$")


@dataclasses.dataclass
class Counts:
    ran: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    finished: bool = False          # unittest printed its summary
    #: (case, FAIL/ERROR, cause line, coopshell module of the innermost coopshell frame)
    causes: list = dataclasses.field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.finished and self.failed == 0 and self.errors == 0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def normalize_cause(line: str) -> str:
    """Group alike messages: hide addresses, ids, numbers, paths and quoted reprs' details."""
    line = re.sub(r"0x[0-9a-fA-F]+", "0x…", line)
    line = re.sub(r"(?<![\w.])/[^\s'\":,)]+", "/…", line)
    line = re.sub(r"\b\d+(\.\d+)?\b", "N", line)
    line = re.sub(r"<[^<>]{40,}>", "<…>", line)
    return line[:160]


def _last_exception_line(block: str) -> str:
    """The exception line of the last traceback in ``block``: the first line after
    its innermost frame (and that frame's source and caret lines)."""
    lines = [ln.rstrip() for ln in block.splitlines()]
    frames = [i for i, ln in enumerate(lines) if ln.startswith('  File "')]
    if frames:
        j = frames[-1] + 1
        while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
            j += 1
        if j < len(lines):
            return lines[j].strip()
    lines = [ln for ln in lines if ln.strip()]
    for ln in reversed(lines):
        if not ln.startswith((" ", "\t", "Traceback", "During handling", "The above")) and \
                (_EXC_LINE.match(ln) or ":" in ln):
            return ln.strip()
    return lines[-1].strip() if lines else "(no traceback)"


_FRAME = re.compile(r'File "[^"]*/(coopshell/[\w/]+)\.py"')
_NAMED = re.compile(r"(?:module |from |named )'((?:coopshell|gevent)[\w.]*)'")


def blamed_module(block: str, cause: str) -> str:
    """The coopshell module a failure points to: the one a missing name was looked
    up in, else the innermost coopshell frame of its traceback."""
    missing = re.search(r"cannot import name '(\w+)' from '([\w.]+)' \(\S*__init__\.py\)", cause)
    if missing:  # `from gevent import X` on a package that lacks the submodule X
        pkg = missing.group(2)
        pkg = "coopshell" + pkg[len("gevent"):] if pkg.startswith("gevent") else pkg
        return f"{pkg}.{missing.group(1)}"
    named = _NAMED.search(cause)
    if named:
        name = named.group(1)
        return "coopshell" + name[len("gevent"):] if name.startswith("gevent") else name
    frames = _FRAME.findall(block)
    return frames[-1].replace("/", ".").removesuffix(".__init__") if frames else ""


def parse_unittest(text: str, *, returncode: int | None, timed_out: bool) -> Counts:
    c = Counts()
    verdicts: dict[str, str] = {}
    started: list[str] = []
    for line in text.splitlines():
        m = re.match(r"^(\w+) \(([\w.]+)\)", line)
        if m and " ... " in line:
            key = f"{m.group(2)}.{m.group(1)}" if not m.group(2).endswith(m.group(1)) else m.group(2)
            started.append(key)
            v = _VERDICT_END.search(line.split(" ... ", 1)[1])
            if v:  # the verdict, possibly after output the case printed on the same line
                verdicts[key] = v.group(1)
        elif started and started[-1] not in verdicts:
            v = _VERDICT_END.search(line)
            if v:  # the verdict came after output the case printed
                verdicts[started[-1]] = v.group(1)
    # Failure blocks: "ERROR: test_x (mod.Class.test_x)" ... up to the next separator.
    parts = re.split(r"^={50,}\s*$", text, flags=re.M)
    for part in parts[1:]:
        m = _BLOCK.search(part)
        if not m:
            continue
        body = re.split(r"^-{50,}\s*$", part, maxsplit=2, flags=re.M)
        tb = body[1] if len(body) > 1 else part
        cause = _last_exception_line(tb)
        c.causes.append((m.group(3), m.group(1), cause, blamed_module(tb, cause)))
    ran = _RAN.search(text)
    summary = _SUMMARY.search(text[ran.end():]) if ran else None
    if ran and summary:
        c.finished = True
        c.ran = int(ran.group(1))
        fields = dict(re.findall(r"(\w+)=(\d+)", summary.group(2) or ""))
        c.failed = int(fields.get("failures", 0))
        c.errors = int(fields.get("errors", 0))
        c.skipped = int(fields.get("skipped", 0))
        other = int(fields.get("expected_failures", 0)) + int(fields.get("unexpected_successes", 0))
        c.passed = max(0, c.ran - c.failed - c.errors - c.skipped - other)
        if returncode not in (0, 1, None) and c.failed == c.errors == 0:
            c.errors, c.note = 1, f"exit status {returncode} after an OK summary"
            c.causes.append(("(file)", "ERROR", f"process exit status {returncode}", ""))
        return c
    if not started and not timed_out and returncode == 0:
        # A script-style test file (no unittest): gevent's runner counts exit 0
        # as a pass, whatever it printed (test__import_wait prints the
        # traceback of the greenlet error it expects).
        c.ran = c.passed = 1
        c.finished, c.note = True, "script (no unittest cases): exit 0"
        return c
    # Cut short: count what was seen, the running case (if any) is an error.
    c.ran = len(started)
    c.passed = sum(1 for v in verdicts.values() if v == "ok")
    c.failed = sum(1 for v in verdicts.values() if v == "FAIL")
    c.errors = sum(1 for v in verdicts.values() if v == "ERROR")
    c.skipped = sum(1 for v in verdicts.values() if v.startswith("skipped"))
    pending = [k for k in started if k not in verdicts]
    if timed_out:
        c.note = "killed by the time limit" + (f" in {pending[-1]}" if pending else "")
        c.causes.append((pending[-1] if pending else "(file)", "ERROR",
                         "timed out (killed by the harness's time limit)", ""))
    else:
        cause = _last_exception_line(text[-4000:]) if text.strip() else "(no output)"
        c.note = f"died (exit status {returncode})" + (" at import" if not started else "")
        tail = text[-6000:]
        c.causes.append((pending[-1] if pending else "(import)", "ERROR", cause,
                         blamed_module(tail, cause)))
    c.errors += 1
    return c
