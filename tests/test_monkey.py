"""coopshell.monkey: the patching machinery, time and threading, unpatching,
stale references, errors, interactive defaults, the ``-m coopshell.monkey``
runner. Every scenario runs in a fresh subprocess (patching is process-wide);
all of them start at once, so the module costs a few seconds of wall time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from helpers.monkey_run import ROOT, Batch

SCENARIOS = {}




SCENARIOS["time"] = """
import coopshell
from coopshell import monkey
orig = time.sleep
r = monkey.patch_time()
OUT["patched"] = r.patched
OUT["is_coop"] = time.sleep is coopshell.sleep
OUT["is_patched"] = [monkey.is_module_patched("time"), monkey.is_object_patched("time", "sleep")]
OUT["get_original"] = monkey.get_original("time", "sleep") is orig
OUT["coop_elapsed"], _ = timed(lambda i: time.sleep(0.3))
OUT["unpatched"] = monkey.unpatch("time")
OUT["restored"] = time.sleep is orig and not monkey.is_module_patched("time")
OUT["blocking_elapsed"], _ = timed(lambda i: time.sleep(0.1), n=4)
"""

SCENARIOS["thread"] = """
import threading, queue, concurrent.futures, logging
import coopshell
from coopshell import monkey
logging_lock = logging._lock
r = monkey.patch_all()
OUT["interactive"] = r.interactive
OUT["patched"] = r.patched
OUT["report"] = str(r)
OUT["main_is_main"] = threading.current_thread() is threading.main_thread()
import functools
class C:
    @functools.cached_property
    def x(self):
        return 42
OUT["cached_property"] = [C().x, "functools.RLock" in [f.split(" ")[0] for f in map(str, r.fixed)]]
OUT["main_ident_real"] = threading.get_ident() == threading.main_thread().ident
OUT["logging_swapped"] = logging._lock is not logging_lock

# threads are greenlets: 8 sleeping threads take ~0.3 s, not 2.4 s
t0 = _mono()
ths = [threading.Thread(target=time.sleep, args=(0.3,), name=f"t{i}") for i in range(8)]
for t in ths: t.start()
OUT["alive"] = all(t.is_alive() for t in ths)
for t in ths: t.join()
OUT["threads_elapsed"] = _mono() - t0
OUT["dead"] = not any(t.is_alive() for t in ths)

# producer / consumer through queue.Queue (Condition + Lock), Event, RLock
q = queue.Queue(maxsize=2)
got = []
def consumer():
    while True:
        item = q.get()
        if item is None:
            return
        got.append(item)
c = threading.Thread(target=consumer); c.start()
for i in range(10): q.put(i)
q.put(None); c.join(timeout=5)
OUT["queue"] = got
ev = threading.Event()
flags = []
w = threading.Thread(target=lambda: flags.append(ev.wait(5))); w.start()
time.sleep(0.01); ev.set(); w.join()
OUT["event"] = flags
OUT["event_timeout"] = threading.Event().wait(0.05)
rl = threading.RLock()
with rl:
    with rl:
        OUT["rlock_owned"] = rl._is_owned()
lock = threading.Lock()
order = []
def hold(n):
    with lock:
        order.append(("in", n)); time.sleep(0.02); order.append(("out", n))
hs = [threading.Thread(target=hold, args=(n,)) for n in range(3)]
for t in hs: t.start()
for t in hs: t.join()
OUT["mutex"] = all(order[i][0] == "in" and order[i + 1] == ("out", order[i][1]) for i in range(0, 6, 2))
OUT["lock_timeout"] = [lock.acquire(), lock.acquire(timeout=0.05), lock.acquire(False)]
lock.release()
t0 = _mono()
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    OUT["executor"] = list(ex.map(lambda x: (time.sleep(0.2), x * 2)[1], range(4)))
OUT["executor_elapsed"] = _mono() - t0
OUT["thread_local"] = None
if "local" in r.patched.get("threading", []):
    loc = threading.local(); loc.x = "main"; seen = []
    def f(): loc.x = "other"; seen.append(loc.x)
    t = threading.Thread(target=f); t.start(); t.join()
    OUT["thread_local"] = [loc.x] + seen
import warnings
hold = threading.Event()
straggler = threading.Thread(target=hold.wait, name="straggler"); straggler.start()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    monkey.unpatch("thread")
    OUT["unpatch_warning"] = [str(w.message) for w in caught]
hold.set(); straggler.join(5)
OUT["straggler_done"] = not straggler.is_alive()
OUT["main_still_registered"] = threading.current_thread() is threading.main_thread()
monkey.patch_thread()
n_active = len(threading._active)
names = []
gs = [coopshell.spawn(lambda: names.append(threading.current_thread().name)) for _ in range(50)]
coopshell.joinall(gs)
OUT["dummy"] = [len(threading._active) - n_active, len(set(names)), names[0] == gs[0].name]
monkey.unpatch_all()
OUT["unpatched_lock"] = type(threading.Lock()).__module__
OUT["logging_restored"] = logging._lock is logging_lock
"""

SCENARIOS["identity"] = """
import importlib
names = ["time", "threading", "_thread", "_threading_local", "socket", "select", "selectors",
         "ssl", "os", "subprocess", "signal", "queue", "logging"]
mods = {n: importlib.import_module(n) for n in names}
before = {n: dict(vars(m)) for n, m in mods.items()}
handler_locks = None
from coopshell import monkey
r = monkey.patch_all(fix_references=True)
changed = sorted(n for n, m in mods.items() if any(vars(m).get(k) is not v for k, v in before[n].items()))
OUT["changed"] = changed
OUT["saved"] = sorted(monkey.saved())
# gevent's spelling: monkey.saved is the live dict of originals
# (with gevent's record of the patch_all flags beside the modules)
OUT["saved_live"] = (sorted(monkey.saved) == sorted(OUT["saved"] + [monkey.SETTINGS_KEY])
                     and monkey.saved["time"]["sleep"] is before["time"]["sleep"])
OUT["restored"] = monkey.unpatch_all()
OUT["saved_empty_after"] = not monkey.saved
diffs = []
for n, m in mods.items():
    now = vars(m)
    for k, v in before[n].items():
        if now.get(k, "<missing>") is not v:
            diffs.append(f"{n}.{k}")
    diffs += [f"{n}.{k} (added)" for k in now if k not in before[n]]
OUT["diffs"] = diffs
OUT["any_patched"] = [n for n in names if monkey.is_module_patched(n)]
"""

SCENARIOS["idempotent"] = """
import threading
import coopshell
from coopshell import monkey
orig_sleep, orig_lock = time.sleep, threading.Lock
r1 = monkey.patch_all()
first = {m: list(v) for m, v in r1.patched.items()}
objs = (time.sleep, threading.Lock, threading.get_ident)
r2 = monkey.patch_all()
OUT["second_patched"] = {m: v for m, v in r2.patched.items() if v}
OUT["same_objects"] = (time.sleep, threading.Lock, threading.get_ident) == objs
OUT["first_time"] = first.get("time")
OUT["orig"] = [monkey.get_original("time", "sleep") is orig_sleep,
               monkey.get_original("threading", ["Lock", "get_ident"])[0] is orig_lock]
OUT["unpatched_original"] = monkey.get_original("json", "dumps") is json.dumps
monkey.patch_time()
OUT["orig_after_repatch"] = monkey.get_original("time", "sleep") is orig_sleep
monkey.unpatch("time")
OUT["restored"] = time.sleep is orig_sleep
OUT["unpatch_twice"] = monkey.unpatch("time")
OUT["heavy"] = [m for m in ("prompt_toolkit", "IPython", "ipykernel", "zmq", "gevent", "eventlet")
                if m in sys.modules]
"""

SCENARIOS["errors"] = """
import _thread, threading
from coopshell import monkey
errs = {}
def catch(key, fn, *a, **k):
    try:
        fn(*a, **k)
    except Exception as e:
        errs[key] = f"{type(e).__name__}: {e}"
    else:
        errs[key] = None
catch("unknown", monkey.patch_all, bogus=True, sokcet=False)
catch("unpatch_unknown", monkey.unpatch, "bogus")
OUT["gevent_only"] = sorted(monkey.patch_all(httplib=True, contextvars=False, time=False, thread=False,
                            socket=False, dns=False, select=False, os=False, ssl=False,
                            subprocess=False, signal=False, queue=False).skipped)
catch("get_original_type", monkey.get_original, 1, "x")
catch("get_original_names", monkey.get_original, "time", 5)
catch("patch_module_type", monkey.patch_module, 3.5, "coopshell")
catch("no_implements", monkey.patch_module, "json", "coopshell.event")
lock = _thread.allocate_lock(); lock.acquire()
def in_thread():
    try:
        catch("from_thread", monkey.patch_all)
        catch("from_thread_time", monkey.patch_time)
    finally:
        lock.release()
_thread.start_new_thread(in_thread, ())
lock.acquire()
OUT["errs"] = errs
OUT["nothing_patched"] = monkey.saved() == {}
"""

SCENARIOS["stale"] = """
import sys, types
mod = types.ModuleType("staleuser")
exec("from time import sleep as nap\\nimport time", mod.__dict__)
sys.modules["staleuser"] = mod
orig = mod.nap
import coopshell
from coopshell import monkey
r = monkey.patch_all(thread=False)
OUT["stale"] = [str(s) for s in r.stale if s.module == "staleuser"]
OUT["report_mentions"] = "staleuser.nap" in str(r)
OUT["api"] = [str(s) for s in monkey.stale_references() if s.module == "staleuser"]
r2 = monkey.patch_all(thread=False, fix_references=True)
OUT["fixed"] = [str(s) for s in r2.fixed if s.module == "staleuser"]
OUT["rebound"] = mod.nap is coopshell.sleep
OUT["stale_after_fix"] = [str(s) for s in r2.stale if s.module == "staleuser"]
OUT["coop_via_stale"], _ = timed(lambda i: mod.nap(0.3))
monkey.unpatch_all()
OUT["put_back"] = mod.nap is orig and time.sleep is orig
OUT["no_stale_after_unpatch"] = monkey.stale_references() == []
"""

SCENARIOS["interactive"] = """
import threading
from coopshell import monkey
OUT["default"] = monkey.is_interactive()
monkey.INTERACTIVE = True
orig_lock = threading.Lock
r = monkey.patch_all()
OUT["interactive"] = r.interactive
OUT["skipped"] = r.skipped
OUT["report"] = str(r)
OUT["threading_untouched"] = threading.Lock is orig_lock and not monkey.is_module_patched("threading")
OUT["time_patched"] = monkey.is_object_patched("time", "sleep")
r2 = monkey.patch_all(thread=True)
OUT["forced"] = monkey.is_module_patched("threading") and "thread" not in r2.skipped
monkey.unpatch_all()
monkey.INTERACTIVE = False
sys.ps1 = ">>> "
OUT["ps1"] = monkey.is_interactive()
"""

SCENARIOS["interactive_threads"] = """
import threading, queue, subprocess
import coopshell
from coopshell import monkey
monkey.INTERACTIVE = True
q, out = queue.Queue(), queue.Queue()
def frontend_thread():          # like ipykernel's / prompt_toolkit's threads
    while True:
        item = q.get()
        if item is None:
            return
        time.sleep(0.02)        # patched: runs on this thread's own hub
        echo = subprocess.run(["echo", str(item)], capture_output=True, text=True).stdout.strip()
        ev = threading.Event(); ev.set()
        out.put([item, echo, ev.wait(1)])
t = threading.Thread(target=frontend_thread, daemon=True)
t.start()
r = monkey.patch_all()
OUT["notes"] = r.notes
OUT["signal_patched"] = r.patched.get("signal")
for i in range(3):
    q.put(i)
OUT["replies"] = [out.get(timeout=5) for _ in range(3)]
OUT["coop_subprocess"], _ = timed(lambda i: subprocess.run(["sleep", "0.3"]).returncode, 6)
q.put(None); t.join(5)
OUT["joined"] = not t.is_alive()
"""

SCENARIOS["busy"] = """
import threading
from coopshell import monkey
ev = threading.Event()
started = threading.Event()
def waiter():
    started.set()
    ev.wait()
t = threading.Thread(target=waiter, name="blocked-worker")
t.start(); started.wait()
r = monkey.patch_all()
OUT["warnings"] = r.warnings
ev.set()           # an Event created before patching still works
t.join(5)
OUT["joined"] = not t.is_alive()
"""

SCENARIOS["runtime"] = """
import threading, _thread
import coopshell
from coopshell import monkey
from coopshell.event import Event
monkey.patch_all()
# the runtime's own waits still work
OUT["timeout"] = None
try:
    with coopshell.Timeout(0.05):
        coopshell.sleep(1)
except coopshell.Timeout:
    OUT["timeout"] = "raised"
ev = Event(); coopshell.spawn_later(0.02, ev.set)
OUT["event"] = ev.wait(2)
# a real thread (original start function) runs its own hub
start = monkey.get_original("_thread", "start_new_thread")
alloc = monkey.get_original("_thread", "allocate_lock")
done = alloc(); done.acquire(); res = []
def real_thread():
    try:
        gs = [coopshell.spawn(time.sleep, 0.1) for _ in range(5)]
        t0 = _mono(); coopshell.joinall(gs); res.append(_mono() - t0)
        res.append(_thread.get_ident() != threading.main_thread().ident)
    finally:
        done.release()
start(real_thread, ())
while not done.acquire(False):   # cooperative wait for the real thread
    coopshell.sleep(0.01)
OUT["real_thread"] = res
try:
    from coopshell.threadpool import ThreadPool
except ImportError:
    OUT["pool"] = "missing"
else:
    pool = ThreadPool(2)
    real_sleep = monkey.get_original("time", "sleep")
    OUT["pool"] = pool.spawn(lambda: (real_sleep(0.05), 42)[1]).get(timeout=5)
"""

SCRIPT = """
import json, sys, time, threading
import coopshell
from coopshell import monkey
print("SCRIPT " + json.dumps({"argv": sys.argv, "name": __name__,
      "coop_sleep": time.sleep is coopshell.sleep,
      "thread": monkey.is_module_patched("threading")}))
"""


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    b = Batch(SCENARIOS)
    yield b
    b.close()


def test_patch_time_cooperates_and_unpatches(batch):
    r = batch.result("time")
    assert r["patched"] == {"time": ["sleep"]}
    assert r["is_coop"] and r["is_patched"] == [True, True] and r["get_original"]
    assert r["coop_elapsed"] < 0.3 * 8 / 2, r
    assert r["unpatched"] == ["time"] and r["restored"]
    assert r["blocking_elapsed"] >= 0.35, "after unpatching, time.sleep blocks again"


def test_patch_thread_threads_are_greenlets(batch):
    r = batch.result("thread")
    assert r["interactive"] is False
    assert "Lock" in r["patched"]["threading"] and "start_new_thread" in r["patched"]["_thread"]
    assert r["main_is_main"] and r["main_ident_real"] and r["logging_swapped"]
    assert r["cached_property"] == [42, True]
    assert r["alive"] and r["dead"]
    assert r["threads_elapsed"] < 0.3 * 8 / 2, r
    assert r["queue"] == list(range(10))
    assert r["event"] == [True] and r["event_timeout"] is False
    assert r["rlock_owned"] is True and r["mutex"] is True
    assert r["lock_timeout"] == [True, False, False]
    assert r["executor"] == [0, 2, 4, 6] and r["executor_elapsed"] < 0.2 * 4 / 2
    if r["thread_local"] is not None:
        assert r["thread_local"] == ["main", "other"]
    assert any("straggler" in w for w in r["unpatch_warning"]) and r["straggler_done"] and r["main_still_registered"]
    assert r["dummy"] == [0, 50, True], "greenlets get named dummies that are not leaked"
    assert r["unpatched_lock"] != "coopshell._monkey.thread" and r["logging_restored"]


def test_unpatch_all_restores_identity(batch):
    r = batch.result("identity")
    assert {"time", "threading", "_thread"} <= set(r["changed"]), r
    assert set(r["restored"]) == set(r["saved"])
    assert r["saved_live"] and r["saved_empty_after"]
    assert r["diffs"] == []
    assert r["any_patched"] == []


def test_repeated_patching_is_idempotent(batch):
    r = batch.result("idempotent")
    assert r["second_patched"] == {}
    assert r["same_objects"] and r["first_time"] == ["sleep"]
    assert r["orig"] == [True, True] and r["unpatched_original"]
    assert r["orig_after_repatch"] and r["restored"] and r["unpatch_twice"] == []
    assert r["heavy"] == [], "patching must not import the front ends' dependencies"


def test_errors_are_clear(batch):
    r = batch.result("errors")
    e = r["errs"]
    # a misspelt patch name is an error; other names are gevent's plugin arguments
    assert e["unknown"].startswith("TypeError") and "'sokcet' (did you mean 'socket'?)" in e["unknown"]
    assert "'bogus'" not in e["unknown"]
    assert e["unpatch_unknown"].startswith("ValueError") and "bogus" in e["unpatch_unknown"]
    assert e["get_original_type"].startswith("TypeError")
    assert e["get_original_names"].startswith("TypeError")
    assert e["patch_module_type"].startswith("TypeError")
    assert e["no_implements"].startswith("MonkeyPatchError") and "__implements__" in e["no_implements"]
    for key in ("from_thread", "from_thread_time"):
        assert e[key].startswith("MonkeyPatchError") and "main thread" in e[key]
    assert r["nothing_patched"]
    assert r["gevent_only"] == ["httplib"]


def test_stale_references_found_fixed_and_put_back(batch):
    r = batch.result("stale")
    assert r["stale"] == ["staleuser.nap -> original time.sleep"]
    assert r["api"] == r["stale"] and r["report_mentions"]
    assert r["fixed"] == r["stale"] and r["rebound"] and r["stale_after_fix"] == []
    assert r["coop_via_stale"] < 0.3 * 8 / 2
    assert r["put_back"] and r["no_stale_after_unpatch"]


def test_interactive_session_leaves_threading_alone(batch):
    r = batch.result("interactive")
    assert r["default"] is False
    assert r["interactive"] is True
    assert "interactive" in r["skipped"]["thread"] and "thread=True" in r["skipped"]["thread"]
    assert "queue" in r["skipped"]
    assert "thread: interactive session" in r["report"]
    assert r["threading_untouched"] and r["time_patched"] and r["forced"]
    assert r["ps1"] is True


def test_interactive_patch_all_keeps_real_threads_working(batch):
    r = batch.result("interactive_threads")
    assert r["replies"] == [[i, str(i), True] for i in range(3)]
    assert r["coop_subprocess"] < 0.3 * 6 / 2
    assert r["joined"]
    assert r["signal_patched"] == ["signal", "getsignal"]  # coopshell.signal.__implements__


def test_patching_with_a_blocked_thread_warns_and_does_not_hang(batch):
    r = batch.result("busy")
    assert any("blocked-worker" in w and "threading" in w for w in r["warnings"]), r["warnings"]
    assert r["joined"]


def test_runtime_keeps_working_after_patch_all(batch):
    r = batch.result("runtime")
    assert r["timeout"] == "raised" and r["event"] is True
    assert r["real_thread"][0] < 0.45 and r["real_thread"][1] is True
    assert r["pool"] in (42, "missing")


def test_runner_script_and_module(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(SCRIPT))
    (tmp_path / "progmod.py").write_text(textwrap.dedent(SCRIPT))
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}")
    cmds = {
        "script": [sys.executable, "-m", "coopshell.monkey", "--verbose", str(script), "a", "-b"],
        "module": [sys.executable, "-m", "coopshell.monkey", "--no-thread", "--no-selectors",
                   "-m", "progmod", "x"],
        "module_long": [sys.executable, "-m", "coopshell.monkey", "--module", "progmod", "y"],
        "bad": [sys.executable, "-m", "coopshell.monkey", "--frobnicate", str(script)],
        "none": [sys.executable, "-m", "coopshell.monkey"],
    }
    procs = {k: subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=env, cwd=tmp_path) for k, c in cmds.items()}
    out = {k: p.communicate(timeout=60) + (p.returncode,) for k, p in procs.items()}
    import json
    s = json.loads(out["script"][0].split("SCRIPT ", 1)[1])
    assert s == {"argv": [str(script), "a", "-b"], "name": "__main__", "coop_sleep": True,
                 "thread": True}, out["script"]
    assert "patched:" in out["script"][1]          # --verbose report on stderr
    m = json.loads(out["module"][0].split("SCRIPT ", 1)[1])
    assert m["name"] == "__main__" and m["argv"][1:] == ["x"] and m["argv"][0].endswith("progmod.py")
    assert m["coop_sleep"] is True and m["thread"] is False
    ml = json.loads(out["module_long"][0].split("SCRIPT ", 1)[1])  # gevent's --module spelling
    assert ml["argv"][1:] == ["y"] and ml["thread"] is True, out["module_long"]
    assert out["bad"][2] == 2 and "unknown option '--frobnicate'" in out["bad"][1]
    assert out["none"][2] == 2 and "usage:" in out["none"][1]


def test_runner_attachable_serves_while_the_program_runs(tmp_path):
    import json
    import stat
    script = tmp_path / "prog.py"
    script.write_text(
        "import json, os\n"
        "from coopshell.backdoor import list_endpoints\n"
        "mine = [e for e in list_endpoints() if e['pid'] == os.getpid()]\n"
        "print(json.dumps({'n': len(mine), 'unix': mine[0].get('unix') if mine else None}))\n")
    r = subprocess.run([sys.executable, "-m", "coopshell.monkey", "--attachable", str(script)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["n"] == 1 and out["unix"]
    # Cleaned up after the program ends; while it ran, the socket was private.
    import os
    assert not os.path.exists(out["unix"])
    assert stat.S_IMODE(os.stat(os.path.dirname(out["unix"])).st_mode) == 0o700


SYS_PROGRAM = r"""
import sys
from coopshell import monkey
import coopshell
original_stdout = sys.stdout
r = monkey.patch_sys()
assert r.patched["sys"] == ["stdin", "stdout", "stderr"], r.patched
assert monkey.is_object_patched("sys", "stdout") and monkey.get_original("sys", "stdout") is original_stdout
reader = coopshell.spawn(sys.stdin.readline)
coopshell.sleep(0)                    # the reader now waits in a pool thread
print("READY", flush=True)            # only reached if that wait did not block us
line = reader.get(timeout=30)
def boom():
    raise ValueError("printed by the hub")
coopshell.spawn(boom).join()          # the hub writes the traceback to sys.stderr directly
print("GOT", line.strip(), type(sys.stdout).__name__)
monkey.unpatch("sys")
assert sys.stdout is original_stdout
monkey.patch_all(sys=True, thread=False, socket=False, select=False, os=False, ssl=False,
                 subprocess=False, signal=False, time=False)
print("LAST")                         # flushed at exit: the originals are back by then
"""


def test_patch_sys_makes_std_streams_cooperative(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen([sys.executable, "-c", SYS_PROGRAM], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        import select
        # without the patch the reader blocks the whole thread: READY never comes
        assert select.select([p.stdout], [], [], 60)[0], "READY never printed"
        first = p.stdout.readline()
        assert first == "READY\n", first + p.stderr.read()
        p.stdin.write("hello\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert out == "GOT hello StdStream\nLAST\n", out + err
    assert "ValueError: printed by the hub" in err


def test_patch_builtins_has_nothing_to_replace_on_python3():
    from coopshell.monkey import patch_builtins
    import coopshell.builtins as cb
    assert cb.__implements__ == []
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = patch_builtins()
    assert report.patched == {} and any("builtins" in n for n in report.notes)
