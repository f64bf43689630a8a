"""coopshell.fileobject: real pipes and files; a wait on one never stops the others."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading

import pytest

import coopshell as co
from coopshell import fileobject as fo
from coopshell.event import Event

FLAVOURS = [fo.FileObjectPosix, fo.FileObjectThread, fo.FileObjectBlock]


@pytest.fixture
def pipe():
    r, w = os.pipe()
    fds = [r, w]
    yield fds
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def test_posix_read_waits_in_the_hub_while_others_run(pipe):
    r, w = pipe
    f = fo.FileObjectPosix(r, "rb", closefd=False)
    got = co.spawn(f.read, 5)
    co.sleep(0.01)
    assert not got.dead                   # parked on the empty pipe; we still run
    ticks = []
    ticker = co.spawn(lambda: [ticks.append(co.sleep(0)) for _ in range(10)])
    ticker.join(timeout=5)
    assert len(ticks) == 10 and not got.dead
    os.write(w, b"hel")
    os.write(w, b"lo!")
    assert got.get(timeout=5) == b"hello"
    f.close()


def test_posix_write_to_a_full_pipe_waits_for_the_reader(pipe):
    r, w = pipe
    data = os.urandom(1024 * 1024)               # far more than a pipe holds
    out = fo.FileObjectPosix(w, "wb", closefd=False)
    inp = fo.FileObjectPosix(r, "rb", closefd=False)
    writer = co.spawn(lambda: (out.write(data), out.flush()))
    reader = co.spawn(inp.read, len(data))
    assert reader.get(timeout=10) == data
    writer.get(timeout=10)
    out.close()
    inp.close()


def test_posix_text_mode_lines_and_iteration(pipe):
    r, w = pipe
    out = fo.FileObjectPosix(w, "w", encoding="utf-8", newline="\n")
    inp = fo.FileObjectPosix(r, "r", encoding="utf-8")
    pipe.clear()                                  # both now own their fds
    writer = co.spawn(lambda: (out.writelines(["été\n", "deux\n"]), out.write("trois\n"),
                               out.close()))
    assert inp.readline() == "été\n"
    assert list(inp) == ["deux\n", "trois\n"]
    writer.get(timeout=5)
    inp.close()
    assert inp.closed and out.closed


def test_posix_close_wakes_a_waiting_reader_with_ebadf(pipe):
    r, w = pipe
    f = fo.FileObjectPosix(r, "rb", buffering=0, closefd=False)
    g = co.spawn(f.read, 10)
    co.sleep(0.01)
    assert not g.dead
    f.close()
    with pytest.raises(OSError) as info:
        g.get(timeout=5)
    assert info.value.errno == errno.EBADF


def test_posix_closefd_false_keeps_the_fd_and_its_blocking_mode(pipe):
    r, w = pipe
    assert os.get_blocking(r)
    f = fo.FileObjectPosix(r, "rb", closefd=False)
    assert not os.get_blocking(r) and f.fileno() == r
    f.close()
    assert os.get_blocking(r)                     # put back as it was
    os.write(w, b"x")
    assert os.read(r, 1) == b"x"                  # still open


def test_posix_closefd_true_closes_the_fd(pipe):
    r, w = pipe
    f = fo.FileObjectPosix(r, "rb")
    f.close()
    with pytest.raises(OSError):
        os.fstat(r)
    pipe.remove(r)


def test_thread_flavour_blocks_a_pool_thread_not_the_hub(pipe):
    r, w = pipe
    f = fo.FileObjectThread(r, "rb", buffering=0, closefd=False)
    in_thread = []
    got = co.spawn(lambda: (in_thread.append(threading.get_ident()), f.read(4))[1])
    co.sleep(0.01)
    assert not got.dead                           # a pool thread waits in os.read
    os.write(w, b"data")
    assert got.get(timeout=5) == b"data"
    f.close()
    assert f.closed


def test_thread_flavour_runs_calls_in_the_given_pool(tmp_path):
    from coopshell.threadpool import ThreadPool
    pool = ThreadPool(2)
    seen = []

    class Recording:
        def apply(self, func, args=(), kwds=None):
            seen.append(getattr(func, "__name__", func))
            return pool.apply(func, args, kwds)
    path = tmp_path / "t.txt"
    with fo.FileObjectThread(str(path), "w", threadpool=Recording()) as f:
        f.write("one\ntwo\n")
    with fo.FileObjectThread(path, "r", threadpool=Recording()) as f:
        assert f.readlines() == ["one\n", "two\n"]
    assert "write" in seen and "readlines" in seen
    pool.kill()


def test_thread_flavour_lock_argument():
    with pytest.raises(TypeError, match="lock must be True, False or a Semaphore"):
        fo.FileObjectThread(0, "rb", closefd=False, lock="yes")
    sem = co.lock.Semaphore()
    f = fo.FileObjectThread(0, "rb", closefd=False, lock=sem)
    assert f.lock is sem
    f2 = fo.FileObjectThread(0, "rb", closefd=False, lock=False)
    assert isinstance(f2.lock, co.lock.DummySemaphore)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_each_flavour_on_a_path_round_trips(flavour, tmp_path):
    path = tmp_path / "f.bin"
    with flavour(str(path), "wb") as f:
        f.write(b"abc" * 1000)
    with flavour(path, "rb") as f:
        assert f.read() == b"abc" * 1000
        assert f.seekable() and f.seek(0) == 0 and f.read(3) == b"abc" and f.tell() == 3
    assert f.closed
    with pytest.raises(fo.FileObjectClosed):
        f.read()
    f.close()                                     # twice is fine


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_each_flavour_rejects_bad_arguments(flavour, tmp_path):
    with pytest.raises(TypeError, match="file descriptor .* fileno\\(\\) or a path, got 1.5"):
        flavour(1.5)
    with pytest.raises(ValueError, match="invalid mode 'rw'"):
        flavour(str(tmp_path / "x"), "rw")
    with pytest.raises(ValueError, match="non-negative file descriptor, got -1"):
        flavour(-1)
    with pytest.raises(ValueError, match="closefd=False needs a file descriptor"):
        flavour(str(tmp_path / "x"), "w", closefd=False)
    with pytest.raises(ValueError, match="binary mode doesn't take an encoding"):
        flavour(str(tmp_path / "x"), "wb", encoding="utf-8")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_each_flavour_wraps_an_object_with_fileno(flavour, pipe):
    r, w = pipe
    reader = open(r, "rb", buffering=0, closefd=False)
    f = flavour(reader, "rb", buffering=0, closefd=True)
    os.write(w, b"xyz")
    assert f.read(3) == b"xyz"
    f.close()
    assert reader.closed                          # closefd=True closes what we were given


def test_default_flavour_and_the_environment_variable():
    assert fo.FileObject is fo.FileObjectPosix
    code = "import coopshell.fileobject as f; print(f.FileObject.__name__)"
    for value, expected in [("thread", "FileObjectThread"), ("block", "FileObjectBlock"),
                            ("coopshell.fileobject.FileObjectThread", "FileObjectThread")]:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "COOPSHELL_FILE": value}, timeout=60)
        assert out.stdout.strip() == expected, out.stderr
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "COOPSHELL_FILE": "nope"}, timeout=60)
    assert out.returncode != 0 and "COOPSHELL_FILE='nope': expected posix, thread, block" \
        in out.stderr


def test_many_pipes_at_once_in_one_thread():
    pairs = [os.pipe() for _ in range(50)]
    files = [(fo.FileObjectPosix(r, "rb"), fo.FileObjectPosix(w, "wb", buffering=0))
             for r, w in pairs]
    readers = [co.spawn(fr.read, 6) for fr, _ in files]
    go = Event()

    def write(fw, i):
        go.wait()
        fw.write(b"pipe%02d" % i)
        fw.close()
    writers = [co.spawn(write, fw, i) for i, (_, fw) in enumerate(files)]
    co.sleep(0.01)
    assert not any(g.dead for g in readers)
    go.set()
    assert [g.get(timeout=10) for g in readers] == [b"pipe%02d" % i for i in range(50)]
    co.joinall(writers, timeout=10, raise_error=True)
    for fr, _ in files:
        fr.close()


# -- name, OpenDescriptor, writeall (gevent's _fileobjectcommon / _fileobjectposix) -----

@pytest.mark.parametrize("cls", FLAVOURS)
def test_name_is_what_io_open_gives_and_stays_after_close(cls, tmp_path, pipe):
    path = str(tmp_path / "named")
    with open(path, "wb"):
        pass
    f = cls(path, "rb")
    assert f.name == path  # not the fd the Posix flavour opened underneath
    f.close()
    assert f.name == path
    g = cls(pipe[0], "rb", closefd=False)
    g.close()
    assert g.name == pipe[0]

    class Nameless:
        def fileno(self):
            return pipe[0]
        close = flush = isatty = closed = writable = lambda self: False
        seekable = readable = lambda self: True

    nameless = cls(Nameless(), "rb", closefd=False)
    with pytest.raises(AttributeError, match="has no 'name'"):
        nameless.name
    nameless.close()
    with pytest.raises(AttributeError):
        nameless.name


from coopshell._fileobjectcommon import OpenDescriptor, WriteallMixin  # noqa: E402
from coopshell._fileobjectposix import GreenOpenDescriptor  # noqa: E402


@pytest.mark.parametrize("desc", [OpenDescriptor, GreenOpenDescriptor])
@pytest.mark.parametrize("kind, match, kwargs", [
    (TypeError, "mode", {"mode": 42}),
    (TypeError, "buffering", {"buffering": "nope"}),
    (TypeError, "encoding", {"encoding": 42}),
    (TypeError, "errors", {"errors": 42}),
    (ValueError, "mode", {"mode": "aoeug"}),
    (ValueError, "mode U cannot be combined", {"mode": "wU"}),
    (ValueError, "text and binary", {"mode": "rtb"}),
    (ValueError, "append mode at once", {"mode": "rw"}),
    (ValueError, "exactly one", {"mode": "+"}),
    (ValueError, "take an encoding", {"mode": "rb", "encoding": "ascii"}),
    (ValueError, "take an errors", {"mode": "rb", "errors": "strict"}),
    (ValueError, "take a newline", {"mode": "rb", "newline": "\n"}),
])
def test_open_descriptor_refuses_like_io_open(desc, kind, match, kwargs):
    with pytest.raises(kind, match=match):
        desc(1, **kwargs)


@pytest.mark.parametrize("desc", [OpenDescriptor, GreenOpenDescriptor])
def test_atomic_write_gives_writeall_even_unbuffered(desc, pipe):
    d = desc(pipe[1], "wb", buffering=0, closefd=False, atomic_write=True)
    assert d.atomic_write
    out = d.opened()
    assert isinstance(out, WriteallMixin)
    assert out.writeall(b"x" * 10) == 10
    assert os.read(pipe[0], 100) == b"x" * 10


def test_green_writeall_finishes_a_write_bigger_than_the_pipe(pipe):
    # A non-blocking pipe takes ~64 KiB per write: writeall must wait and go on.
    out = GreenOpenDescriptor(pipe[1], "wb", buffering=0, closefd=False).opened()
    data = b"y" * (1 << 20)
    got = []

    def drain():
        reader = fo.FileObjectPosix(pipe[0], "rb", buffering=0, closefd=False)
        while sum(map(len, got)) < len(data):
            got.append(reader.read(1 << 16))
    g = co.spawn(drain)
    assert out.writeall(data) == len(data)
    g.join(timeout=30)
    assert b"".join(got) == data


def test_late_close_leaves_a_reused_fd_number_alone():
    """A FileObjectPosix whose fd was closed behind its back (the test's
    cleanup, another library) and whose number a new pipe got: closing it
    later, as a finalizer does, must not close the new pipe's end."""
    r, w = os.pipe()
    stale = fo.FileObjectPosix(w, "wb")
    os.close(w)                       # behind the FileObject's back
    r2, w2 = os.pipe()
    try:
        assert w in (r2, w2)          # the lowest free number is reused at once
        with pytest.raises(OSError) as info:
            stale.close()
        assert info.value.errno == errno.EBADF and "now names another file" in str(info.value)
        assert stale.closed
        os.write(w2, b"still open")   # the new pipe survived
        assert os.read(r2, 100) == b"still open"
    finally:
        for fd in (r, r2, w2):
            os.close(fd)
