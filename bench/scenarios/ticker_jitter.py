"""Ticker jitter at an idle prompt: a greenlet ticks every 10 ms while the
user sits at the coopshell shell's prompt (a real ``python -m coopshell`` in
a pseudo-terminal, asyncio + prompt_toolkit driving the hub through the
bridge). Each tick records how late it woke against its schedule; the table
gives the median, p99 and worst lateness. The other columns tick the same
way with nothing else running (gevent and eventlet do not run greenlets at a
plain REPL prompt at all), as the floor."""

from __future__ import annotations

import json
import time

from bench.common import Metric, Target, percentile

TITLE = "ticker jitter (10 ms period) at an idle prompt"
METRICS = [Metric("p50_ms", "ms late, median"), Metric("p99_ms", "ms late, p99"),
           Metric("max_ms", "ms late, worst")]
PARAMS = {"full": {"seconds": 5.0}, "quick": {"seconds": 2.0}, "smoke": {"seconds": 0.3}}
TARGETS = [Target("p99_ms", max_value=5.0)]
UVLOOP = True

_PERIOD = 0.01


def _stats(late):
    late_ms = [x * 1e3 for x in late]
    return {"p50_ms": percentile(late_ms, 0.5), "p99_ms": percentile(late_ms, 0.99),
            "max_ms": max(late_ms)}


def _tick(sleep, seconds, clock=time.monotonic):
    late = []
    nxt = clock()
    end = nxt + seconds
    while nxt < end:
        nxt += _PERIOD
        delay = nxt - clock()
        sleep(delay if delay > 0 else 0)
        late.append(clock() - nxt)
    return late


# The ticker typed at the prompt: records lateness, prints JSON when done.
_SHELL_CODE = (
    "import time as _t, json as _j; _late = []\n"
    "def _tick(seconds, period={period}):\n"
    "    nxt = _t.monotonic(); end = nxt + seconds\n"
    "    while nxt < end:\n"
    "        nxt += period; d = nxt - _t.monotonic(); co.sleep(d if d > 0 else 0)\n"
    "        _late.append(_t.monotonic() - nxt)\n"
    "    print('JITTER' + 'JSON', _j.dumps(_late))\n"
    "\n")


def run_coopshell(seconds):
    import os
    import sys
    import tempfile

    import pexpect

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1",
                   COOPSHELL_HISTORY=os.path.join(tmp, "history"))
        p = pexpect.spawn(sys.executable, ["-m", "coopshell"], env=env, encoding="utf-8",
                          timeout=seconds + 20, dimensions=(50, 200), maxread=1 << 20)
        try:
            p.expect(">>>")
            for line in _SHELL_CODE.format(period=_PERIOD).splitlines():
                p.sendline(line)
            p.expect(">>>")
            p.sendline(f"_g = spawn(_tick, {seconds})")
            p.expect(r"JITTERJSON (\[[^\]]*\])")        # idle at the prompt until then
            late = json.loads(p.match.group(1))
            p.sendcontrol("d")
            p.expect(pexpect.EOF)
        finally:
            if p.isalive():
                p.terminate(force=True)
    return _stats(late)


def run_gevent(seconds):
    import gevent
    return _stats(gevent.spawn(_tick, gevent.sleep, seconds).get())


def run_eventlet(seconds):
    import eventlet
    return _stats(eventlet.spawn(_tick, eventlet.sleep, seconds).wait())


def run_asyncio(seconds):
    import asyncio

    from bench.common import arun

    async def main():
        late = []
        nxt = time.monotonic()
        end = nxt + seconds
        while nxt < end:
            nxt += _PERIOD
            delay = nxt - time.monotonic()
            await asyncio.sleep(delay if delay > 0 else 0)
            late.append(time.monotonic() - nxt)
        return late

    return _stats(arun(main()))
