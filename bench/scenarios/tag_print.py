"""Tagged output's cost: 10 greenlets print ``n`` lines in all
(``print("item", i, "ok")``: six writes each untagged, one while tagging
is on, whose ``print`` joins the text first; a ``sleep(0)`` every 10
lines), with ``coopshell.interactive.tagging`` off and on, alternating,
``reps`` times, into three streams:

- the shell's: prompt_toolkit's ``StdoutProxy`` (what ``sys.stdout`` is at
  the coopshell prompt) on a terminal output writing to /dev/null, timed
  until its writer thread has written everything; the target (issue 16: at
  most 1.2x);
- a line-buffered ``TextIOWrapper`` on /dev/null (a script's stdout on a
  terminal);
- a block-buffered one (the worst case: the C stream costs almost nothing,
  so the Python ``print`` and ``write`` of the tagged path are all there is).

Reported: µs per line off and on in the shell, and on ÷ off for each stream.
Only the coopshell column runs this."""

from __future__ import annotations

import io
import os
import statistics
import sys
from time import perf_counter

from bench.common import Metric, Target

TITLE = "tagged output: print from greenlets, %tag on vs off"
METRICS = [Metric("us_off", "µs/line, tagging off, shell stream"),
           Metric("us_on", "µs/line, tagging on, shell stream"),
           Metric("ratio", "on ÷ off, shell stream (StdoutProxy)"),
           Metric("ratio_line", "on ÷ off, line-buffered file"),
           Metric("ratio_block", "on ÷ off, block-buffered file (worst case)")]
PARAMS = {"full": {"n": 50_000, "reps": 7}, "quick": {"n": 20_000, "reps": 5},
          "smoke": {"n": 500, "reps": 1}}
TARGETS = [Target("ratio", max_value=1.2)]


def _shell_stream():
    from prompt_toolkit.application.current import create_app_session
    from prompt_toolkit.data_structures import Size
    from prompt_toolkit.output.vt100 import Vt100_Output
    from prompt_toolkit.patch_stdout import StdoutProxy

    sink = open(os.devnull, "w")
    out = Vt100_Output(sink, get_size=lambda: Size(rows=24, columns=80))
    with create_app_session(output=out):
        proxy = StdoutProxy(sleep_between_writes=0, raw=True)
    return proxy, sink


def _once(co, tagging, n, tagged, kind):
    if kind == "shell":
        stream, sink = _shell_stream()
    else:
        sink = None
        raw = open(os.devnull, "wb", buffering=0)
        stream = io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8",
                                  line_buffering=kind == "line")
    saved = sys.stdout
    sys.stdout = stream
    try:
        if tagged:
            tagging.enable(dim=True)
        per = n // 10

        def printer(k):
            for i in range(per):
                print("item", i, "ok")
                if i % 10 == 9:
                    co.sleep(0)

        gs = [co.Greenlet(printer, k) for k in range(10)]
        for k, g in enumerate(gs):
            g.name = f"printer-{k}"
        t0 = perf_counter()
        for g in gs:
            g.start()
        co.joinall(gs)
        tagging.disable()
        sys.stdout.flush()
        stream.close()          # the shell's proxy: waits for its writer thread
        return (perf_counter() - t0) / (per * 10) * 1e6
    finally:
        tagging.disable()
        sys.stdout = saved
        stream.close()
        if sink is not None:
            sink.close()


def run_coopshell(n, reps):
    import coopshell as co
    from coopshell.interactive import tagging

    co.sleep(0)
    kinds = ("shell", "line", "block")
    times: dict[tuple[str, bool], list[float]] = {(k, t): [] for k in kinds for t in (False, True)}
    for kind in kinds:                       # warm-up every path
        for tagged in (False, True):
            _once(co, tagging, min(n, 2000), tagged, kind)
    for _ in range(reps):
        for kind in kinds:
            for tagged in (False, True):
                times[kind, tagged].append(_once(co, tagging, n, tagged, kind))
    m = {key: statistics.median(v) for key, v in times.items()}
    return {"us_off": m["shell", False], "us_on": m["shell", True],
            "ratio": m["shell", True] / m["shell", False],
            "ratio_line": m["line", True] / m["line", False],
            "ratio_block": m["block", True] / m["block", False]}
