"""coopshell.subprocess: real children, cooperative wait/communicate/pipes,
the stdlib's helpers and names."""

import subprocess as std
import sys
import threading
import time

import pytest

import coopshell as co
import coopshell.os as cos
import coopshell.subprocess as sp
from helpers import heartbeat

PY = sys.executable


def test_ten_concurrent_runs_overlap():
    t0 = time.monotonic()
    gs = [co.spawn(sp.run, ["sleep", "0.5"]) for _ in range(10)]
    co.joinall(gs, raise_error=True)
    assert all(g.value.returncode == 0 for g in gs)
    assert time.monotonic() - t0 < 2.5


def test_communicate_moves_large_data_both_ways_while_the_hub_runs():
    ticks, beat = heartbeat()
    code = ("import sys, time; d = sys.stdin.buffer.read(); time.sleep(0.1); "
            "sys.stdout.buffer.write(d.upper()); sys.stderr.write('e' * 200000); sys.exit(3)")
    r = sp.run([PY, "-c", code], input=b"x" * 500_000, capture_output=True)
    beat.kill()
    assert r.returncode == 3
    assert r.stdout == b"X" * 500_000 and r.stderr == b"e" * 200_000
    assert len(ticks) >= 5


def test_wait_is_cooperative_and_times_out():
    p = sp.Popen(["sleep", "5"])
    ticks, beat = heartbeat()
    t0 = time.monotonic()
    with pytest.raises(std.TimeoutExpired):
        p.wait(timeout=0.2)
    assert 0.15 < time.monotonic() - t0 < 2
    assert len(ticks) >= 5
    p.kill()
    assert p.wait() == -9
    beat.kill()
    # The main greenlet alone waiting on a child: no LoopExit.
    assert sp.Popen([PY, "-c", "import time; time.sleep(0.1)"]).wait() == 0


def test_communicate_timeout_keeps_partial_output_and_can_resume():
    p = sp.Popen([PY, "-c", "import time; print('a', flush=True); time.sleep(0.4); print('b')"],
                 stdout=sp.PIPE)
    with pytest.raises(sp.TimeoutExpired) as info:
        p.communicate(timeout=0.2)
    assert info.value.output == b"a\n"
    assert p.communicate() == (b"a\nb\n", None)
    assert p.returncode == 0


def test_run_timeout_kills_the_child():
    t0 = time.monotonic()
    with pytest.raises(sp.TimeoutExpired):
        sp.run(["sleep", "5"], timeout=0.2)
    assert time.monotonic() - t0 < 2


def test_pipe_file_objects_are_cooperative():
    code = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.1)"
    p = sp.Popen([PY, "-c", code], stdout=sp.PIPE, text=True)
    ticks, beat = heartbeat()
    assert list(p.stdout) == ["0\n", "1\n", "2\n"]
    assert p.wait() == 0
    assert len(ticks) >= 10
    beat.kill()
    p.stdout.close()
    cat = sp.Popen(["cat"], stdin=sp.PIPE, stdout=sp.PIPE)
    cat.stdin.write(b"hello\n")
    cat.stdin.flush()
    assert cat.stdout.readline() == b"hello\n"
    cat.stdin.close()
    assert cat.stdout.read() == b""
    assert cat.wait() == 0
    cat.stdout.close()


def test_helpers_match_the_stdlib():
    assert sp.check_output(["echo", "hi"], text=True) == "hi\n"
    assert sp.check_output([PY, "-c", "import sys; print(sys.stdin.read())"], input="in",
                           text=True) == "in\n"
    assert sp.call(["sh", "-c", "exit 7"]) == 7
    assert sp.check_call(["true"]) == 0
    with pytest.raises(sp.CalledProcessError) as info:
        sp.check_call(["false"])
    assert info.value.returncode == 1
    with pytest.raises(sp.CalledProcessError):
        sp.run(["sh", "-c", "echo out; exit 2"], capture_output=True, check=True)
    assert sp.getstatusoutput("echo a; exit 4") == (4, "a")
    assert sp.getoutput("echo b") == "b"
    with pytest.raises(ValueError, match="stdin and input"):
        sp.run(["true"], input=b"", stdin=sp.PIPE)
    with sp.Popen(["echo", "ctx"], stdout=sp.PIPE) as p:
        assert p.stdout.read() == b"ctx\n"
    assert p.returncode == 0


def test_names_are_the_stdlibs():
    for name in ("PIPE", "STDOUT", "DEVNULL", "CalledProcessError", "TimeoutExpired",
                 "CompletedProcess", "SubprocessError"):
        assert getattr(sp, name) is getattr(std, name)
    assert issubclass(sp.Popen, std.Popen)
    for name in sp.__implements__:
        assert getattr(sp, name) is not getattr(std, name)
    assert set(std.__all__) <= set(sp.__all__)


@pytest.mark.parametrize("where", ["sigchld", "thread"])
def test_waiting_without_pidfd(monkeypatch, where):
    # The fallbacks run for real: SIGCHLD in the main thread, a pool thread elsewhere.
    monkeypatch.setattr(cos, "USE_PIDFD", False)
    out = []

    def job():
        t0 = time.monotonic()
        p = sp.Popen(["sleep", "0.2"])
        with pytest.raises(sp.TimeoutExpired):
            p.wait(0.05)
        out.append((p.wait(), time.monotonic() - t0))

    if where == "sigchld":
        ticks, beat = heartbeat()
        job()
        beat.kill()
        assert len(ticks) >= 5
    else:
        t = threading.Thread(target=job)
        t.start()
        t.join(10)
    assert out and out[0][0] == 0 and out[0][1] < 2


def test_exit_closes_a_pipe_another_greenlet_is_reading_and_reaps_the_child():
    """Leaving ``with Popen(...)`` while a reader greenlet is parked in
    ``proc.stdout.read()`` closes the pipe under it (no "reentrant call"
    RuntimeError) and still reaps the child (gevent's test__subprocess)."""
    proc = sp.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                    stdout=sp.PIPE, stderr=sp.PIPE)
    reader = co.spawn(proc.stdout.read)
    while reader.state in ("new", "scheduled"):
        co.sleep(0)  # until the reader has started and parked in the empty pipe
    assert reader.state == "running" and not reader.dead
    proc.kill()
    proc.__exit__(None, None, None)
    assert proc.stdout.closed and proc.stderr.closed
    assert proc.poll() is not None
    reader.join(timeout=10)
    assert reader.dead and isinstance(reader.exception, ValueError)
    assert proc._communicating_greenlets is None
