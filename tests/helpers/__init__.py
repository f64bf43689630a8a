"""Shared helpers for the test suite (local servers, subprocess runners)."""

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
