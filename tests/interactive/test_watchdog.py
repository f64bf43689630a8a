"""The blocked-hub detector (coopshell.interactive.watchdog) against a C call that holds the GIL."""

import asyncio
import io
import re

import coopshell as co
from coopshell.interactive import bridge
from coopshell.interactive.watchdog import BlockingDetector


def test_gil_holding_call_is_reported_after_it_returns():
    # sum(range(...)) is one C call: the watcher thread cannot run until it returns.
    out = io.StringIO()

    async def main():
        b = bridge.attach()
        det = BlockingDetector(threshold=0.05, stream=out)
        det.start()
        try:
            await asyncio.sleep(0.1)      # idle in asyncio's select: the watcher parks
            g = co.spawn(lambda: sum(range(3 * 10**7)))
            g.name = "summer"
            await g
            for _ in range(100):            # the report comes from the watcher thread
                if det.warnings:
                    break
                await asyncio.sleep(0.05)
        finally:
            det.stop()
            b.detach()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 60))
    finally:
        loop.close()
    text = out.getvalue()
    # The culprit is named either by its Greenlet or, when the watcher caught a
    # glimpse of the stack first (a loaded machine), by its line.
    assert re.search(r'the hub was blocked \d+\.\d s by (<Greenlet "summer" .*|a greenlet at '
                     r'.*test_watchdog\.py:\d+ in <lambda> )\(in one call; '
                     r'reported after it returned', text), text
    assert text.count("blocked") == 1, text


def test_detector_watches_the_loop_through_its_poll_hooks_and_restores_the_previous_pair():
    loop = co.get_hub().loop
    calls = []
    mine = (lambda: calls.append("enter"), lambda: calls.append("leave"))
    loop.set_poll_hooks(*mine)
    try:
        det = BlockingDetector(threshold=5, stream=io.StringIO())
        det.start()
        try:
            assert loop.poll_hooks == (det._enter_idle, det._leave_idle)
            beat = det._beat
            co.sleep(0.01)                  # one blocking poll at least
            assert det._beat > beat and not det._idle
        finally:
            det.stop()
        assert loop.poll_hooks == mine
    finally:
        loop.set_poll_hooks(None, None)
    assert loop.poll_hooks is None
