"""Runtime events, as ``gevent.events``: subscribe to monkey patching and a blocked hub.

A subscriber is any callable in :data:`subscribers`; :func:`notify` calls each
with the event object. When ``zope.event`` is installed its ``subscribers``
list *is* this one, so code written for gevent's or zope's event bus works
unchanged.

Differs from gevent:

- The runtime does not depend on zope. When ``zope.interface`` is installed
  the ``I*`` names are its interfaces and the event classes implement them
  (``IEventLoopBlocked.providedBy(event)``, ``verifyObject``), as gevent's;
  without it they are small stand-ins with the same ``providedBy`` and
  ``implementedBy`` (and ``isinstance`` works on them).
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
    from zope.event import notify as _zope_notify, subscribers as _zope_subscribers  # type: ignore[import-not-found]
except ImportError:
    _zope_subscribers = _zope_notify = None

try:
    from zope.interface import Attribute, Interface, implementer  # type: ignore[import-not-found]
except ImportError:
    class Attribute:  # type: ignore[no-redef]
        """An attribute an interface declares (documentation only, as zope's)."""

        def __init__(self, doc: str) -> None:
            self.__doc__ = doc

    class _InterfaceMeta(type):
        def __instancecheck__(cls, obj: Any) -> bool:
            return cls.providedBy(obj)  # type: ignore[attr-defined, no-any-return]

    class Interface(metaclass=_InterfaceMeta):  # type: ignore[no-redef]
        """Stand-in for ``zope.interface.Interface``: what classes declared with
        ``implementer`` provide."""

        @classmethod
        def implementedBy(cls, klass: type) -> bool:  # noqa: N802 - zope's name
            return any(issubclass(iface, cls)
                       for k in klass.__mro__ for iface in vars(k).get("_coopshell_implements", ()))

        @classmethod
        def providedBy(cls, obj: Any) -> bool:  # noqa: N802 - zope's name
            return cls.implementedBy(type(obj))

    def implementer(*interfaces: type) -> Callable[[type], type]:  # type: ignore[no-redef]
        """Stand-in for ``zope.interface.implementer``."""
        def declare(klass: type) -> type:
            klass._coopshell_implements = interfaces  # type: ignore[attr-defined]
            return klass
        return declare

#: The callables :func:`notify` calls, in order, with each event.
subscribers: list[Callable[[Any], Any]] = (
    _zope_subscribers if _zope_subscribers is not None else [])

_ENTRY_POINT_PREFIX = "coopshell.plugins.monkey."


def _notify(event: Any) -> None:
    """Call every subscriber with ``event``; an error in one propagates."""
    for subscriber in list(subscribers):
        subscriber(event)


#: ``zope.event.notify`` itself when zope.event is installed (gevent's).
notify: Callable[[Any], None] = _zope_notify if _zope_notify is not None else _notify


def notify_and_call_entry_points(event: Any) -> None:
    """:func:`notify`, then load and call the entry points registered under
    ``event.ENTRY_POINT_NAME``."""
    notify(event)
    from importlib import metadata
    for ep in metadata.entry_points(group=event.ENTRY_POINT_NAME):
        ep.load()(event)


# -- the blocking monitor ----------------------------------------------------------

class IPeriodicMonitorThread(Interface):
    """A thread that watches the hub periodically."""

    def add_monitoring_function(function: Callable[[Any], Any], period: float | None) -> None:  # type: ignore[misc]  # noqa: N805
        """Call ``function(hub)`` every ``period`` seconds from the monitor thread."""


class IPeriodicMonitorThreadStartedEvent(Interface):
    """The monitor thread started."""

    monitor = Attribute("The IPeriodicMonitorThread that was started.")


@implementer(IPeriodicMonitorThreadStartedEvent)
class PeriodicMonitorThreadStartedEvent:
    """Sent when the monitor thread starts; ``monitor`` is it."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "periodic_monitor_thread_started"

    def __init__(self, monitor: Any):
        self.monitor = monitor


class IEventLoopBlocked(Interface):
    """The hub was blocked by a greenlet."""

    greenlet = Attribute("The greenlet that kept the hub from running.")
    blocking_time = Attribute("About how many seconds the hub was blocked.")
    info = Attribute("Lines describing where (a list; subscribers may add to it).")
    hub = Attribute("The hub that was blocked, or None.")


@implementer(IEventLoopBlocked)
class EventLoopBlocked:
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


class IMemoryUsageThresholdExceeded(Interface):
    """The process uses more memory than allowed."""

    mem_usage = Attribute("The memory the process uses now, in bytes.")
    max_allowed = Attribute("The most it may use, in bytes.")
    memory_info = Attribute("The memory statistics measured (psutil's).")


@implementer(IMemoryUsageThresholdExceeded)
class MemoryUsageThresholdExceeded:
    """Sent when memory use ``mem_usage`` passes ``max_allowed`` bytes."""

    def __init__(self, mem_usage: int, max_allowed: int, memory_info: Any):
        self.mem_usage = mem_usage
        self.max_allowed = max_allowed
        self.memory_info = memory_info

    def __repr__(self) -> str:
        return f"<{type(self).__name__} used={self.mem_usage} max={self.max_allowed}>"


class IMemoryUsageUnderThreshold(Interface):
    """Memory use fell back under the threshold."""

    mem_usage = Attribute("The memory the process uses now, in bytes.")
    max_allowed = Attribute("The most it may use, in bytes.")
    max_memory_usage = Attribute("The peak seen while it was over the threshold, in bytes.")
    memory_info = Attribute("The memory statistics measured (psutil's).")


@implementer(IMemoryUsageUnderThreshold)
class MemoryUsageUnderThreshold:
    """Sent when memory use falls back under ``max_allowed``; ``max_memory_usage``
    is the peak seen while over it."""

    def __init__(self, mem_usage: int, max_allowed: int, memory_info: Any, max_usage: int):
        self.mem_usage = mem_usage
        self.max_allowed = max_allowed
        self.memory_info = memory_info
        self.max_memory_usage = max_usage

    def __repr__(self) -> str:
        return f"<{type(self).__name__} used={self.mem_usage} max={self.max_allowed}>"


# -- monkey patching -----------------------------------------------------------------

class IGeventPatchEvent(Interface):
    """An event about patching ``target`` with ``source``."""

    source = Attribute("What holds the replacements (a coopshell module).")
    target = Attribute("What is patched (a stdlib module), or None.")


@implementer(IGeventPatchEvent)
class GeventPatchEvent:
    """Base of the patch events: ``source`` replaces what is in ``target``."""

    def __init__(self, source: Any, target: Any):
        self.source = source
        self.target = target

    def __repr__(self) -> str:
        return f"<{type(self).__name__} source={self.source!r} target={self.target!r}>"


class IGeventWillPatchEvent(IGeventPatchEvent):
    """About to patch; a subscriber may veto by raising :class:`DoNotPatch`."""


class DoNotPatch(BaseException):
    """Raised by a subscriber of a *will patch* event to veto that patch."""


@implementer(IGeventWillPatchEvent)
class GeventWillPatchEvent(GeventPatchEvent):
    """Sent before a patch is applied."""


class IGeventDidPatchEvent(IGeventPatchEvent):
    """A patch was applied."""


@implementer(IGeventDidPatchEvent)
class GeventDidPatchEvent(GeventPatchEvent):
    """Sent after a patch was applied."""


class IGeventWillPatchModuleEvent(IGeventWillPatchEvent):
    """About to patch one stdlib module."""

    module_name = Attribute("The name of the stdlib module about to be patched.")
    target_item_names = Attribute("The names about to be replaced in it.")


@implementer(IGeventWillPatchModuleEvent)
class GeventWillPatchModuleEvent(GeventWillPatchEvent):
    """Sent before stdlib module ``module_name`` (``target``) gets the names
    ``items`` from ``source``."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "will_patch_module"

    def __init__(self, module_name: str, source: Any, target: Any, items: list[str]):
        super().__init__(source, target)
        self.module_name = module_name
        self.target_item_names = self.patched_items = items


class IGeventDidPatchModuleEvent(IGeventDidPatchEvent):
    """One stdlib module was patched."""

    module_name = Attribute("The name of the stdlib module that was patched.")


@implementer(IGeventDidPatchModuleEvent)
class GeventDidPatchModuleEvent(GeventDidPatchEvent):
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
    """``patch_all`` is about to run."""

    patch_all_arguments = Attribute("The named arguments patch_all was called with.")
    patch_all_kwargs = Attribute("Extra keyword arguments passed to patch_all.")

    def will_patch_module(module_name: str) -> bool:  # type: ignore[misc]  # noqa: N805
        """Whether ``patch_all`` was asked to patch ``module_name``."""


@implementer(IGeventWillPatchAllEvent)
class GeventWillPatchAllEvent(_PatchAllMixin, GeventWillPatchEvent):
    """Sent when ``patch_all`` starts."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "will_patch_all"

    def will_patch_module(self, module_name: str) -> bool:
        """Whether ``patch_all`` was asked to patch ``module_name``."""
        return bool(self._patch_all_arguments.get(module_name))


class IGeventDidPatchBuiltinModulesEvent(IGeventDidPatchEvent):
    """The stdlib modules are patched (third-party patches may follow)."""

    patch_all_arguments = Attribute("The named arguments patch_all was called with.")
    patch_all_kwargs = Attribute("Extra keyword arguments passed to patch_all.")


@implementer(IGeventDidPatchBuiltinModulesEvent)
class GeventDidPatchBuiltinModulesEvent(_PatchAllMixin, GeventDidPatchEvent):
    """Sent once ``patch_all`` patched the stdlib modules."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "did_patch_builtins"


class IGeventDidPatchAllEvent(IGeventDidPatchEvent):
    """``patch_all`` finished."""


@implementer(IGeventDidPatchAllEvent)
class GeventDidPatchAllEvent(_PatchAllMixin, GeventDidPatchEvent):
    """Sent when ``patch_all`` is done."""

    ENTRY_POINT_NAME = _ENTRY_POINT_PREFIX + "did_patch_all"
