"""Shared helpers for the test suite (local servers, subprocess runners)."""

import contextlib
import subprocess
import sys
import textwrap

import coopshell as co


def run_script(code, timeout=30):
    """Run ``code`` in a fresh interpreter; return (returncode, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def heartbeat(interval=0.01):
    """Spawn a greenlet that counts ticks; returns (ticks list, greenlet)."""
    ticks = []

    def beat():
        while True:
            co.sleep(interval)
            ticks.append(1)

    return ticks, co.spawn(beat)


@contextlib.contextmanager
def event_bound_to_another_thread(timeout=60):
    """Yield an ``Event`` that a greenlet in another thread waits on (so the
    event is bound to that thread's hub); set it and join the thread after."""
    import threading
    from coopshell.event import Event
    ev = Event()
    ready, release = threading.Event(), threading.Event()

    def owner():
        g = co.spawn(ev.wait, 30)   # binds ev to this thread's hub
        co.sleep(0)
        ready.set()
        while not release.is_set():
            co.sleep(0.005)
        ev.set()
        g.join()

    t = threading.Thread(target=owner)
    t.start()
    assert ready.wait(timeout)
    try:
        yield ev
    finally:
        release.set()
        t.join(timeout)
    assert not t.is_alive()
