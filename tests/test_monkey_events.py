"""patch_all as gevent's: patch events, plugin arguments, warnings at once,
the repeated-call warning (each in a fresh interpreter: patching is
process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, ssl, warnings
    from ssl import SSLContext
    class MySubclass(SSLContext):
        pass
    from coopshell import events, monkey
    OUT = {}
    seen = []
    events.subscribers.append(seen.append)

    def veto(event):
        if isinstance(event, events.GeventWillPatchModuleEvent) and event.module_name == "queue":
            raise events.DoNotPatch
    events.subscribers.append(veto)
    ctx = SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = monkey.patch_all(extra_kwarg=42)
    OUT["first_warnings"] = [str(w.message) for w in caught
                             if issubclass(w.category, monkey.MonkeyPatchWarning)]
    OUT["kinds"] = [type(e).__name__ for e in seen]
    OUT["kwargs"] = seen[0].patch_all_kwargs
    OUT["will_socket"] = seen[0].will_patch_module("socket")
    OUT["modules"] = [e.module_name for e in seen if isinstance(e, events.GeventDidPatchModuleEvent)]
    OUT["queue_vetoed"] = "queue" in report.skipped and not monkey.is_module_patched("queue")
    del seen[:]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monkey.patch_all(extra_kwarg=42)           # the same again: nothing new, quiet
        OUT["same_again"] = [str(w.message) for w in caught if "more than once" in str(w.message)]
        del caught[:]
        monkey.patch_all(os=False)                 # different flags: gevent's warning
        OUT["different"] = [str(w.message) for w in caught if "more than once" in str(w.message)]
    OUT["events_on_repeat"] = len(seen)
    OUT["settings_recorded"] = monkey.saved[monkey.SETTINGS_KEY]["socket"]
    OUT["anything_after_unpatch"] = (monkey.unpatch_all() and monkey.is_anything_patched())
    print(json.dumps(OUT))
""")


def _run() -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_patch_all_events_kwargs_and_warnings():
    out = _run()
    assert out["kinds"][0] == "GeventWillPatchAllEvent"
    assert out["kinds"][1] == "GeventWillPatchModuleEvent"
    assert out["kinds"][-2:] == ["GeventDidPatchBuiltinModulesEvent", "GeventDidPatchAllEvent"]
    assert out["kwargs"] == {"extra_kwarg": 42} and out["will_socket"] is True
    assert {"socket", "time", "threading", "select"} <= set(out["modules"])
    assert "queue" not in out["modules"] and out["queue_vetoed"]
    # the SSL context made before patching is warned about at once, as gevent does
    assert any("SSLContext" in w for w in out["first_warnings"]), out["first_warnings"]
    early = [w for w in out["first_warnings"] if "imported before patching" in w]
    assert len(early) == 1 and "Modules that had direct imports (NOT patched): ['__main__']" in early[0]
    assert "Subclasses (NOT patched): ['__main__.MySubclass']" in early[0]
    assert out["same_again"] == [] and len(out["different"]) == 1
    assert out["events_on_repeat"] == 0
    assert out["settings_recorded"] is True
    assert out["anything_after_unpatch"] is False


def test_module_lock_imported_before_patching_becomes_a_greenlet_lock():
    """concurrent.futures.thread imported first: its _global_shutdown_lock
    (taken by submit, and by its at-fork hook) becomes a greenlet lock, and
    unpatching puts the native one back (gevent's issue 1865)."""
    script = textwrap.dedent("""
        import json
        import concurrent.futures.thread as cft
        native = cft._global_shutdown_lock
        from coopshell import monkey
        from coopshell._monkey.thread import LockType
        report = monkey.patch_all(warn=False)
        out = {"green": isinstance(cft._global_shutdown_lock, LockType),
               "reported": report.patched.get("concurrent.futures.thread")}
        with cft.ThreadPoolExecutor(2) as pool:
            out["works"] = list(pool.map(abs, [-1, -2]))
        monkey.unpatch_all()
        out["restored"] = cft._global_shutdown_lock is native
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"green": True, "reported": ["_global_shutdown_lock"], "works": [1, 2],
                   "restored": True}
