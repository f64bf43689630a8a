"""coopshell.signal under patching: handlers run in a greenlet and may block."""

from __future__ import annotations

import pytest

from helpers.monkey_run import Batch

SCENARIOS = {"blocking_handler": """
import signal
from coopshell import monkey
import coopshell
r = monkey.patch_all()
OUT["patched"] = r.patched.get("signal")
seen = []
def handler(signum, frame):
    time.sleep(0.01)            # blocking call: cooperative inside the handler's greenlet
    seen.append(signum)
prev = signal.signal(signal.SIGUSR1, handler)
OUT["getsignal"] = signal.getsignal(signal.SIGUSR1) is handler
for _ in range(3):
    os.kill(os.getpid(), signal.SIGUSR1)
    while len(seen) < _ + 1:
        coopshell.sleep(0.005)
OUT["seen"] = seen
OUT["restore"] = signal.signal(signal.SIGUSR1, signal.SIG_DFL) is handler
OUT["dfl"] = signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
try:
    signal.signal(signal.SIGUSR1, 42)
except TypeError as e:
    OUT["bad"] = str(e)
"""}


def test_signal_handler_may_block_under_patching():
    b = Batch(SCENARIOS)
    try:
        r = b.result("blocking_handler")
    finally:
        b.close()
    assert r["patched"] == ["signal", "getsignal"]
    assert r["getsignal"] and r["restore"] and r["dfl"]
    assert r["seen"] == [10, 10, 10]  # SIGUSR1 on Linux
    assert "callable" in r["bad"]


def test_signal_handler_ref_is_gevents_keep_alive_switch():
    import signal

    import coopshell
    loop = coopshell.get_hub().loop
    before = loop.activecnt
    sig = coopshell.signal_handler(signal.SIGUSR2, lambda: None)
    try:
        assert sig.ref is False and loop.activecnt == before  # waiting for a signal is no work
        sig.ref = True
        assert sig.ref is True and loop.activecnt == before + 1
        sig.ref = False
        assert loop.activecnt == before
    finally:
        sig.cancel()


def test_handler_exception_is_raised_in_the_main_greenlet():
    # It used to be printed by the handler's greenlet and lost: the main
    # greenlet slept on (gevent raises it there, as the stdlib does in the
    # main thread).
    import os
    import signal

    import coopshell
    from coopshell.event import Event

    class Expected(Exception):
        pass

    def boom():
        raise Expected("from the handler")

    sig = coopshell.signal_handler(signal.SIGUSR2, boom)
    never = Event()
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        with pytest.raises(Expected, match="from the handler"):
            never.wait(timeout=30)
        # and the handler stays installed
        os.kill(os.getpid(), signal.SIGUSR2)
        with pytest.raises(Expected):
            never.wait(timeout=30)
    finally:
        sig.cancel()
