"""Turns a run's results into ``compat/RESULTS.md``: per-file counts, totals, causes.

A file's cases are those gevent itself runs and does not skip (the control's
count; the alias's when the control died). "coopshell passed" is then capped
at that number, so the totals compare like with like.
"""

from __future__ import annotations

import collections
import re

from .env import REPO
from .parse import normalize_cause

__all__ = ["summarize", "render", "rank_causes"]


def _pair(results: dict) -> dict:
    files: dict = collections.defaultdict(dict)
    for r in results["tests"]:
        files[r["file"]][r["mode"]] = r
    return dict(sorted(files.items()))


def _cases(a: dict | None, c: dict | None) -> int:
    if c and c["finished"]:
        return max(0, c["ran"] - c["skipped"])
    return max(0, max((x["ran"] - x["skipped"]) for x in (a, c) if x))


def summarize(results: dict, meta: dict) -> dict:
    files = _pair(results)
    tot = {"cases": 0, "alias": 0, "control": 0, "files": len(files), "alias_whole": 0,
           "control_whole": 0, "alias_timeouts": 0, "control_timeouts": 0}
    for pair in files.values():
        a, c = pair.get("alias"), pair.get("control")
        n = _cases(a, c)
        tot["cases"] += n
        for mode, r in (("alias", a), ("control", c)):
            if r:
                tot[mode] += min(r["passed"], n)
                tot[mode + "_whole"] += bool(r["ok"])
                tot[mode + "_timeouts"] += bool(r["timed_out"])
    ex = collections.defaultdict(dict)
    for r in results["examples"]:
        ex[r["file"]][r["mode"]] = r
    tot["examples"] = len(ex)
    tot["ex_alias"] = sum(bool(p.get("alias", {}).get("ok")) for p in ex.values())
    tot["ex_control"] = sum(bool(p.get("control", {}).get("ok")) for p in ex.values())
    ratio = 100.0 * tot["alias"] / tot["control"] if tot["control"] else 0.0
    tot["ratio"] = ratio
    tot["headline"] = (f"compat: coopshell {tot['alias']}/{tot['cases']} cases, "
                       f"{tot['alias_whole']}/{tot['files']} files whole; gevent "
                       f"{tot['control']}/{tot['cases']}, {tot['control_whole']}/{tot['files']}; "
                       f"coopshell passes {ratio:.1f}% of what gevent passes; examples "
                       f"{tot['ex_alias']}/{tot['examples']} vs {tot['ex_control']}/"
                       f"{tot['examples']} ({meta['elapsed']} s)")
    return tot


_CLASS_REF = re.compile(r"""(?:'(\w+)' object|type object '(\w+)'|<(\w+) object)""")


def _class_index() -> dict:
    """class name -> coopshell module defining it (for "'X' object has no attribute")."""
    index: dict = {}
    pkg = REPO / "coopshell"
    for path in sorted(pkg.rglob("*.py")):
        mod = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for name in re.findall(r"^class (\w+)", path.read_text(errors="replace"), re.M):
            index.setdefault(name, mod)
    return index


def _module_for(cause: str, module: str, file: str, index: dict) -> str:
    if module:
        return module
    m = _CLASS_REF.search(cause)
    name = m and next(g for g in m.groups() if g)
    if name and name in index:
        return index[name]
    topic = file.removesuffix(".py").removeprefix("test__").split("_")[0]
    if (REPO / "coopshell" / f"{topic}.py").exists():
        return f"coopshell.{topic} (by file)"
    return "?"


def rank_causes(results: dict) -> list[tuple[int, int, str, str, list[str]]]:
    """(cases lost, failures, cause, coopshell module, files) under the alias, most
    cases lost first. A file that died before its summary loses all the cases it
    did not report; that loss is charged to the cause it died of."""
    groups: dict = {}
    index = _class_index()
    for name, pair in _pair(results).items():
        r = pair.get("alias")
        if r is None:
            continue
        unreported = 0
        if not r["finished"]:
            unreported = max(0, _cases(r, pair.get("control")) - r["passed"] - r["failed"]
                             - r["errors"] - r["skipped"])
        for i, (_case, _kind, cause, module) in enumerate(r["causes"]):
            key = normalize_cause(cause)
            g = groups.setdefault(key, [0, 0, collections.Counter(), set()])
            g[0] += 1 + (unreported if i == len(r["causes"]) - 1 else 0)
            g[1] += 1
            g[2][_module_for(cause, module, name, index)] += 1
            g[3].add(name.removesuffix(".py"))
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1][0], -kv[1][1]))
    return [(lost, n, cause, mods.most_common(1)[0][0], sorted(files))
            for cause, (lost, n, mods, files) in ranked]


def _cell(r: dict | None) -> str:
    if r is None:
        return "—"
    s = f"{r['passed']} / {r['failed']} / {r['errors']} / {r['skipped']}"
    if r["timed_out"]:
        s += " ⏱"
    elif not r["finished"]:
        s += " ✗"
    return s


def render(results: dict, meta: dict) -> str:
    tot = summarize(results, meta)
    out = ["# gevent compatibility: measured results", "",
           "<!-- written by `python -m compat`; rerun it rather than editing by hand -->", "",
           f"Run {meta['date']}, gevent {meta['gevent']}, alias `{meta['alias']}`, "
           f"{meta['jobs']} jobs, {meta['timeout']:g} s per file, network namespace per child: "
           f"{'yes' if meta['netns'] else 'no'}. Full run took **{meta['elapsed']} s**.", "",
           "| what | coopshell (alias) | gevent (control) |", "|---|---|---|",
           f"| test cases passed (portable files) | {tot['alias']} / {tot['cases']} | "
           f"{tot['control']} / {tot['cases']} |",
           f"| test files passing whole | {tot['alias_whole']} / {tot['files']} | "
           f"{tot['control_whole']} / {tot['files']} |",
           f"| test files killed by the time limit | {tot['alias_timeouts']} | "
           f"{tot['control_timeouts']} |",
           f"| examples that run | {tot['ex_alias']} / {tot['examples']} | "
           f"{tot['ex_control']} / {tot['examples']} |", "",
           f"coopshell passes **{tot['ratio']:.1f}%** of the cases gevent passes (target ≥ 95%).",
           "", "## Most common failure causes under the alias", "",
           "Grouped by the exception line (numbers, addresses and paths folded), ranked by "
           "the cases each cause costs: a file that dies at import loses every case gevent "
           "runs in it. \"module\" is the coopshell module the failure points to: the one "
           "a missing name was looked up in, else the innermost coopshell frame, else the "
           "class named in the message, else the test file's subject (\"by file\").", "",
           "| # | cases lost | failures | cause | module | files (first 6) |",
           "|---|---|---|---|---|---|"]
    for i, (lost, n, cause, module, files) in enumerate(rank_causes(results)[:40], 1):
        cause_md = cause.replace("|", "\\|").replace("`", "'")
        out.append(f"| {i} | {lost} | {n} | `{cause_md}` | {module} | {', '.join(files[:6])}"
                   f"{' …' if len(files) > 6 else ''} |")
    out += ["", "## Test files", "",
            "Cells: passed / failed / errors / skipped. ⏱ killed by the time limit (the case "
            "running then counts as an error); ✗ died before unittest's summary (import error "
            "or crash: one error). \"cases\" is what gevent runs and does not skip.", "",
            "| file | cases | coopshell | gevent | s (coop / gevent) |", "|---|---|---|---|---|"]
    for name, pair in _pair(results).items():
        a, c = pair.get("alias"), pair.get("control")
        secs = " / ".join(str(x["seconds"]) if x else "—" for x in (a, c))
        mark = " **✓**" if a and a["ok"] else ""
        out.append(f"| {name.removesuffix('.py')}{mark} | {_cases(a, c)} | {_cell(a)} | "
                   f"{_cell(c)} | {secs} |")
    out += ["", "## Examples", "", "| example | coopshell | gevent |", "|---|---|---|"]
    ex = collections.defaultdict(dict)
    for r in results["examples"]:
        ex[r["file"]][r["mode"]] = r
    for name, pair in sorted(ex.items()):
        cells = []
        for mode in ("alias", "control"):
            r = pair.get(mode)
            if r is None:
                cells.append("—")
            else:
                detail = (r["cause"] or r["note"]).replace("|", "\\|")[:150]
                cells.append("runs" if r["ok"] else f"fails: `{detail}`")
        out.append(f"| {name} | {cells[0]} | {cells[1]} |")
    out += ["", "Excluded test files and every run-time adaptation: see `compat/README.md`.", ""]
    return "\n".join(out)
