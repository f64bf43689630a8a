"""The coopshell Jupyter kernel, driven through jupyter_client against the
installed kernelspec ``coopshell``: one kernel shared by the module."""

from __future__ import annotations

import time

import psutil
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from _kernel_util import Kernel


@pytest.fixture(scope="module")
def k():
    kernel = Kernel("coopshell")
    kernel.ok("import coopshell as co, sys, time, asyncio")
    yield kernel
    kernel.close()


def test_kernelspec_is_installed():
    spec = KernelSpecManager().get_kernel_spec("coopshell")
    assert spec.argv == ["python", "-m", "coopshell.kernel", "-f", "{connection_file}"]
    assert spec.display_name == "Python 3 (coopshell)"
    assert spec.language == "python"
    names = set(__import__("os").listdir(spec.resource_dir))
    assert {"kernel.json", "logo-32x32.png", "logo-64x64.png"} <= names


def test_kernel_info_names_coopshell(k):
    k.kc.kernel_info()
    reply = k.kc.get_shell_msg(timeout=10)
    assert reply["content"]["implementation"] == "coopshell"
    assert reply["content"]["language_info"]["name"] == "python"


def test_join_joinall_sleep_in_cells(k):
    r = k.ok("g = co.spawn(lambda: (co.sleep(0.1), 42)[1]); g.join(); g.value")
    assert r.text == "42"
    r = k.ok("t0 = time.monotonic()\n"
             "jobs = [co.spawn(co.sleep, 0.2) for _ in range(50)]\n"
             "done = co.joinall(jobs, timeout=5)\n"
             "(len(done), round(time.monotonic() - t0, 1) < 1.5)")
    assert r.text == "(50, True)"
    r = k.ok("t0 = time.monotonic(); co.sleep(0.2); 0.15 < time.monotonic() - t0 < 2")
    assert r.text == "True"


def test_background_greenlets_run_between_cells(k):
    k.ok("ticks = []\n"
         "def ticker():\n"
         "    while True:\n"
         "        ticks.append(time.monotonic()); co.sleep(0.05)\n"
         "bg_ticker = co.spawn(ticker)")
    n0 = int(k.ok("len(ticks)").text)
    time.sleep(0.5)                      # the kernel is idle: no cell runs
    n1 = int(k.ok("len(ticks)").text)
    assert n1 - n0 >= 4, (n0, n1)
    k.ok("bg_ticker.kill()")
    assert k.ok("bg_ticker.dead").text == "True"


def test_output_of_background_greenlet_goes_to_spawning_cell(k):
    a = k.ok("def later(tag, delay):\n"
             "    co.sleep(delay)\n"
             "    print('late output', tag)   # no flush: the IOPub thread flushes it\n"
             "co.spawn(later, 'A', 0.5)\n"
             "print('cell A done')")
    b = k.ok("print('cell B')")
    assert "cell B" in b.stream()
    msgs = k.wait_for(lambda: k.streams("late output A"), 10, "late output of A")
    assert [m["parent_header"]["msg_id"] for m in msgs] == [a.msg_id]
    assert not k.streams("late output A")[0]["parent_header"]["msg_id"] == b.msg_id


def test_failure_report_goes_to_spawning_cell(k):
    a = k.ok("def boom():\n"
             "    co.sleep(0.3)\n"
             "    raise ValueError('boom from A')\n"
             "failing = co.spawn(boom)")
    k.ok("print('cell B')")
    msgs = k.wait_for(lambda: k.streams("failed with ValueError"), 10, "failure report")
    assert msgs[0]["content"]["name"] == "stderr"
    assert msgs[0]["parent_header"]["msg_id"] == a.msg_id
    assert "boom from A" in "".join(m["content"]["text"] for m in k.messages_for(a.msg_id)
                                    if m["msg_type"] == "stream")


def _interrupt(k, code, marker):
    msg_id = k.submit(code)
    k.wait_for(lambda: any(marker in m["content"].get("text", "") for m in k.messages_for(msg_id)),
               10, f"{marker!r} from the cell")
    t0 = time.monotonic()
    k.km.interrupt_kernel()
    reply = k.kc.get_shell_msg(timeout=10)
    elapsed = time.monotonic() - t0
    k.wait_for(lambda: msg_id in k._idle, 10, "idle")
    assert reply["parent_header"]["msg_id"] == msg_id
    print(f"interrupt of {code.splitlines()[-1]!r}: reply after {elapsed * 1000:.1f} ms")
    return reply, elapsed


@pytest.mark.parametrize("wait", ["co.sleep(30)", "co.spawn(co.sleep, 30).join()",
                                  "co.joinall([co.spawn(co.sleep, 30)])"])
def test_interrupt_reaches_the_cell_and_spares_the_hub(k, wait):
    k.ok("beats = []\n"
         "def beat():\n"
         "    while True:\n"
         "        beats.append(1); co.sleep(0.01)\n"
         "heart = co.spawn(beat)")
    reply, elapsed = _interrupt(k, f"print('waiting', flush=True)\n{wait}", "waiting")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert elapsed < 0.5, f"interrupt took {elapsed:.3f} s"
    # The hub and the background greenlet live on, and sleeps sleep again.
    n0 = int(k.ok("len(beats)").text)
    r = k.ok("t0 = time.monotonic(); co.sleep(0.2); dt = time.monotonic() - t0\n"
             "(heart.dead, 0.15 < dt < 2)")
    assert r.text == "(False, True)"
    assert int(k.ok("len(beats)").text) > n0 + 5
    k.ok("heart.kill()")


def test_second_interrupt_stops_a_greenlet_that_never_yields(k):
    # The spinner says it runs, so the main greenlet is surely in join() by
    # then (printing before join() let a loaded machine interrupt main first).
    msg_id = k.submit("def spin():\n"
                      "    print('spinning', flush=True)\n"
                      "    while True:\n"
                      "        pass\n"
                      "spinner = co.spawn(spin)\n"
                      "spinner.join()")
    k.wait_for(lambda: any("spinning" in m["content"].get("text", "")
                           for m in k.messages_for(msg_id)), 10, "spinning")
    k.km.interrupt_kernel()        # queued for the hub, which the spinner starves
    time.sleep(0.3)
    assert msg_id not in k._idle
    k.km.interrupt_kernel()        # raised in the spinner itself
    reply = k.kc.get_shell_msg(timeout=5)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"].get("ename") == "KeyboardInterrupt", reply["content"]
    k.wait_for(lambda: msg_id in k._idle, 10, "idle")
    k.wait_for(lambda: any("killed <Greenlet " in m["content"]["text"] and ": spin>" in
                           m["content"]["text"] for m in k.messages_for(msg_id)
                           if m["msg_type"] == "stream"), 5, "the note naming the spinner")
    assert k.ok("(spinner.dead, type(spinner.value).__name__)").text == \
        "(True, 'GreenletExit')"
    # no stale interrupt left over for the next waits
    assert k.ok("co.sleep(0.3); 'slept'").text == "'slept'"


def test_idle_cpu_with_1000_parked_greenlets(k):
    k.ok("parked_ev = co.event.Event() if hasattr(co, 'event') else None\n"
         "import coopshell.event\n"
         "parked_ev = coopshell.event.Event()\n"
         "parked = [co.spawn(parked_ev.wait) for _ in range(1000)]\n"
         "sleepers = [co.spawn(co.sleep, 3600) for _ in range(10)]\n"
         "co.sleep(0.05)\n"
         "assert not any(g.dead for g in parked)")
    proc = psutil.Process(k.pid)
    time.sleep(0.3)
    c0 = proc.cpu_times()
    time.sleep(3.0)
    c1 = proc.cpu_times()
    used = (c1.user - c0.user) + (c1.system - c0.system)
    print(f"kernel CPU over 3 s idle with 1,010 parked greenlets: {used * 1000:.1f} ms")
    assert used < 0.1, f"idle kernel used {used:.3f} s CPU in 3 s"
    r = k.ok("parked_ev.set(); co.joinall(parked, timeout=5); co.killall(sleepers)\n"
             "sum(g.successful() for g in parked)")
    assert r.text == "1000"


def test_top_level_await_with_greenlets(k):
    r = k.ok("ticks2 = []\n"
             "def ticker2():\n"
             "    for _ in range(20):\n"
             "        ticks2.append(1); co.sleep(0.02)\n"
             "    return 'ticked'\n"
             "g2 = co.spawn(ticker2)\n"
             "await asyncio.sleep(0.2)\n"
             "during = len(ticks2)\n"
             "result = await g2\n"
             "(during >= 4, result, len(ticks2))")
    assert r.text == "(True, 'ticked', 20)"


@pytest.mark.parametrize("wait", ["await asyncio.sleep(30)",
                                  "await co.spawn(co.sleep, 30)",
                                  "await asyncio.sleep(0)\nco.sleep(30)"])
def test_await_cell_interrupt(k, wait):
    # Stock ipykernel 7.4 misses this one (its cancel waits for the next event).
    reply, elapsed = _interrupt(k, f"print('awaiting', flush=True)\n{wait}", "awaiting")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] in ("CancelledError", "KeyboardInterrupt")
    assert elapsed < 1.0, f"interrupt took {elapsed:.3f} s"
    assert k.ok("co.sleep(0.01); 1").text == "1"


def test_greenlet_repr_html(k):
    r = k.ok("g3 = co.spawn(co.sleep, 0); g3.name = 'html-demo'; g3")
    html = r.data("text/html")
    assert html and "<table" in html[0] and "html-demo" in html[0]
    assert "Greenlet" in r.text


def test_group_and_pool_repr_html(k):
    r = k.ok("from coopshell.pool import Pool, Group\n"
             "pool = Pool(10)\n"
             "for i in range(3):\n"
             "    pool.spawn(co.sleep, 0.3)\n"
             "pool")
    html = r.data("text/html")
    assert html and html[0].count("<tr>") == 4 and "size 10, 7 free" in html[0], html
    assert "sleep(0.3)" in html[0]
    r = k.ok("grp = Group([co.spawn(co.sleep, 0.3)]); grp")
    assert r.data("text/html") and "Group: 1 greenlet" in r.data("text/html")[0]
    k.ok("pool.join(); grp.join()")


def test_shutdown_and_restart_kill_greenlets_quietly(tmp_path):
    errlog = open(tmp_path / "kernel.stderr", "w+")
    kern = Kernel("coopshell", stderr=errlog)
    try:
        marks = tmp_path / "marks"
        code = ("import coopshell as co\n"
                "def holder(tag):\n"
                "    try:\n"
                "        co.sleep(3600)\n"
                "    finally:\n"
                f"        open({str(marks)!r}, 'a').write(tag + ' killed\\n')\n"
                "hs = [co.spawn(holder, t) for t in {tags!r}]\n"
                "co.sleep(0.01)")
        kern.ok(code.format(tags=["r1", "r2"]))
        kern.km.restart_kernel(now=False)
        kern.kc.wait_for_ready(timeout=30)
        assert marks.read_text().split("\n")[:2] == ["r1 killed", "r2 killed"]
        kern.iopub.clear()
        kern.ok(code.format(tags=["s1"]))
    finally:
        kern.close()
    assert "s1 killed" in marks.read_text()
    errlog.seek(0)
    err = errlog.read()
    assert "Traceback" not in err and "GreenletExit" not in err, err


def test_monkey_on_off_cycles_keep_the_kernel_working(k):
    for cycle in range(3):
        r = k.ok("%monkey")
        assert "time" in r.stream(), r.stream()
        assert k.ok("import coopshell.monkey as _m; _m.is_module_patched('time')").text == "True"
        # patched time.sleep cooperates: five 0.2 s sleeps in greenlets take ~0.2 s
        r = k.ok("t0 = time.monotonic()\n"
                 "co.joinall([co.spawn(time.sleep, 0.2) for _ in range(5)], timeout=5)\n"
                 "time.monotonic() - t0 < 0.8")
        assert r.text == "True"
        n = 50 if cycle == 0 else 5
        for i in range(n):
            r = k.ok(f"print('out', {i}); sys.stdout.flush()\n"
                     f"sys.stderr.write('err {i}\\n'); sys.stderr.flush()", timeout=10)
            assert r.stream("stdout") == f"out {i}\n"
            assert r.stream("stderr") == f"err {i}\n"
        # a background greenlet's print, flushed after the cell, still arrives
        a = k.ok(f"co.spawn_later(0.1, print, 'late {cycle}', flush=True)")
        k.wait_for(lambda: any(m["parent_header"]["msg_id"] == a.msg_id
                               for m in k.streams(f"late {cycle}")), 10, "late print")
        r = k.ok("%monkey off")
        assert "unpatched" in r.stream()
        r = k.ok("import threading, socket, time as _t, coopshell.monkey as _m\n"
                 "(_m.is_module_patched('time'), _t.sleep.__module__, _m.saved() == {})")
        assert r.text == "(False, 'time', True)", r.text
    r = k.ok("t0 = time.monotonic()\n"
             "co.joinall([co.spawn(co.sleep, 0.1) for _ in range(5)])\n"
             "time.monotonic() - t0 < 0.8")
    assert r.text == "True"


def test_greenlets_magic_renders_html_and_kill(k):
    k.ok("named = co.spawn(co.sleep, 60); named.name = 'sleepy-one'; co.sleep(0)")
    r = k.ok("%greenlets")
    html = r.data("text/html")
    assert html and "<table" in html[0] and "sleepy-one" in html[0], r.messages
    assert "sleep(60)" in html[0]
    assert "sleepy-one" in r.data("text/plain")[0]      # plain-text fallback
    ident = k.ok("named.minimal_ident").text
    r = k.ok(f"%kill {ident}")
    assert "killed 1" in r.stream()
    assert k.ok("named.dead").text == "True"
    r = k.ok("%kill nonsense")
    assert "not a greenlet ID" in r.stream("stderr")


def test_joinall_magic_shows_progress(k):
    k.ok("%kill all")   # %joinall waits for every live greenlet of the session
    r = k.ok("jobs = [co.spawn(co.sleep, 0.05 * i) for i in range(12)]\n%joinall 5")
    html = r.data("text/html")
    assert html and "<progress" in html[0], r.messages
    updates = [m for m in r.messages if m["msg_type"] == "update_display_data"]
    assert updates and "joinall: 12/12 100%" in updates[-1]["content"]["data"]["text/html"]
    assert "12/12 done" in r.stream()
    assert k.ok("all(j.dead for j in jobs)").text == "True"
