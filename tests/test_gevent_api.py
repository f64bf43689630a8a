"""gevent API items of the sync and core layers (issue 11, section 4)."""

from __future__ import annotations

import copy
import sys

import pytest

import coopshell as co
from coopshell import subprocess as csub
from coopshell.event import AsyncResult
from coopshell.local import local
from coopshell.threadpool import ThreadPool, ThreadPoolExecutor, ThreadResult
from coopshell.timeout import Timeout


def test_get_accepts_a_timeout_object():
    g = co.spawn(co.sleep, 10)
    t = Timeout(0.01)
    with pytest.raises(Timeout) as info:
        g.get(timeout=t)
    assert info.value is t
    r = AsyncResult()
    t2 = Timeout(0.01)
    with pytest.raises(Timeout) as info2:
        r.get(timeout=t2)
    assert info2.value is t2
    g.kill()


def test_asyncresult_exc_info_and_set_result():
    r = AsyncResult()
    assert r.exc_info == ()
    r.set_result(3)
    assert r.get() == 3 and r.exc_info == ()
    e = AsyncResult()
    e.set_exception(KeyError("k"))
    assert e.exc_info[0] is KeyError


def test_copy_of_a_local():
    loc = local()
    loc.x = [1]
    dup = copy.copy(loc)
    assert dup.x is loc.x and type(dup) is local
    dup.x = 2
    assert loc.x == [1]


def test_wait_accepts_popen_and_thread_pool_futures():
    p = csub.Popen([sys.executable, "-c", "pass"])
    ex = ThreadPoolExecutor(1)
    fut = ex.submit(pow, 2, 5)
    done = co.wait([p, fut], timeout=30)
    assert set(map(id, done)) == {id(p), id(fut)}
    assert p.returncode == 0 and fut.result() == 32
    ex.kill()


def test_subprocess_run_rejects_a_bad_timeout_before_starting_a_child():
    with pytest.raises(TypeError, match="timeout must be None or a number of seconds, got 'x'"):
        csub.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout="x")
    with pytest.raises(TypeError, match="got 'x'"):
        csub.call([sys.executable, "-c", "pass"], timeout="x")


def test_threadpool_gevent_api():
    pool = ThreadPool(0)                      # gevent: no threads until maxsize grows
    assert pool.maxsize == 0
    pool.maxsize = 2
    got = []
    assert pool.apply_cb(pow, (2, 3), callback=got.append) == 8 and got == [8]
    assert isinstance(pool.spawn(int), ThreadResult)
    g = pool.map_async(abs, [-1, -2], callback=got.append)
    assert g.get(timeout=30) == [1, 2]
    g.join()
    assert got[-1] == [1, 2]
    pool.kill()


def test_hub_module_and_top_level_names():
    import coopshell.hub as hub
    for name in ("getcurrent", "kill", "Waiter", "spawn_raw", "signal", "get_hub", "Hub", "sleep"):
        assert hasattr(hub, name), name
    assert hub.get_hub() is co.get_hub()
    assert co.version_info[:3] == (0, 1, 0)
    assert co.getswitchinterval() == sys.getswitchinterval()
    assert callable(co.fork) and callable(co.setswitchinterval)
    assert co.config.threadpool_size is None or co.config.threadpool_size >= 0
    with pytest.raises(AttributeError, match="known settings"):
        co.config.no_such_setting  # noqa: B018
