"""Debugging helpers: what is running, where each greenlet waits (gevent.util's API).

``format_run_info()``/``print_run_info()`` describe every thread's stack and the
tree of greenlets; :class:`GreenletTree` is that tree; :func:`wrap_errors`
turns chosen exceptions into return values; :func:`assert_switches` checks
that a block of code yields to other greenlets.

Besides gevent's names, :func:`all_greenlets`, :func:`find_greenlet`,
:func:`format_greenlet_stack` and :func:`describe_wait` are what the attach
server (``coopshell.backdoor``) and the shell's magics use to list greenlets
and print one's stack.

Differs from gevent:

- A coopshell ``Greenlet`` runs on a pooled worker greenlet, so the tree shows
  the Greenlet that a worker runs (idle workers are counted, not listed), and
  Greenlets that have not started yet appear under their hub.
- Greenlets carry no spawning greenlet or spawn stack (that would cost every
  spawn), so ``details={'spawning_stacks': True}`` has nothing to show and the
  tree is built from the raw greenlets' ``parent`` links.
"""

from __future__ import annotations

import gc
import sys
import threading as _threading
import traceback
from time import perf_counter as _perf_counter
from types import FrameType, MemberDescriptorType as _MemberDescriptor
from typing import Any, Callable, TextIO

from greenlet import getcurrent as _raw_getcurrent, greenlet as _RawGreenlet, settrace as _settrace

from ._core.hub import Hub, get_hub_if_exists
from .greenlet import Greenlet, is_task_entry_frame

__all__ = ["wrap_errors", "format_run_info", "print_run_info", "GreenletTree", "assert_switches",
           "clear_stack_frames",
           "all_greenlets", "find_greenlet", "format_greenlet_stack", "describe_wait"]

_current_frames = sys._current_frames


# -- wrap_errors ---------------------------------------------------------------------------

class wrap_errors:
    """Call ``func`` and return the exception instead of raising it, for the
    exception types in ``errors`` (a class or a tuple of them).

    Useful with ``spawn`` when a failure is an expected result:
    ``spawn(wrap_errors(ValueError, int), "x").get()`` is a ``ValueError``.
    """

    def __init__(self, errors: type[BaseException] | tuple[type[BaseException], ...],
                 func: Callable[..., Any]):
        if not callable(func):
            raise TypeError(f"wrap_errors() needs a callable as func, got {func!r}")
        classes = errors if isinstance(errors, tuple) else (errors,)
        for cls in classes:
            if not (isinstance(cls, type) and issubclass(cls, BaseException)):
                raise TypeError("wrap_errors() needs an exception class or a tuple of them as errors, "
                                f"got {errors!r}")
        self.__errors = errors
        self.__func = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.__func(*args, **kwargs)
        except self.__errors as exc:
            return exc

    def __str__(self) -> str:
        return str(self.__func)

    def __repr__(self) -> str:
        return repr(self.__func)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__func, name)


# -- finding and describing greenlets -------------------------------------------------------

def all_greenlets(include_finished: bool = False) -> list[Greenlet]:
    """Every ``Greenlet`` object alive in this process, oldest first.

    A scan of ``gc`` objects: it costs nothing until asked, and finds greenlets
    made before anyone started looking (an attach to a running program).
    """
    found = [o for o in gc.get_objects() if isinstance(o, Greenlet)]
    if not include_finished:
        found = [g for g in found if not g.dead]
    found.sort(key=lambda g: g.spawn_time)
    return found


def find_greenlet(ident: int | str) -> Greenlet:
    """The Greenlet whose ``minimal_ident`` is ``ident`` (the ID ``%greenlets`` shows).
    Raises ``LookupError`` naming the ID if there is none."""
    try:
        number = int(ident)
    except (TypeError, ValueError):
        raise ValueError(f"a greenlet ID is a number (from %greenlets), got {ident!r}") from None
    for g in all_greenlets(include_finished=True):
        if g._ident == number:
            return g
    raise LookupError(f"no greenlet with ID {number} (IDs are the numbers %greenlets shows)")


def format_greenlet_stack(g: Any, limit: int | None = None) -> str:
    """The stack of a Greenlet (or raw greenlet) as ``traceback`` formats it,
    innermost call last; the runtime's worker frame is left out."""
    frames = _task_frames(g)
    if frames is None:
        return _no_stack_reason(g)
    if not frames:
        return "(no Python frames)\n"
    summary = traceback.StackSummary.extract(((f, f.f_lineno) for f in frames), limit=None)
    lines = summary.format()
    if limit is not None and len(lines) > limit:
        lines = lines[-limit:]
    return "".join(lines)


def describe_wait(g: Any) -> str:
    """One line: where a suspended greenlet waits (its innermost user frame and the
    coopshell call it is in), 'running', or why it has no stack."""
    frames = _task_frames(g)
    if frames is None:
        return _no_stack_reason(g).strip()
    api = user = None
    for f in frames:   # outermost first
        if f.f_globals.get("__name__", "").partition(".")[0] == "coopshell":
            if api is None:
                api = f
        else:
            user = f
            api = None
    parts = []
    if api is not None:
        parts.append(f"in {getattr(api.f_code, 'co_qualname', api.f_code.co_name)}()")
    if user is not None:
        parts.append(f"at {user.f_code.co_filename.rsplit('/', 1)[-1]}:{user.f_lineno} "
                     f"in {user.f_code.co_name}()")
    return " ".join(parts) or "(no Python frames)"


def _task_frames(g):
    """Frames of ``g``'s stack, outermost first (stopping at the worker's entry
    frame); None when it has no stack to show."""
    if isinstance(g, Greenlet):
        worker = g._worker
        if worker is None:
            return None
        top = sys._getframe(2) if worker is _raw_getcurrent() else worker.gr_frame
    else:
        top = sys._getframe(2) if g is _raw_getcurrent() else getattr(g, "gr_frame", None)
    if top is None:
        return None
    frames = []
    f = top
    while f is not None and not is_task_entry_frame(f):
        frames.append(f)
        f = f.f_back
    frames.reverse()
    return frames


def _no_stack_reason(g) -> str:
    if isinstance(g, Greenlet):
        if g.dead:
            return "(finished: no stack)\n"
        if g.state == "new":
            return "(not started: no stack)\n"
        return "(scheduled, not started yet: no stack)\n"
    if getattr(g, "dead", False):
        return "(finished: no stack)\n"
    return "(not started: no stack)\n"


# -- GreenletTree -----------------------------------------------------------------------------

class GreenletTree:
    """A node of the tree of greenlets: ``greenlet`` and its ``child_trees``.

    The roots are each thread's main greenlet (``forest()``); under a hub are
    the Greenlets it runs. ``str(tree)`` is the tree without stacks,
    ``tree.format(details=True)`` adds each greenlet's running stack.
    """

    #: The raw greenlet (or Greenlet) of this node.
    greenlet: Any

    def __init__(self, greenlet: Any):
        self.greenlet = greenlet
        self.child_trees: list[GreenletTree] = []
        current = _raw_getcurrent()
        self.is_current_tree = greenlet is current or (
            isinstance(greenlet, Greenlet) and greenlet._worker is current)
        self.idle_workers = 0

    def add_child(self, tree: GreenletTree) -> None:
        if tree is self:
            raise ValueError("a GreenletTree cannot be its own child")
        self.child_trees.append(tree)

    @property
    def root(self) -> bool:
        """True for a thread's main greenlet (no parent)."""
        return getattr(self.greenlet, "parent", None) is None and not isinstance(self.greenlet, Greenlet)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.greenlet, name)

    # -- building -------------------------------------------------------------------------

    @classmethod
    def forest(cls) -> list[GreenletTree]:
        """One tree per thread's main greenlet found in ``gc``."""
        raw = [o for o in gc.get_objects() if isinstance(o, _RawGreenlet)]
        raw.append(_raw_getcurrent())
        nodes: dict[int, GreenletTree] = {}
        idle_workers: dict[int, int] = {}

        def node_for(rg):
            key = id(rg)
            n = nodes.get(key)
            if n is None:
                n = nodes[key] = cls(rg)
            return n

        roots = []
        seen = set()
        for rg in raw:
            if id(rg) in seen or rg.dead:
                continue
            seen.add(id(rg))
            parent = rg.parent
            if parent is None:
                n = node_for(rg)
                if n not in roots:
                    roots.append(n)
            elif _is_worker(rg):
                task = getattr(rg, "task", None)
                if task is None:
                    idle_workers[id(parent)] = idle_workers.get(id(parent), 0) + 1
                    node_for(parent)
                else:
                    node_for(parent).add_child(cls(task))
            else:
                node_for(parent).add_child(node_for(rg))
        # Greenlets scheduled but not started have no worker yet: show them under their hub.
        for g in all_greenlets():
            if g._worker is None and not g.dead:
                hub = g._hub
                if not hub.dead:
                    node_for(hub).add_child(cls(g))
        for key, n in nodes.items():
            n.idle_workers = idle_workers.get(key, 0)
        # A hub that is not started yet has no parent link to its thread: make it a root.
        for n in list(nodes.values()):
            g = n.greenlet
            if isinstance(g, Hub) and g.parent is None and n not in roots:
                roots.append(n)
        return roots

    @classmethod
    def current_tree(cls) -> GreenletTree:
        """The tree that contains the calling greenlet."""
        current = _raw_getcurrent()
        for tree in cls.forest():
            if tree._contains(current):
                return tree
        return cls(current)

    def _contains(self, raw) -> bool:
        g = self.greenlet
        if g is raw or (isinstance(g, Greenlet) and g._worker is raw):
            return True
        return any(t._contains(raw) for t in self.child_trees)

    # -- formatting -----------------------------------------------------------------------

    def format_lines(self, details: bool | dict = True) -> list[str]:
        """The tree as text lines. ``details``: True (stacks), False (one line per
        greenlet), or a dict with ``running_stacks``, ``running_stack_limit``,
        ``locals`` (gevent's keys)."""
        if not isinstance(details, dict):
            details = {"running_stacks": bool(details), "locals": bool(details)}
        out: list[str] = []
        self._format(out, "", "", details)
        return out

    def format(self, details: bool | dict = True) -> str:
        return "\n".join(self.format_lines(details))

    def __str__(self) -> str:
        return self.format(False)

    def _format(self, out, first, rest, details):
        out.append(first + self._label())
        if details.get("running_stacks", True):
            limit = details.get("running_stack_limit")
            g = self.greenlet
            if not (isinstance(g, Hub) or getattr(g, "parent", 1) is None):
                stack = format_greenlet_stack(g, limit=limit)
                for line in stack.rstrip("\n").splitlines():
                    out.append(rest + " :    " + line)
        if details.get("locals") and isinstance(self.greenlet, Greenlet):
            g = self.greenlet
            if g.__dict__:
                out.append(rest + " :    Greenlet attributes: " + ", ".join(sorted(g.__dict__)))
        if self.idle_workers:
            out.append(rest + f" :    ({self.idle_workers} idle worker greenlet(s) parked for reuse)")
        children = self.child_trees
        for i, child in enumerate(children):
            last = i == len(children) - 1
            child._format(out, rest + "+--- ",
                          rest + ("|    " if not last else "     "), details)

    def _label(self) -> str:
        g = self.greenlet
        mark = "*" if self.is_current_tree else ""
        if isinstance(g, Greenlet):
            return f"{mark}{g!r}; state={g.state} id={g.minimal_ident} name={g.name!r}"
        if isinstance(g, Hub):
            return f"{mark}<Hub at {id(g):#x}> thread={g.thread_ident:#x}"
        if g.parent is None:
            return f"{mark}<main greenlet at {id(g):#x}>"
        return f"{mark}{g!r}"


def _is_worker(rg) -> bool:
    """A pooled worker of ``coopshell.greenlet``: a raw greenlet with a ``task`` slot."""
    return isinstance(getattr(type(rg), "task", None), _MemberDescriptor)


# -- run info -----------------------------------------------------------------------------------

def format_run_info(thread_stacks: bool = True, greenlet_stacks: bool = True,
                    limit: int | None = None, current_thread_ident: int | None = None) -> list[str]:
    """Lines describing every thread's stack and the tree of greenlets (one
    string per line). ``limit`` caps each stack's frames."""
    lines: list[str] = []
    if current_thread_ident is None:
        current_thread_ident = _threading.get_ident()
    if thread_stacks:
        lines.append("*" * 80)
        lines.append("* Threads")
        names = {t.ident: t.name for t in _threading.enumerate()}
        for ident, frame in _current_frames().items():
            mark = "*" if ident == current_thread_ident else ""
            lines.append(f"{mark}Thread {ident:#x} ({names.get(ident, '<unknown>')})")
            lines.extend(line.rstrip("\n") for line in
                         "".join(traceback.format_stack(frame, limit)).splitlines())
            lines.append("")
    lines.append("*" * 80)
    lines.append("* Greenlets")
    details = {"running_stacks": greenlet_stacks, "running_stack_limit": limit,
               "locals": greenlet_stacks}
    for tree in GreenletTree.forest():
        lines.extend(tree.format_lines(details))
        lines.append("")
    return lines


def print_run_info(thread_stacks: bool = True, greenlet_stacks: bool = True,
                   limit: int | None = None, file: TextIO | None = None) -> None:
    """Print :func:`format_run_info` to ``file`` (default ``sys.stderr``)."""
    for line in format_run_info(thread_stacks, greenlet_stacks, limit):
        print(line, file=file if file is not None else sys.stderr)


# -- assert_switches ----------------------------------------------------------------------------

class _FailedToSwitch(AssertionError):
    """Raised by :class:`assert_switches` when the block did not yield as required."""


class _SwitchTracer:
    """The ``greenlet.settrace`` function that ``assert_switches`` installs for
    its block: counts switches, remembers the greenlet now running
    (``active_greenlet``), the last switch into the hub, and the longest
    stretch a greenlet other than the hub ran; chains to the tracer it
    replaced (``previous_trace_function``)."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.switches = 0
        self.active_greenlet: Any = _raw_getcurrent()
        self.entered_hub_at: float | None = None
        self.stretch_started = _perf_counter()
        self.longest_stretch = 0.0
        self.previous_trace_function: Callable[[str, Any], Any] | None = _settrace(self)

    def __call__(self, event: str, args: Any) -> None:
        now = _perf_counter()
        was = self.active_greenlet
        self.switches += 1
        self.active_greenlet = args[1] if event in ("switch", "throw") else None
        if was is not None and was is not self.hub:
            self.longest_stretch = max(self.longest_stretch, now - self.stretch_started)
        self.stretch_started = now
        if self.hub is not None and self.active_greenlet is self.hub:
            self.entered_hub_at = now
        previous = self.previous_trace_function
        if previous is not None:
            previous(event, args)

    def kill(self) -> None:
        """Put the replaced tracer back."""
        _settrace(self.previous_trace_function)
        self.previous_trace_function = None


class assert_switches:
    """Context manager: raise ``AssertionError`` (``_FailedToSwitch``) at the
    end of a block that did not yield as required (gevent's rules):

    - no ``max_blocking_time``: the block must switch to some greenlet;
    - ``max_blocking_time`` (seconds): no greenlet but the hub may run longer
      than that without a switch (a quick block that never switched passes);
    - with ``hub_only`` as well: the hub must have been switched into within
      the last ``max_blocking_time`` seconds when the block ends.

    It traces switches with ``greenlet.settrace`` (``self.tracer``) for the
    block only, chaining any tracer already installed. A block that raises
    is never reported: its exception propagates.
    """

    def __init__(self, max_blocking_time: float | None = None, hub_only: bool = False):
        if max_blocking_time is not None:
            if isinstance(max_blocking_time, bool) or not isinstance(max_blocking_time, (int, float)) \
                    or not max_blocking_time >= 0:
                raise ValueError(f"max_blocking_time must be a number of seconds >= 0 or None, "
                                 f"got {max_blocking_time!r}")
        self.max_blocking_time = max_blocking_time
        self.hub_only = hub_only
        self.tracer: _SwitchTracer | None = None
        self._entered = 0.0

    def __enter__(self) -> assert_switches:
        self._entered = _perf_counter()
        self.tracer = _SwitchTracer(get_hub_if_exists())
        return self

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: Any) -> None:
        tracer, self.tracer = self.tracer, None
        if tracer is None:
            return
        tracer.kill()
        if typ is not None:
            return
        now = _perf_counter()
        limit = self.max_blocking_time
        if not limit:
            failed = tracer.switches == 0
        elif self.hub_only:
            failed = tracer.entered_hub_at is None or now - tracer.entered_hub_at > limit
        else:
            if tracer.active_greenlet is not tracer.hub:
                tracer.longest_stretch = max(tracer.longest_stretch, now - tracer.stretch_started)
            failed = tracer.longest_stretch > limit
        if not failed:
            return
        message = "To the hub" if self.hub_only else "To any greenlet"
        message += f" in {now - self._entered:.4f} seconds"
        if limit:
            message += f" (max allowed {limit:.4f} seconds)"
        active = tracer.active_greenlet
        message += (f": {active!r} did not switch"
                    + (" into the hub" if self.hub_only else "") + " as required\n")
        if active is not None:
            message += format_greenlet_stack(active)
        raise _FailedToSwitch(message)


def clear_stack_frames(frame: FrameType | None) -> None:
    """Clear the local variables of ``frame`` and every frame below it, as far as
    Python allows (a frame still executing keeps its own); used to drop
    references held by a finished stack."""
    while frame is not None:
        try:
            frame.clear()
        except RuntimeError:
            pass   # the frame is still executing
        frame = frame.f_back
