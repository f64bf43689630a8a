"""coopshell.events: the event bus and gevent's event classes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from coopshell import events


@pytest.fixture
def recorded():
    seen = []
    events.subscribers.append(seen.append)
    yield seen
    events.subscribers.remove(seen.append)


def test_notify_calls_each_subscriber_in_order(recorded):
    order = []
    events.subscribers.append(lambda e: order.append(("second", e)))
    try:
        ev = events.EventLoopBlocked("g", 1.5, ["line"])
        events.notify(ev)
    finally:
        events.subscribers.pop()
    assert recorded == [ev]
    assert order == [("second", ev)]
    assert events.IEventLoopBlocked.providedBy(ev)
    assert (ev.greenlet, ev.blocking_time, ev.info, ev.hub) == ("g", 1.5, ["line"], None)
    assert "1.500 s" in repr(ev)


def test_subscriber_error_propagates(recorded):
    def bad(e):
        raise RuntimeError("subscriber broke")
    events.subscribers.append(bad)
    try:
        with pytest.raises(RuntimeError, match="subscriber broke"):
            events.notify(object())
    finally:
        events.subscribers.remove(bad)


def test_patch_events_hierarchy_and_arguments():
    will = events.GeventWillPatchAllEvent({"socket": True, "thread": False}, {"extra": 1})
    assert events.IGeventWillPatchAllEvent.providedBy(will)
    assert events.IGeventWillPatchEvent.providedBy(will)
    assert isinstance(will, events.GeventPatchEvent)
    assert will.will_patch_module("socket") and not will.will_patch_module("thread")
    assert not will.will_patch_module("ssl")
    assert will.patch_all_kwargs == {"extra": 1}
    will.patch_all_arguments["socket"] = False            # a copy
    assert will.will_patch_module("socket")
    mod = events.GeventWillPatchModuleEvent("socket", "src", "tgt", ["socket"])
    assert (mod.module_name, mod.source, mod.target, mod.patched_items) == (
        "socket", "src", "tgt", ["socket"])
    assert events.IGeventDidPatchEvent.providedBy(events.GeventDidPatchModuleEvent("ssl", 1, 2))
    assert issubclass(events.DoNotPatch, BaseException)
    for cls in (events.GeventWillPatchAllEvent, events.GeventDidPatchAllEvent,
                events.GeventDidPatchBuiltinModulesEvent, events.GeventWillPatchModuleEvent,
                events.GeventDidPatchModuleEvent):
        assert cls.ENTRY_POINT_NAME.startswith("coopshell.plugins.monkey.")


def test_notify_and_call_entry_points_with_none_registered(recorded):
    ev = events.GeventDidPatchAllEvent({}, {})
    events.notify_and_call_entry_points(ev)
    assert recorded == [ev]


def test_memory_events():
    over = events.MemoryUsageThresholdExceeded(200, 100, None)
    under = events.MemoryUsageUnderThreshold(50, 100, None, 250)
    assert events.IMemoryUsageThresholdExceeded.providedBy(over)
    assert under.max_memory_usage == 250 and "used=50" in repr(under)


def test_with_zope_installed_the_interfaces_and_bus_are_zopes():
    verify = pytest.importorskip("zope.interface.verify")
    zope_event = pytest.importorskip("zope.event")
    assert events.subscribers is zope_event.subscribers and events.notify is zope_event.notify
    verify.verifyClass(events.IEventLoopBlocked, events.EventLoopBlocked)
    verify.verifyObject(events.IMemoryUsageThresholdExceeded,
                        events.MemoryUsageThresholdExceeded(0, 0, 0))
    verify.verifyObject(events.IMemoryUsageUnderThreshold,
                        events.MemoryUsageUnderThreshold(0, 0, 0, 0))
    will = events.GeventWillPatchModuleEvent("socket", "src", "tgt", ["socket"])
    verify.verifyObject(events.IGeventWillPatchModuleEvent, will)
    assert events.IGeventPatchEvent.providedBy(will) and not events.IGeventDidPatchEvent.providedBy(will)


def test_without_zope_the_stand_ins_answer_the_same_questions():
    code = """
import sys
for name in ("zope", "zope.interface", "zope.event"):
    sys.modules[name] = None   # as if not installed
from coopshell import events as e
will = e.GeventWillPatchAllEvent({"socket": True}, {})
assert e.IGeventWillPatchAllEvent.providedBy(will)
assert e.IGeventPatchEvent.providedBy(will)            # through the interface hierarchy
assert not e.IGeventDidPatchEvent.providedBy(will)
assert e.IGeventWillPatchEvent.implementedBy(e.GeventWillPatchModuleEvent)
assert isinstance(e.EventLoopBlocked("g", 1.0, []), e.IEventLoopBlocked)
seen = []
e.subscribers.append(seen.append)
e.notify(will)
assert seen == [will], seen
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
