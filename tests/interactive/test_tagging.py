"""Tagged background output at the stream level (the front ends wire it to %tag)."""

from __future__ import annotations

import io
import sys

import coopshell as co
from coopshell.event import Event
from coopshell.interactive import tagging
from coopshell.interactive.tagging import TaggedStream, tag_of


def _named(name, func, *args):
    g = co.Greenlet(func, *args)
    g.name = name
    g.start()
    return g


def test_background_lines_are_tagged_and_foreground_stays_bare():
    out = io.StringIO()
    s = TaggedStream(out)
    s.write("from main\n")
    g = _named("fetch-3", lambda: print("200 OK", 42, file=s))
    g.join()
    anon = co.spawn(lambda: print("hello", file=s))
    anon.join()
    assert out.getvalue().splitlines() == [
        "from main", "[fetch-3] 200 OK 42", f"[#{anon.minimal_ident}] hello"]


def test_two_greenlets_writing_in_pieces_never_share_a_line():
    out = io.StringIO()
    s = TaggedStream(out)
    turn = [Event(), Event()]

    def writer(me, other):
        s.write(f"{me}-start ")
        turn[other].set()
        turn[me].wait()
        s.write(f"{me}-end\nsecond line of {me}\n")
        turn[other].set()

    a = _named("a", writer, 0, 1)
    b = _named("b", writer, 1, 0)
    co.joinall([a, b])
    lines = out.getvalue().splitlines()
    assert sorted(lines) == sorted(["[a] 0-start 0-end", "[a] second line of 0",
                                    "[b] 1-start 1-end", "[b] second line of 1"])


def test_partial_line_shows_on_flush_and_is_ended_when_the_greenlet_ends():
    out = io.StringIO()
    s = TaggedStream(out)
    g = _named("p", lambda: s.write("no newline"))
    g.join()
    co.sleep(0)
    assert out.getvalue() == "[p] no newline\n"
    gate = Event()
    h = _named("q", lambda: (s.write("loading..."), s.flush(), gate.wait(), s.write(" done\n")))
    co.sleep(0)
    assert out.getvalue() == "[p] no newline\n[q] loading..."      # visible while it waits
    gate.set()
    h.join()
    assert out.getvalue() == "[p] no newline\n[q] loading... done\n"


def test_pieces_held_back_behind_an_unfinished_line_come_out_on_flush_and_at_the_end():
    out = io.StringIO()
    s = TaggedStream(out)
    gate = Event()
    a = _named("a", lambda: (s.write("a-start"), s.flush(), gate.wait(), s.write(" a-end\n")))
    co.sleep(0)
    b = _named("b", lambda: s.write("b-line\nb-rest"))
    b.join()
    co.sleep(0)
    assert out.getvalue() == "[a] a-start"              # b waits behind a's line
    s.flush()                                           # flush: a's line is ended, b comes out
    assert out.getvalue() == "[a] a-start\n[b] b-line\n[b] b-rest\n"
    gate.set()
    a.join()
    assert out.getvalue().endswith("[a]  a-end\n")
    s.write("main bare\n")
    assert out.getvalue().endswith("main bare\n")


def test_foreground_write_ends_an_unfinished_background_line_first():
    out = io.StringIO()
    s = TaggedStream(out)
    gate = Event()
    g = _named("bg", lambda: (s.write("half"), gate.wait(), s.write("other half\n")))
    co.sleep(0)
    s.write("fg line\n")
    gate.set()
    g.join()
    assert out.getvalue().splitlines() == ["[bg] half", "fg line", "[bg] other half"]


def test_dim_prefix_on_a_terminal():
    out = io.StringIO()
    s = TaggedStream(out, dim=True)
    _named("x", lambda: s.write("hi\n")).join()
    assert out.getvalue() == "\x1b[2m[x]\x1b[0m hi\n"


def test_tag_of_and_attribute_passthrough():
    g = co.spawn(lambda: None)
    assert tag_of(g) == f"#{g.minimal_ident}"
    g.name = "svc"
    assert tag_of(g) == "svc"
    out = io.StringIO()
    assert TaggedStream(out).getvalue() == ""


def test_enable_disable_wraps_and_restores_sys_streams():
    old_out, old_err = sys.stdout, sys.stderr
    try:
        tagging.enable(dim=False)
        assert tagging.enabled()
        assert isinstance(sys.stdout, TaggedStream) and sys.stdout.inner is old_out
        tagging.enable(dim=False)                       # idempotent
        assert sys.stdout.inner is old_out
    finally:
        tagging.disable()
    assert sys.stdout is old_out and sys.stderr is old_err
    assert not tagging.enabled()


def test_non_str_write_is_refused_clearly():
    s = TaggedStream(io.StringIO())
    g = co.spawn(lambda: s.write(b"bytes"))
    g.join()
    assert isinstance(g.exception, TypeError)
    assert "must be str, not bytes" in str(g.exception)


# -- the front ends: %tag in the shell (pexpect) and in the kernel (jupyter_client) --------

def test_shell_tag_magic_names_background_lines_and_leaves_the_foreground_bare(tmp_path):
    import re as _re
    import pexpect
    from test_shell import PROMPT, exit_cleanly, plain, shell_env

    p = pexpect.spawn(sys.executable, ["-m", "coopshell"], env=shell_env(tmp_path),
                      encoding="utf-8", timeout=15, dimensions=(50, 200), cwd=str(tmp_path))
    try:
        p.expect(PROMPT)
        p.sendline("%tag on")
        p.expect(r"tagged output: on")
        # The name is set before the greenlet first runs (spawn only schedules it).
        p.sendline("g = spawn(lambda: print('from', 'bg', 1)); g.name = 'fetch-3'; g.join()")
        p.expect(r"\x1b\[2m\[fetch-3\]\x1b\[0m from bg 1")          # dimmed, one prefix
        p.sendline("h = spawn(print, 'anon-out'); h.join(); print('fg-id', h.minimal_ident)")
        p.expect(r"fg-id (\d+)")
        ident = p.match.group(1)
        seen = plain(p.before)
        assert f"[#{ident}] anon-out" in seen, seen
        lines = [line.strip() for line in plain(p.before + p.after).splitlines()]
        assert f"fg-id {ident}" in lines                             # foreground: bare
        p.sendline("%tag off")
        p.expect(r"tagged output: off")
        p.sendline("k = spawn(print, 'after-off'); k.name = 'quiet'; k.join(); print('marker' + '-end')")
        p.expect("marker-end")
        seen = plain(p.before)
        assert "[quiet]" not in seen
        assert "after-off" in seen, seen
        status, _ = exit_cleanly(p)
        assert status == 0
    finally:
        if p.isalive():
            p.terminate(force=True)


def test_kernel_tagged_output_goes_to_the_spawning_cell():
    from _kernel_util import Kernel

    k = Kernel("coopshell", extra_arguments=["--CoopKernel.tag=True"])
    try:
        a = k.ok("import coopshell as co, coopshell.event\n"
                 "go = co.event.Event()\n"
                 "def writer():\n"
                 "    go.wait()\n"
                 "    print('piece one,', end='')\n"
                 "    co.sleep(0)\n"
                 "    print(' piece two')\n"
                 "w = co.spawn(writer); w.name = 'writer-a'\n"
                 "print('cell A bare')")
        assert a.stream() == "cell A bare\n"
        b = k.ok("go.set(); w.join(); print('cell B bare')")
        assert b.stream() == "cell B bare\n", b.messages
        msgs = k.wait_for(lambda: k.streams("piece two"), 10, "the writer's line")
        assert "".join(m["content"]["text"] for m in msgs) == "[writer-a] piece one, piece two\n"
        assert {m["parent_header"]["msg_id"] for m in msgs} == {a.msg_id}
        assert "tagged output: on" in k.ok("%tag").stream()
        k.ok("%tag off")
        c = k.ok("co.spawn(print, 'untagged now').join()")
        assert c.stream() == "untagged now\n"
    finally:
        k.close()


def test_wanted_reads_the_setting_then_the_environment(monkeypatch):
    monkeypatch.delenv(tagging.ENV, raising=False)
    assert tagging.wanted() is False
    assert tagging.wanted(True) is True
    monkeypatch.setenv(tagging.ENV, "on")
    assert tagging.wanted() is True
    assert tagging.wanted(False) is False            # the front end's own option wins
    monkeypatch.setenv(tagging.ENV, "sometimes")
    try:
        tagging.wanted()
    except ValueError as exc:
        assert "COOPSHELL_TAG must be 1/true/on/yes or 0/false/off/no, got 'sometimes'" in str(exc)
    else:
        raise AssertionError("a bad $COOPSHELL_TAG was accepted")


def test_tag_magic_switches_and_reports():
    import pytest
    from coopshell.interactive.magics import MagicError, run_magic

    old = sys.stdout
    try:
        assert run_magic("%tag") == "tagged output: off (%tag on|off)"
        assert run_magic("%tag on").startswith("tagged output: on")
        assert isinstance(sys.stdout, TaggedStream) and sys.stdout.inner is old
        assert run_magic("%tag").startswith("tagged output: on")
        assert run_magic("%tag off") == "tagged output: off"
        assert sys.stdout is old
        with pytest.raises(MagicError, match="expected 'on' or 'off', got 'maybe'"):
            run_magic("%tag maybe")
        with pytest.raises(MagicError, match="too many arguments"):
            run_magic("%tag on off")
    finally:
        tagging.disable()
    assert "%tag [on|off]" in run_magic("%help")


def test_piped_shell_with_tag_option(tmp_path):
    import os
    import subprocess

    src = ("g = spawn(print, 'from', 'bg'); g.name = 'piped-bg'; g.join(); print('fg bare')\n"
           "h = spawn(print, 'anon'); h.join(); print('id', h.minimal_ident)\n")
    env = dict(os.environ, COOPSHELL_HISTORY=str(tmp_path / "history"))
    env.pop(tagging.ENV, None)
    r = subprocess.run([sys.executable, "-m", "coopshell", "--tag"], input=src, text=True,
                       capture_output=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    ident = lines[-1].split()[-1]
    assert lines == ["[piped-bg] from bg", "fg bare", f"[#{ident}] anon", f"id {ident}"], r.stdout
    r = subprocess.run([sys.executable, "-m", "coopshell"], input=src, text=True,
                       capture_output=True, env=env, timeout=60)
    assert r.stdout.splitlines()[0] == "from bg", r.stdout        # off by default
    env[tagging.ENV] = "1"
    r = subprocess.run([sys.executable, "-m", "coopshell"], input=src, text=True,
                       capture_output=True, env=env, timeout=60)
    assert r.stdout.splitlines()[0] == "[piped-bg] from bg", r.stdout


# -- the fast paths (the common print shapes) behave as the general one ----------------------

def test_a_name_set_after_the_first_line_shows_on_the_next_line():
    out = io.StringIO()
    s = TaggedStream(out)
    go = Event()

    def worker():
        print("first", 1, file=s)
        go.wait()
        print("second", 2, file=s)          # the name changed meanwhile
        s.write("one piece\n")

    g = co.spawn(worker)
    co.sleep(0)
    g.name = "renamed"
    go.set()
    g.join()
    assert out.getvalue().splitlines() == [
        f"[#{g.minimal_ident}] first 1", "[renamed] second 2", "[renamed] one piece"]


def test_whole_lines_in_one_piece_get_one_prefix_each():
    out = io.StringIO()
    s = TaggedStream(out, dim=True)

    def worker():
        s.write("")                                   # nothing, and no line opened
        s.write("one\n")
        s.write("two\nthree\n")
        print("four", file=s)
        s.write("five\nsix")                          # the rest stays open...
        s.write("\n")                                 # ...until its newline

    _named("w", worker).join()
    p = "\x1b[2m[w]\x1b[0m "
    assert out.getvalue() == "".join(f"{p}{w}\n" for w in
                                     ("one", "two", "three", "four", "five", "six"))


def test_a_reused_worker_does_not_continue_the_previous_tasks_line():
    out = io.StringIO()
    s = TaggedStream(out)
    a = _named("a", lambda: s.write("a unfinished"))
    b = _named("b", lambda: print("b", "line", file=s))
    co.joinall([a, b])
    co.sleep(0)
    assert sorted(out.getvalue().splitlines()) == ["[a] a unfinished", "[b] b line"]
    assert out.getvalue().endswith("\n")


def test_a_line_ended_while_others_wait_lets_them_out_in_order():
    out = io.StringIO()
    s = TaggedStream(out)
    a_started, b_done = Event(), Event()

    def a():
        print("a1", end=" ", file=s)
        a_started.set()
        b_done.wait()
        print("a2", file=s)                           # ends the line: b's lines follow
        print("a3", file=s)

    def b():
        a_started.wait()
        s.write("b whole\n")                          # held back behind a's line
        print("b", "printed", file=s)
        b_done.set()

    co.joinall([_named("a", a), _named("b", b)])
    assert out.getvalue().splitlines() == ["[a] a1 a2", "[b] b whole", "[b] b printed", "[a] a3"]


def test_foreground_lines_stay_bare_between_tagged_ones():
    out = io.StringIO()
    s = TaggedStream(out)
    g = _named("bg", lambda: print("x", 1, file=s))
    g.join()
    print("fg", 2, file=s)
    s.write("fg\nmulti\n")
    _named("bg2", lambda: print("y", file=s)).join()
    assert out.getvalue().splitlines() == ["[bg] x 1", "fg 2", "fg", "multi", "[bg2] y"]


class _CountingStream(io.StringIO):
    """A StringIO that counts its writes and flushes (a real stream, not a mock)."""

    def __init__(self):
        super().__init__()
        self.writes = self.flushes = 0

    def write(self, s):
        self.writes += 1
        return super().write(s)

    def flush(self):
        self.flushes += 1
        super().flush()


def test_print_while_tagging_is_on_writes_each_line_once_with_prints_semantics():
    import builtins

    original = builtins.print
    inner = _CountingStream()
    other = io.StringIO()
    saved = sys.stdout
    sys.stdout = inner
    try:
        tagging.enable(dim=False)
        assert builtins.print is not original and builtins.print.__wrapped__ is original
        tagging.enable(dim=False)                      # once: not wrapped twice
        assert builtins.print.__wrapped__ is original

        def worker():
            print("a", 1, None, sep=None, end=None)
            print("b", 2, sep="-", end="!\n", flush=True)
            print()
            print("x", "y", file=other)              # another file: the original print
            print("multi\nline", 3.5)
            print("half", end="")
            print(" rest")
            try:
                print("never", sep=1)
            except TypeError as exc:
                errors.append(str(exc))

        errors = []
        _named("w", worker).join()
        print("fg", "bare")
        assert inner.getvalue().splitlines() == [
            "[w] a 1 None", "[w] b-2!", "[w] ", "[w] multi", "[w] line 3.5", "[w] half rest",
            "fg bare"]
        assert inner.writes == 6 and inner.flushes >= 1     # one per print that ends lines
        assert other.getvalue() == "x y\n"
        assert errors == ["sep must be None or a string, not int"]
    finally:
        tagging.disable()
        sys.stdout = saved
    assert builtins.print is original


def test_disable_leaves_a_print_installed_after_ours_in_place():
    import builtins

    original = builtins.print
    saved = sys.stdout
    sys.stdout = io.StringIO()

    def someone_elses(*args, **kwargs):
        return original(*args, **kwargs)

    try:
        tagging.enable(dim=False)
        builtins.print = someone_elses
        tagging.disable()
        assert builtins.print is someone_elses
    finally:
        builtins.print = original
        tagging.disable()
        sys.stdout = saved


def test_a_str_subclass_separator_is_written_as_print_writes_it():
    import builtins

    class Sep(str):
        pass

    out = io.StringIO()
    s = TaggedStream(out)
    saved = sys.stdout
    try:
        sys.stdout = io.StringIO()
        tagging.enable(dim=False)
        _named("s", lambda: builtins.print("a", "b", sep=Sep("+"), file=s)).join()
    finally:
        tagging.disable()
        sys.stdout = saved
    assert out.getvalue() == "[s] a+b\n"
