"""coopshell.os: fork with a cooperative child, waitpid without polling,
reads and writes that wait in the hub."""

import os
import subprocess

import pytest

import coopshell as co
import coopshell.os as cos
from helpers import heartbeat, run_script


def test_fork_child_runs_greenlets_and_exits_with_a_code():
    rc, out, err = run_script("""
        import os, time, coopshell as co, coopshell.os as cos
        pool = co.get_hub().threadpool
        pool.apply(abs, (1,))                      # the parent has warm pool threads
        ticks = []
        def beat():
            while True:
                co.sleep(0.01)
                ticks.append(1)
        co.spawn(beat)
        pid = cos.fork()
        if pid == 0:
            gs = [co.spawn(lambda i=i: co.sleep(0.05) or i) for i in range(5)]
            co.joinall(gs)
            n = pool.apply(sum, ([g.value for g in gs],))   # the pool works in the child
            os._exit(n + 20)
        t0 = time.monotonic()
        before = len(ticks)
        rpid, status = cos.waitpid(pid, 0)
        print("child", rpid == pid, os.waitstatus_to_exitcode(status))
        print("parent beat while waiting", len(ticks) - before >= 3)
    """)
    assert rc == 0, err
    assert "child True 30" in out
    assert "parent beat while waiting True" in out


def test_fork_and_watch_reports_the_status():
    rc, out, err = run_script("""
        import os, coopshell as co, coopshell.os as cos
        done = co.event.AsyncResult()
        pid = cos.fork_and_watch(lambda w: done.set((w.pid, os.waitstatus_to_exitcode(w.rstatus))))
        if pid == 0:
            co.sleep(0.05)
            os._exit(7)
        print("callback", done.get(timeout=10) == (pid, 7))
        rpid, status = cos.waitpid(pid, 0)
        print("waitpid", rpid == pid, os.waitstatus_to_exitcode(status))
    """)
    assert rc == 0, err
    assert "callback True" in out and "waitpid True 7" in out


def test_waitpid_variants():
    p = subprocess.Popen(["sleep", "0.2"])
    assert cos.waitpid(p.pid, os.WNOHANG) == (0, 0)
    ticks, beat = heartbeat()
    rpid, status = cos.waitpid(p.pid, 0)
    assert rpid == p.pid and os.waitstatus_to_exitcode(status) == 0
    assert len(ticks) >= 5
    p.returncode = 0                    # reaped by us; keep Popen from trying again
    q = subprocess.Popen(["sh", "-c", "exit 3"])
    rpid, status = cos.waitpid(-1, 0)   # any child: waits in a pool thread
    assert rpid == q.pid and os.waitstatus_to_exitcode(status) == 3
    q.returncode = 3
    beat.kill()
    with pytest.raises(ChildProcessError):
        cos.waitpid(os.getpid(), 0)


def test_nb_read_and_nb_write_wait_on_eagain():
    r, w = os.pipe()
    try:
        assert cos.make_nonblocking(r) is True
        assert cos.make_nonblocking(r) is False
        cos.make_nonblocking(w)
        got = co.spawn(cos.nb_read, r, 100)
        co.sleep(0.05)
        assert not got.ready()          # parked on EAGAIN, not blocking the thread
        assert cos.nb_write(w, b"ping") == 4
        assert got.get(timeout=5) == b"ping"
        # Fill the pipe; a writer then waits until a reader drains it.
        filled = 0
        while True:
            try:
                filled += os.write(w, b"x" * 65536)
            except BlockingIOError:
                break
        writer = co.spawn(cos.nb_write, w, b"y")
        co.sleep(0.05)
        assert not writer.ready()
        drained = b""
        while len(drained) < filled:
            drained += cos.nb_read(r, 1 << 16)
        assert writer.get(timeout=5) == 1
        assert cos.nb_read(r, 10) == b"y"
    finally:
        cos.close(r)
        cos.close(w)


def test_read_and_write_on_blocking_fds_and_files(tmp_path):
    r, w = os.pipe()
    try:
        ticks, beat = heartbeat()
        co.spawn_later(0.1, cos.write, w, b"later")
        assert cos.read(r, 10) == b"later"     # a blocking pipe: waits in the hub
        assert len(ticks) >= 3
        beat.kill()
        assert os.get_blocking(r)               # left as it was
    finally:
        cos.close(r)
        cos.close(w)
    path = tmp_path / "f"
    path.write_bytes(b"file data")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert cos.read(fd, 100) == b"file data"   # epoll refuses files: read at once
        assert cos.tp_read(fd, 100) == b""
    finally:
        cos.close(fd)


def test_names():
    assert set(cos.__all__) >= {"fork", "waitpid", "read", "write", "make_nonblocking", "nb_read",
                                "nb_write", "tp_read", "tp_write", "fork_and_watch"}
    for name in cos.__extensions__:
        assert not hasattr(os, name), name
    with pytest.raises(co.Timeout):
        with co.Timeout(0.05):
            r, w = os.pipe()
            try:
                cos.read(r, 1)
            finally:
                cos.close(r)
                cos.close(w)


def test_the_rest_of_os_is_passed_through():
    # gevent.os has all of os (gevent's tests call gevent.os.pipe, _exit)
    import os as std_os
    for name in ("pipe", "_exit", "getpid", "path", "O_NONBLOCK"):
        assert getattr(cos, name) is getattr(std_os, name), name
        assert name in cos.__imports__
    assert cos.read is not std_os.read and "read" not in cos.__imports__


def test_nb_io_retries_eintr_and_closes_its_one_watcher():
    """gevent's nb_read/nb_write: an OSError saying EINTR (as a raw errno,
    the way a C extension reports it) is retried like EAGAIN, waiting on a
    single watcher that is closed when the call ends."""
    import errno
    r, w = os.pipe()
    try:
        cos.make_nonblocking(r)
        calls = []

        def interrupted_once_then_read(fd, n):
            calls.append(fd)
            if len(calls) == 1:
                err = OSError()
                err.errno = errno.EINTR
                raise err
            return os.read(fd, n)

        g = co.spawn(cos._nb_io, interrupted_once_then_read, r, 10, 1)
        co.spawn(os.write, w, b"late")  # the pipe is empty until this runs
        assert g.get(timeout=10) == b"late"
        assert calls[0] == r and len(calls) >= 2
        with pytest.raises(ValueError):
            cos._nb_io(lambda fd, n: (_ for _ in ()).throw(ValueError("bad")), r, 1, 1)
    finally:
        os.close(r)
        os.close(w)
