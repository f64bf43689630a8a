"""coopshell.progress: counts, renderers, and the bar in a real terminal."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pexpect
import pytest

import coopshell as co
from coopshell.event import Event
from coopshell.pool import Pool
from coopshell.progress import Progress, StreamBar, progress, set_default_renderer


class Recorder:
    """A renderer that keeps what it was shown."""

    def __init__(self):
        self.updates: list[str] = []
        self.final: str | None = None

    def update(self, p):
        self.updates.append(p.format())

    def close(self, p):
        self.final = p.format()


def _boom():
    raise ValueError("no")


def test_greenlets_are_yielded_as_they_finish_and_failures_counted():
    gate = Event()
    slow = co.spawn(gate.wait)
    fast = [co.spawn(lambda i=i: i) for i in range(3)]
    bad = co.spawn(_boom)
    rec = Recorder()
    seen = []
    for g in progress([slow, *fast, bad], desc="jobs", bar=rec):
        seen.append(g)
        if len(seen) == 4:
            gate.set()
    assert seen[-1] is slow
    assert set(seen[:4]) == {*fast, bad}
    assert rec.final is not None and rec.final.startswith("jobs: 5/5 100%")
    assert rec.final.endswith(", 1 failed")


def test_pool_imap_unordered_with_total():
    pool = Pool(4)
    rec = Recorder()
    out = sorted(progress(pool.imap_unordered(lambda x: x * x, range(20)), total=20, bar=rec))
    assert out == [x * x for x in range(20)]
    assert rec.final is not None and "20/20 100%" in rec.final


def test_redraws_come_from_the_timer_and_only_on_change():
    ev = Event()
    rec = Recorder()
    p = progress([co.spawn(ev.wait), co.spawn(lambda: None)], bar=rec, interval=0.01)
    it = iter(p)
    next(it)                       # the quick one
    # Let several redraw intervals pass with no new item: one update at most.
    co.sleep(0.1)
    assert len(rec.updates) <= 1
    assert all(u.startswith("1/2") for u in rec.updates)
    ev.set()
    assert list(it) and p.done == 2 and p.finished


def test_break_leaves_final_state_marked_interrupted():
    rec = Recorder()
    p = progress(range(10), bar=rec)
    for i in p:
        if i == 3:
            break
    assert p.interrupted and p.done == 4
    assert rec.final is not None and rec.final.startswith("4/10 40%")
    assert rec.final.endswith("(interrupted)")


def test_tqdm_like_class_gets_the_items():
    class FakeTqdm:
        made: list[FakeTqdm] = []

        def __init__(self, total=None, desc=None):
            self.total, self.desc, self.n, self.closed = total, desc, 0, False
            FakeTqdm.made.append(self)

        def update(self, n=1):
            self.n += n

        def close(self):
            self.closed = True

    assert list(progress(range(7), desc="d", bar=FakeTqdm)) == list(range(7))
    (bar,) = FakeTqdm.made
    assert (bar.total, bar.desc, bar.n, bar.closed) == (7, "d", 7, True)


def test_front_end_renderer_factory_and_reset():
    rec = Recorder()
    set_default_renderer(lambda p: rec)
    try:
        list(progress(range(3)))
    finally:
        set_default_renderer(None)
    assert rec.final is not None and rec.final.startswith("3/3")


def test_stream_bar_writes_carriage_returns_and_ends_the_line():
    class Stream:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    s = Stream()
    list(progress(range(2), bar=StreamBar(s)))
    assert s.text.startswith("\r2/2 100%") and s.text.endswith("\n")


def test_transient_bar_is_erased_when_finished_but_kept_when_interrupted():
    import io

    out = io.StringIO()
    gate = Event()
    jobs = [co.spawn(gate.wait), co.spawn(gate.wait)]
    sweep = progress(jobs, bar=StreamBar(out), transient=True, interval=0.01)
    it = iter(sweep)
    co.spawn_later(0.05, gate.set)
    assert len(list(it)) == 2 and sweep.finished
    text = out.getvalue()
    assert text.startswith("\r0/2")           # the first tick (0.01 s) comes before the gate
    assert text.endswith("\r") and text.rstrip("\r").endswith(" ") and "\n" not in text
    out2 = io.StringIO()
    for _ in progress(range(5), bar=StreamBar(out2), transient=True):
        break                                  # interrupted: the counts stay
    assert out2.getvalue().endswith("(interrupted)\n"), out2.getvalue()


@pytest.mark.parametrize("bad, exc", [
    (5, TypeError), ("abc", TypeError), (None, TypeError),
])
def test_bad_items(bad, exc):
    with pytest.raises(exc, match="progress\\(\\) expected an iterable"):
        progress(bad)


def test_bad_options():
    with pytest.raises(TypeError, match="total must be a non-negative int"):
        progress([], total=-1)
    with pytest.raises(TypeError, match="total must be a non-negative int"):
        progress([], total="3")
    with pytest.raises(ValueError, match="interval must be > 0"):
        progress([], interval=0)
    with pytest.raises(TypeError, match="bar must be"):
        progress([], bar=42)
    with pytest.raises(TypeError, match="set_default_renderer"):
        set_default_renderer(3)


def test_repr_and_format_unknown_total():
    p = Progress(iter([1, 2]), bar=False)
    assert list(p) == [1, 2]
    assert p.format().startswith("2 ") and "Progress" in repr(p)


_SCRIPT = textwrap.dedent("""
    import coopshell as co
    from coopshell.progress import progress
    jobs = [co.spawn(co.sleep, 0) for _ in range(3)] + [co.spawn(co.sleep, 60) for _ in range(7)]
    for g in progress(jobs, desc="sweep", interval=0.02):
        pass
""")


def test_script_without_a_tty_prints_no_bar(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(_SCRIPT.replace("60", "0"))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""


def test_script_in_a_terminal_shows_the_bar_and_ctrl_c_leaves_its_final_state(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(_SCRIPT)
    child = pexpect.spawn(sys.executable, [str(script)], encoding="utf-8", timeout=30,
                          dimensions=(24, 200))
    try:
        child.expect(r"sweep: 3/10 30%")
        child.sendintr()
        child.expect(r"sweep: 3/10 30% [0-9.]+/s in [0-9.]+s \(interrupted\)")
        child.expect("KeyboardInterrupt")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus != 0 or child.signalstatus is not None
