"""Live progress for sweeps: ``for g in progress(jobs): ...``.

``progress()`` wraps what a sweep iterates over (a list of greenlets, which it
yields as they finish like ``iwait``; or any iterable such as
``Pool.imap_unordered(...)`` or ``iwait(...)``) and keeps a one-line bar up to
date: done/total, rate, ETA and failures.

Where the bar goes depends on the front end. Front ends register a renderer
factory with :func:`set_default_renderer` (the shell draws above the prompt,
the kernel updates one display in place). Without one, a plain script gets a
bar on stderr when stderr is a terminal, and nothing otherwise.

Costs: per item, a counter (and a failure check for greenlets). Redraws come
from one hub timer, at most ``1 / interval`` times a second, and only when a
count changed. A sweep stopped by Ctrl-C (or ``break``) leaves the bar in its
final state, marked interrupted, with the counts reached.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from time import monotonic
from typing import Any, Protocol

from ._core.hub import get_hub
from .greenlet import iwait

__all__ = ["progress", "Progress", "Renderer", "set_default_renderer", "StreamBar"]

#: Seconds between redraws (at most ten a second).
DEFAULT_INTERVAL = 0.1


class Renderer(Protocol):
    """Draws a :class:`Progress`; ``close`` draws the final state once."""

    def update(self, p: Progress) -> None: ...

    def close(self, p: Progress) -> None: ...


class Progress:
    """The state of one sweep, and the iterator over it."""

    def __init__(self, items: Iterable[Any], total: int | None = None, desc: str | None = None,
                 *, bar: Any = None, interval: float = DEFAULT_INTERVAL, transient: bool = False):
        if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            raise TypeError(f"progress() expected an iterable or a list of greenlets, "
                            f"got {items!r}")
        if total is not None and (not isinstance(total, int) or isinstance(total, bool)
                                  or total < 0):
            raise TypeError(f"progress() total must be a non-negative int or None, got {total!r}")
        if not interval > 0:
            raise ValueError(f"progress() interval must be > 0 seconds, got {interval!r}")
        if _waitable_collection(items):
            items = list(items)
            self._source: Iterable[Any] = iwait(items)
            if total is None:
                total = len(items)
        else:
            self._source = items
            if total is None and hasattr(items, "__len__"):
                total = len(items)  # type: ignore[arg-type]
        self.total = total
        self.desc = desc
        self.done = 0
        self.failed = 0
        self.interrupted = False
        self.finished = False
        self.started_at = monotonic()
        self.ended_at: float | None = None
        self._interval = interval
        #: Erase the bar when the sweep ends normally (the caller prints a
        #: summary, as ``%joinall`` does); an interrupted sweep keeps its bar.
        self.transient = bool(transient)
        self._drawn = (-1, -1)
        self._timer: Any = None
        self._renderer = _make_renderer(bar, self)

    # -- numbers ---------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        end = self.ended_at if self.ended_at is not None else monotonic()
        return end - self.started_at

    @property
    def rate(self) -> float:
        """Items per second so far."""
        t = self.elapsed
        return self.done / t if t > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, or None when unknown."""
        if self.total is None or not self.done:
            return None
        return max(0, self.total - self.done) / self.rate if self.rate else None

    def format(self) -> str:
        """The bar's text, e.g. ``scan: 37/100 37% 12.3/s ETA 5s, 2 failed``."""
        parts = [f"{self.desc}:"] if self.desc else []
        if self.total:
            parts.append(f"{self.done}/{self.total} {100 * self.done // self.total}%")
        else:
            parts.append(f"{self.done}" + ("/0" if self.total == 0 else ""))
        parts.append(f"{self.rate:.1f}/s")
        if self.finished or self.interrupted:
            parts.append(f"in {_duration(self.elapsed)}")
        elif self.eta is not None:
            parts.append(f"ETA {_duration(self.eta)}")
        text = " ".join(parts)
        if self.failed:
            text += f", {self.failed} failed"
        if self.interrupted:
            text += " (interrupted)"
        return text

    def __repr__(self) -> str:
        return f"<Progress {self.format()}>"

    # -- iterating -------------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:
        return self._run()

    def _run(self) -> Iterator[Any]:
        renderer = self._renderer
        loop = get_hub().loop
        self._timer = loop.add_timer(self._interval, self._tick, ref=False)
        try:
            for item in self._source:
                self.done += 1
                if getattr(item, "exception", None) is not None:
                    self.failed += 1
                yield item
            self.finished = True
        except BaseException:
            self.interrupted = True
            raise
        finally:
            if not self.finished:
                self.interrupted = True
            self.ended_at = monotonic()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if renderer is not None:
                renderer.close(self)

    def _tick(self) -> None:
        state = (self.done, self.failed)
        if state != self._drawn and self._renderer is not None:
            self._drawn = state
            try:
                self._renderer.update(self)
            except Exception:
                # A broken renderer must not kill the sweep; stop drawing.
                self._renderer = None
                get_hub().handle_error(self, *sys.exc_info())
                return
        self._timer = get_hub().loop.add_timer(self._interval, self._tick, ref=False)


def progress(items: Iterable[Any], total: int | None = None, desc: str | None = None, *,
             bar: Any = None, interval: float = DEFAULT_INTERVAL,
             transient: bool = False) -> Progress:
    """Iterate ``items`` with a live progress bar.

    A list (tuple, set) of greenlets or other waitables is yielded in the
    order they finish, like ``iwait``; anything else is iterated as it is.
    ``total`` defaults to ``len(items)`` where there is one. ``bar`` picks
    the display: None for the front end's default, False for none, a
    :class:`Renderer`, or a tqdm-like class (``bar=tqdm``), which is then
    called as ``bar(total=, desc=)`` and fed ``update(1)`` per item.
    ``transient``: erase a terminal bar once the sweep finishes (not when it
    is interrupted), for callers that print their own summary.
    """
    return Progress(items, total, desc, bar=bar, interval=interval, transient=transient)


# -- renderers -------------------------------------------------------------------

class StreamBar:
    """A bar on a terminal stream, redrawn in place with a carriage return."""

    def __init__(self, stream: Any):
        self.stream = stream
        self._width = 0

    def update(self, p: Progress) -> None:
        self._draw(p.format(), end="")

    def close(self, p: Progress) -> None:
        if p.transient and p.finished:
            if self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
            return
        self._draw(p.format(), end="\n")

    def _draw(self, text: str, end: str) -> None:
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + pad + end)
        self.stream.flush()


class _TqdmBar:
    """Feeds a tqdm-like object: ``update(n)`` for new items, ``close()`` at the end."""

    def __init__(self, factory: Callable[..., Any], p: Progress):
        self.bar = factory(total=p.total, desc=p.desc)
        self.shown = 0

    def update(self, p: Progress) -> None:
        if p.done > self.shown:
            self.bar.update(p.done - self.shown)
            self.shown = p.done

    def close(self, p: Progress) -> None:
        self.update(p)
        self.bar.close()


def _default_renderer(p: Progress) -> Renderer | None:
    stream = sys.stderr
    isatty = getattr(stream, "isatty", None)
    if stream is not None and isatty is not None and isatty():
        return StreamBar(stream)
    return None


_renderer_factory: Callable[[Progress], Renderer | None] = _default_renderer


def set_default_renderer(factory: Callable[[Progress], Renderer | None] | None) -> None:
    """Front ends: make ``factory(progress)`` choose the renderer for every bar
    created without ``bar=``; None restores the plain-script default."""
    global _renderer_factory
    if factory is not None and not callable(factory):
        raise TypeError(f"set_default_renderer() expected a callable or None, got {factory!r}")
    _renderer_factory = factory if factory is not None else _default_renderer


def _make_renderer(bar: Any, p: Progress) -> Renderer | None:
    if bar is None:
        return _renderer_factory(p)
    if bar is False:
        return None
    if callable(getattr(bar, "update", None)) and callable(getattr(bar, "close", None)) \
            and not isinstance(bar, type):
        return bar  # type: ignore[no-any-return]
    if callable(bar):
        return _TqdmBar(bar, p)
    raise TypeError(f"progress() bar must be None, False, a renderer or a tqdm-like class, "
                    f"got {bar!r}")


def _waitable_collection(items: Any) -> bool:
    if not isinstance(items, (list, tuple, set, frozenset)) or not items:
        return False
    return all(callable(getattr(obj, "rawlink", None)) for obj in items)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"
