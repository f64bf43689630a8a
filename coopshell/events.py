"""Runtime events, as ``gevent.events``: subscribe to monkey patching and a blocked hub.

A subscriber is any callable in :data:`subscribers`; :func:`notify` calls each
with the event object. When ``zope.event`` is installed its ``subscribers``
list *is* this one, so code written for gevent's or zope's event bus works
unchanged.

Differs from gevent:

- The ``I*`` names are plain marker base classes that the events derive
  from (test with ``isinstance``), not ``zope.interface`` interfaces: the
  runtime does not depend on zope.
- Entry points are looked up under ``coopshell.plugins.monkey.*``, so plugins
  written for gevent (which import gevent) are not loaded by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "subscribers", "notify", "notify_and_call_entry_points",
    "IEventLoopBlocked", "EventLoopBlocked",
    "IMemoryUsageThresholdExceeded", "MemoryUsageThresholdExceeded",
    "IMemoryUsageUnderThreshold", "MemoryUsageUnderThreshold",
    "IPeriodicMonitorThread", "IPeriodicMonitorThreadStartedEvent",
    "PeriodicMonitorThreadStartedEvent",
    "IGeventPatchEvent", "GeventPatchEvent", "IGeventWillPatchEvent", "DoNotPatch",
    "GeventWillPatchEvent", "IGeventDidPatchEvent", "GeventDidPatchEvent",
    "IGeventWillPatchModuleEvent", "GeventWillPatchModuleEvent",
    "IGeventDidPatchModuleEvent", "GeventDidPatchModuleEvent",
    "IGeventWillPatchAllEvent", "GeventWillPatchAllEvent",
    "IGeventDidPatchBuiltinModulesEvent", "GeventDidPatchBuiltinModulesEvent",
    "IGeventDidPatchAllEvent", "GeventDidPatchAllEvent",
]

try:
    from zope.event import subscribers as _zope_subscribers  # type: ignore[import-not-found]
except ImportError:
    _zope_subscribers = None

#: The callables :func:`notify` calls, in order, with each event.
subscribers: list[Callable[[Any], Any]] = (
    _zope_subscribers if _zope_subscribers is not None else [])

_ENTRY_POINT_PREFIX = "coopshell.plugins.monkey."


def notify(event: Any) -> None:
    """Call every subscriber with ``event``; an error in one propagates."""
    for subscriber in list(subscribers):
        subscriber(event)


def notify_and_call_entry_points(event: Any) -> None:
    """:func:`notify`, then load and call the entry points registered under
    ``event.ENTRY_POINT_NAME``."""
    notify(event)
    from importlib import metadata
    for ep in metadata.entry_points(group=event.ENTRY_POINT_NAME):
        ep.load()(event)


# -- the blocking monitor ----------------------------------------------------------

class IPeriodicMonitorThread:
    """Marker: a thread that watches the hub periodically."""


class IPeriodicMonitorThreadStartedEvent:
    """Marker: the monitor thread started."""


class PeriodicMonitorThreadStartedEvent(IPeriodicMonitorThreadStartedEvent):
    """Sent when the monitor thread starts; ``monitor`` is it."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "periodic_monitor_thread_started"

    def __init__(self, monitor: Any):
        self.monitor = monitor


class IEventLoopBlocked:
    """Marker: the hub was blocked by a greenlet."""


class EventLoopBlocked(IEventLoopBlocked):
    """Sent when ``greenlet`` kept the hub from running for ``blocking_time``
    seconds; ``info`` is a list of lines describing where."""

    def __init__(self, greenlet: Any, blocking_time: float, info: list[str], *,
                 hub: Any = None):
        self.greenlet = greenlet
        self.blocking_time = blocking_time
        self.info = info
        self.hub = hub

    def __repr__(self) -> str:
        return (f"<EventLoopBlocked {self.blocking_time:.3f} s by {self.greenlet!r}>")


class IMemoryUsageThresholdExceeded:
    """Marker: the process uses more memory than allowed."""


class MemoryUsageThresholdExceeded(IMemoryUsageThresholdExceeded):
    """Sent when memory use ``mem_usage`` passes ``max_allowed`` bytes."""

    def __init__(self, mem_usage: int, max_allowed: int, memory_info: Any):
        self.mem_usage = mem_usage
        self.max_allowed = max_allowed
        self.memory_info = memory_info

    def __repr__(self) -> str:
        return f"<{type(self).__name__} used={self.mem_usage} max={self.max_allowed}>"


class IMemoryUsageUnderThreshold:
    """Marker: memory use fell back under the threshold."""


class MemoryUsageUnderThreshold(IMemoryUsageUnderThreshold):
    """Sent when memory use falls back under ``max_allowed``; ``max_usage`` is
    the peak seen while over it."""

    def __init__(self, mem_usage: int, max_allowed: int, memory_info: Any, max_usage: int):
        self.mem_usage = mem_usage
        self.max_allowed = max_allowed
        self.memory_info = memory_info
        self.max_memory_usage = max_usage

    def __repr__(self) -> str:
        return f"<{type(self).__name__} used={self.mem_usage} max={self.max_allowed}>"


# -- monkey patching -----------------------------------------------------------------

class IGeventPatchEvent:
    """Marker: an event about patching ``target`` with ``source``."""


class GeventPatchEvent(IGeventPatchEvent):
    """Base of the patch events: ``source`` replaces what is in ``target``."""

    def __init__(self, source: Any, target: Any):
        self.source = source
        self.target = target

    def __repr__(self) -> str:
        return f"<{type(self).__name__} source={self.source!r} target={self.target!r}>"


class IGeventWillPatchEvent(IGeventPatchEvent):
    """Marker: about to patch; a subscriber may veto by raising :class:`DoNotPatch`."""


class DoNotPatch(BaseException):
    """Raised by a subscriber of a *will patch* event to veto that patch."""


class GeventWillPatchEvent(GeventPatchEvent, IGeventWillPatchEvent):
    """Sent before a patch is applied."""


class IGeventDidPatchEvent(IGeventPatchEvent):
    """Marker: a patch was applied."""


class GeventDidPatchEvent(GeventPatchEvent, IGeventDidPatchEvent):
    """Sent after a patch was applied."""


class IGeventWillPatchModuleEvent(IGeventWillPatchEvent):
    """Marker: about to patch one stdlib module."""


class GeventWillPatchModuleEvent(GeventWillPatchEvent, IGeventWillPatchModuleEvent):
    """Sent before stdlib module ``module_name`` (``target``) gets the names
    ``items`` from ``source``."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "will_patch_module"

    def __init__(self, module_name: str, source: Any, target: Any, items: list[str]):
        super().__init__(source, target)
        self.module_name = module_name
        self.patched_items = items


class IGeventDidPatchModuleEvent(IGeventDidPatchEvent):
    """Marker: one stdlib module was patched."""


class GeventDidPatchModuleEvent(GeventDidPatchEvent, IGeventDidPatchModuleEvent):
    """Sent after stdlib module ``module_name`` was patched."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "did_patch_module"

    def __init__(self, module_name: str, source: Any, target: Any):
        super().__init__(source, target)
        self.module_name = module_name


class _PatchAllMixin:
    def __init__(self, patch_all_arguments: dict[str, Any], patch_all_kwargs: dict[str, Any]):
        super().__init__(None, None)  # type: ignore[call-arg]
        self._patch_all_arguments = patch_all_arguments
        self._patch_all_kwargs = patch_all_kwargs

    @property
    def patch_all_arguments(self) -> dict[str, Any]:
        """The named arguments ``patch_all`` was called with (a copy)."""
        return dict(self._patch_all_arguments)

    @property
    def patch_all_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments passed to ``patch_all`` (a copy)."""
        return dict(self._patch_all_kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._patch_all_arguments!r}>"


class IGeventWillPatchAllEvent(IGeventWillPatchEvent):
    """Marker: ``patch_all`` is about to run."""


class GeventWillPatchAllEvent(_PatchAllMixin, GeventWillPatchEvent, IGeventWillPatchAllEvent):
    """Sent when ``patch_all`` starts."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "will_patch_all"

    def will_patch_module(self, module_name: str) -> bool:
        """Whether ``patch_all`` was asked to patch ``module_name``."""
        return bool(self._patch_all_arguments.get(module_name))


class IGeventDidPatchBuiltinModulesEvent(IGeventDidPatchEvent):
    """Marker: the stdlib modules are patched (third-party patches may follow)."""


class GeventDidPatchBuiltinModulesEvent(_PatchAllMixin, GeventDidPatchEvent,
                                        IGeventDidPatchBuiltinModulesEvent):
    """Sent once ``patch_all`` patched the stdlib modules."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "did_patch_builtins"


class IGeventDidPatchAllEvent(IGeventDidPatchEvent):
    """Marker: ``patch_all`` finished."""


class GeventDidPatchAllEvent(_PatchAllMixin, GeventDidPatchEvent, IGeventDidPatchAllEvent):
    """Sent when ``patch_all`` is done."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "did_patch_all"
