"""coopshell.events: the event bus and gevent's event classes."""

from __future__ import annotations

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
    assert isinstance(ev, events.IEventLoopBlocked)
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
    assert isinstance(will, events.IGeventWillPatchAllEvent)
    assert isinstance(will, events.IGeventWillPatchEvent)
    assert isinstance(will, events.GeventPatchEvent)
    assert will.will_patch_module("socket") and not will.will_patch_module("thread")
    assert not will.will_patch_module("ssl")
    assert will.patch_all_kwargs == {"extra": 1}
    will.patch_all_arguments["socket"] = False            # a copy
    assert will.will_patch_module("socket")
    mod = events.GeventWillPatchModuleEvent("socket", "src", "tgt", ["socket"])
    assert (mod.module_name, mod.source, mod.target, mod.patched_items) == (
        "socket", "src", "tgt", ["socket"])
    assert isinstance(events.GeventDidPatchModuleEvent("ssl", 1, 2), events.IGeventDidPatchEvent)
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
    assert isinstance(over, events.IMemoryUsageThresholdExceeded)
    assert under.max_memory_usage == 250 and "used=50" in repr(under)
