"""The magics, front-end independent: %greenlets, %kill, %joinall, %blocking, %monkey, %help,
and the blocked-hub detector behind %blocking."""

import io
import re
import time

import pytest

import coopshell as co
from coopshell.event import Event
from coopshell.interactive import magics
from coopshell.interactive.magics import MagicError, run_magic
from coopshell.interactive.watchdog import BlockingDetector


@pytest.fixture
def tracking():
    magics.enable_tracking()
    spawned = []
    yield spawned
    co.killall([g for g in magics.tracked(True) if not g.dead], timeout=2)
    magics.disable_tracking()


def test_greenlets_table_shows_states(tracking):
    ev = Event()

    def ticker():
        while True:
            co.sleep(0.05)
    t = co.spawn(ticker)
    t.name = "ticker"
    w = co.spawn(ev.wait)
    bad = co.spawn(lambda: 1 / 0)
    later = co.spawn_later(100, print)
    co.sleep(0.02)
    out = run_magic("%greenlets")
    assert re.search(rf"{t.minimal_ident}\s+ticker\s+ticker\(\)\s+waiting in sleep\(0\.05\) at test_magics\.py:\d+", out)
    assert re.search(r"Event\.wait\(\)\s+waiting in Event\.wait\(\) on <Event", out)
    assert "scheduled (spawn_later)" in out
    assert "failed" not in out and "(3 live)" in out
    out_all = run_magic("greenlets -a")
    assert "failed: ZeroDivisionError" in out_all and "(3 live, 1 finished)" in out_all
    ev.set()
    later.kill()


def test_greenlets_without_tracking_scans_gc():
    magics.disable_tracking()
    g = co.spawn(co.sleep, 10)
    try:
        co.sleep(0)
        assert "sleep(10)" in run_magic("%greenlets")
    finally:
        g.kill()


def test_kill_by_id_and_all(tracking):
    a, b, c = (co.spawn(co.sleep, 10) for _ in range(3))
    co.sleep(0)
    assert run_magic(f"%kill {a.minimal_ident}") == "killed 1 greenlet(s)"
    assert a.dead and not b.dead
    assert run_magic("%kill all") == "killed 2 greenlet(s)"
    assert b.dead and c.dead
    assert run_magic("%kill all") == "nothing to kill"


def test_joinall_reports_progress_and_timeout(tracking):
    gs = [co.spawn(co.sleep, 0.05 * i) for i in range(4)]
    gs.append(co.spawn(lambda: co.sleep(0.05) or 1 / 0))
    lines = []
    out = run_magic("%joinall 5", progress=lines.append)
    assert out.startswith("joinall: 5/5 done, 1 failed,")
    assert lines and all(line.startswith("joinall: ") for line in lines)
    slow = co.spawn(co.sleep, 10)
    t0 = time.monotonic()
    out = run_magic("%joinall 0.2")
    assert time.monotonic() - t0 >= 0.15   # it waited its timeout (no upper bound: a loaded machine)
    assert out.startswith("joinall: 0/1 done") and "1 still running after 0.2s" in out
    assert not slow.dead                   # it gave up on the greenlet, not the other way round
    slow.kill()
    assert run_magic("%joinall") == "no live greenlets"


@pytest.mark.parametrize("line, message", [
    ("%nosuch", "unknown magic %nosuch"),
    ("%", "empty magic"),
    ("%kill", "which greenlets"),
    ("%kill x", "'x' is not a greenlet ID"),
    ("%kill 987654", "no greenlet with ID 987654"),
    ("%joinall -1", "finite number of seconds >= 0"),
    ("%joinall abc", "TIMEOUT must be a number"),
    ("%joinall 1 2", "too many arguments"),
    ("%greenlets -z", "unknown argument '-z'"),
    ("%blocking soon", "expected SECONDS, 'on' or 'off'"),
    ("%blocking 0", "> 0"),
    ("%monkey bogus", "unknown target 'bogus'"),
    ("%kill 'unclosed", "cannot parse arguments"),
])
def test_bad_arguments_are_one_line_errors(tracking, line, message):
    with pytest.raises(MagicError) as info:
        run_magic(line)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_run_magic_type_error():
    with pytest.raises(TypeError, match="expected a str"):
        run_magic(42)


def test_help_lists_every_magic():
    out = run_magic("%help")
    for name in magics.MAGICS:
        assert f"%{name}" in out


def test_monkey_status_and_off():
    pytest.importorskip("coopshell.monkey")
    out = run_magic("%monkey status")
    assert out.startswith("patched: ")
    assert "stale reference" in out
    off = run_magic("%monkey off")
    assert off == "nothing was patched" or off.startswith("unpatched: ")


def test_blocking_magic_turns_detector_on_and_off():
    try:
        assert run_magic("%blocking 0.2") == "blocked-hub detector: on, threshold 0.2s"
        assert "on, threshold 0.2s" in run_magic("%blocking")
    finally:
        assert run_magic("%blocking off") == "blocked-hub detector: off"
    assert "off" in run_magic("%blocking")


def test_detector_names_blocking_greenlet_and_stays_quiet_when_idle():
    out = io.StringIO()
    det = BlockingDetector(threshold=0.15, stream=out)
    det.start()
    try:
        co.sleep(0.5)                       # the hub idles in epoll: no warning
        assert det.warnings == 0, out.getvalue()

        def culprit():
            end = time.monotonic() + 0.5
            while time.monotonic() < end:   # CPU-bound, never yields
                pass
        g = co.spawn(culprit)
        g.name = "hog"
        g.join()
        co.sleep(0.05)
        text = out.getvalue()
        assert det.warnings == 1, text
        assert 'blocked for over 0.15s by <Greenlet "hog"' in text
        assert "test_magics.py" in text and "in culprit" in text

        def yielder():                      # busy but yielding: not blocked
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                co.sleep(0)
        co.spawn(yielder).join()
        assert det.warnings == 1, out.getvalue()
    finally:
        det.stop()
    assert "_poll" not in co.get_hub().loop.__dict__


# -- issue 13, magic quirks -----------------------------------------------------------------

def test_kill_counts_each_greenlet_once_and_accepts_names(tracking):
    a, b = co.spawn(co.sleep, 10), co.spawn(co.sleep, 10)
    b.name = "worker-b"
    co.sleep(0)
    assert run_magic(f"%kill {a.minimal_ident} {a.minimal_ident}") == "killed 1 greenlet(s)"
    assert run_magic("%kill worker-b") == "killed 1 greenlet(s)" and b.dead
    with pytest.raises(MagicError, match="'nobody' is not a greenlet ID or name"):
        run_magic("%kill nobody")


def test_ids_follow_spawn_order_not_listing_order(tracking):
    first, second = co.spawn(co.sleep, 10), co.spawn(co.sleep, 10)
    second_id = second.minimal_ident          # asked for first
    assert first.minimal_ident < second_id
    first.kill(), second.kill()


def test_greenlets_all_is_limited_and_says_how_many_more(tracking):
    gs = [co.spawn(lambda: None) for _ in range(67)]
    live = co.spawn(co.sleep, 10)
    co.joinall(gs)
    out = run_magic("%greenlets -a")
    rows = [ln for ln in out.splitlines()[1:-1]]
    assert len(rows) == magics.commands.DEFAULT_ROWS
    assert "(1 live, 67 finished; 28 more not shown (%greenlets -a -n 68))" in out
    assert str(live.minimal_ident) in out.splitlines()[1]          # live ones first
    assert len(run_magic("%greenlets -a -n 5").splitlines()) == 1 + 5 + 1
    with pytest.raises(MagicError, match="-n expects a number of rows"):
        run_magic("%greenlets -n 0")
    live.kill()


def test_html_table_does_not_wrap_names_and_cuts_reprs(tracking):
    from coopshell.interactive.html import MAX_FUNC_CHARS, greenlet_table_html
    import html

    def slow(*args):
        co.sleep(10)
    g = co.spawn(slow, *["x" * 20] * 10)
    g.name = "a long-ish name"
    co.sleep(0)
    html_text = greenlet_table_html([g])
    assert '<td style="white-space:nowrap">a long-ish name</td>' in html_text
    shown = html.unescape(html_text.split("<td title=")[1].split(">", 1)[1].split("</td>")[0])
    assert len(shown) <= MAX_FUNC_CHARS and shown.endswith("…")
    g.kill()


def test_where_prints_the_full_stack(tracking):
    def inner():
        co.sleep(10)

    def outer():
        inner()
    g = co.spawn(outer)
    g.name = "deep"
    co.sleep(0)
    out = run_magic("%where deep")
    assert out.splitlines()[0].startswith(f"{g.minimal_ident} deep: waiting in sleep(10)")
    stack = out.split("\n", 1)[1]
    assert stack.index("in outer") < stack.index("in inner") < stack.index("in sleep")
    g.kill()


def test_describe_wait_names_methods_from_self():
    from coopshell.interactive.magics.describe import describe_state
    ev = Event()
    g = co.spawn(ev.wait)
    co.sleep(0)
    assert describe_state(g).startswith("waiting in Event.wait() on <Event")
    ev.set()
    g.join()


def test_monkey_thread_refused_in_a_session(monkeypatch):
    m = pytest.importorskip("coopshell.monkey")
    monkeypatch.setattr(m, "INTERACTIVE", True)
    with pytest.raises(MagicError, match="refused in an interactive session") as info:
        run_magic("%monkey thread")
    assert "\n" not in str(info.value)
    assert not m.is_module_patched("threading")
