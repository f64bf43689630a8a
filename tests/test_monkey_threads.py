"""Greenlet locks made by the patched ``_thread`` and real OS threads.

After ``patch_all()`` every lock made through ``_thread.allocate_lock``
is a greenlet lock, importlib's per-module locks included. A real OS
thread (the resolver's pool threads, a thread started before patching)
that waits on one must block for real until it is released, never raise
LoopExit from a hub it does not run. Each scenario runs in a fresh
subprocess; the DNS one runs several times, since its first-import race
is what used to fail.
"""

from __future__ import annotations

import pytest

from helpers.monkey_run import Batch

SCENARIOS = {}

# 20 concurrent look-ups of distinct (host, port) pairs right after
# patching: the pool threads import encodings.idna under importlib's lock.
DNS = """
import socket
sys.setswitchinterval(1e-6)  # switch threads often: the import race shows on every run
assert "encodings.idna" not in sys.modules
from coopshell import monkey
import coopshell
monkey.patch_all()
def look(i):
    try:
        return bool(socket.getaddrinfo("localhost", 2000 + i, type=socket.SOCK_STREAM))
    except BaseException as e:
        return f"{type(e).__name__}: {e}"
rounds = []
for k in range(3):
    gs = [coopshell.spawn(look, i + 100 * k) for i in range(20)]
    coopshell.joinall(gs)
    rounds.append([g.value for g in gs])
OUT["rounds"] = rounds
"""
for _n in range(6):
    SCENARIOS[f"dns_{_n}"] = DNS

# A real thread imports a module whose import is held by a greenlet (the
# real thread is the first waiter on the greenlet lock), and the other way
# round (a greenlet waits on an import a real thread holds).
SCENARIOS["import_in_real_thread"] = """
import tempfile
d = tempfile.mkdtemp()
sys.path.insert(0, d)
with open(os.path.join(d, "coopslow.py"), "w") as f:
    f.write("import time\\ntime.sleep(0.2)\\nVALUE = 42\\n")
with open(os.path.join(d, "realslow.py"), "w") as f:
    f.write("import _thread\\n_thread._coop_started.release()\\n_thread._coop_go.acquire()\\nVALUE = 7\\n")
from coopshell import monkey
import coopshell
monkey.patch_all()
real_start = monkey.get_original("_thread", "start_new_thread")
real_lock = monkey.get_original("_thread", "allocate_lock")
res = {}

def run_real(name, done):
    try:
        res[name] = __import__(name).VALUE
    except BaseException as e:
        res[name] = f"{type(e).__name__}: {e}"
    finally:
        done.release()

def wait_real(lock):  # wait for a real lock without blocking the hub
    while not lock.acquire(False):
        coopshell.sleep(0.005)

# 1. the greenlet holds coopslow's module lock; the real thread waits on it first
g = coopshell.spawn(lambda: __import__("coopslow").VALUE)
while "coopslow" not in sys.modules:
    coopshell.sleep(0.001)
done = real_lock(); done.acquire()
real_start(run_real, ("coopslow", done))
wait_real(done)
OUT["greenlet_holds"] = [g.get(), res["coopslow"]]

# 2. the real thread holds realslow's module lock; a greenlet waits on it
import _thread
_thread._coop_started = real_lock(); _thread._coop_started.acquire()
_thread._coop_go = real_lock(); _thread._coop_go.acquire()
done = real_lock(); done.acquire()
real_start(run_real, ("realslow", done))
wait_real(_thread._coop_started)
g = coopshell.spawn(lambda: __import__("realslow").VALUE)
coopshell.sleep(0.05)   # let g park on the module lock (it cannot finish before _coop_go)
_thread._coop_go.release()
OUT["real_holds"] = [g.get(timeout=10), (wait_real(done), res["realslow"])[1]]

# 3. a plain greenlet lock: taken in the hub's thread, waited on by a real thread
lock = _thread.allocate_lock()
lock.acquire()
got = real_lock(); got.acquire()
def take():
    res["took"] = lock.acquire(timeout=10)
    lock.release()
    got.release()
real_start(take, ())
coopshell.sleep(0.05)
lock.release()
wait_real(got)
OUT["plain"] = [res["took"], lock.acquire(False)]
"""


@pytest.fixture(scope="module")
def batch():
    b = Batch(SCENARIOS)
    yield b
    b.close()


@pytest.mark.parametrize("n", range(6))
def test_dns_under_patched_threads_never_loop_exits(batch, n):
    r = batch.result(f"dns_{n}")
    assert r["rounds"] == [[True] * 20] * 3, r["rounds"]


def test_imports_shared_between_greenlets_and_real_threads(batch):
    r = batch.result("import_in_real_thread")
    assert r["greenlet_holds"] == [42, 42]
    assert r["real_holds"] == [7, 7]
    assert r["plain"] == [True, True]
