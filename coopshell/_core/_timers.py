"""The loop's timers: a heap of handles with lazy cancellation.

In the spirit of trio's ``Deadlines``: one class owns the heap and its
invariants (``add``, ``cancel``, ``next_deadline``, ``expire``), and nothing
else reads the heap.

Why a handle is a ``list`` subclass: the heap entry *is* the handle, so a
timer costs one allocation, and ``heapq`` still compares entries in C
(``[when, seq, ...]``; ``seq`` is unique, so comparison never reaches the
callback). Cancelling clears the callback slot (lazy deletion); the heap is
compacted once more than half of it is dead, and dead entries at the top
are dropped whenever the next deadline is asked for.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from itertools import count
from time import monotonic

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: ``typing`` costs ~9 ms of a cold import
    from typing import Any, Callable

__all__ = ["TimerHandle", "Timers", "COMPACT_MIN"]

#: Dead entries tolerated before compaction is considered.
COMPACT_MIN = 256

# Slots of a handle (a list): due time, tie-breaking sequence number, callback
# (None once run or cancelled), its arguments, whether it keeps the loop
# alive, and the owning Timers.
_WHEN, _SEQ, _FUNC, _ARGS, _REF, _OWNER = range(6)


class TimerHandle(list):  # type: ignore[type-arg]
    """A scheduled call: ``pending`` until it runs or is cancelled."""

    __slots__ = ()

    @property
    def pending(self) -> bool:
        return self[2] is not None

    @property
    def when(self) -> float:
        """Monotonic time it is (or was) due."""
        return self[0]  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """Keep it from running; a no-op once it ran or was cancelled. Drops the
        callback and its arguments at once (the entry may stay in the heap
        until compaction, and must not keep what they reference alive)."""
        if self[2] is not None:
            self[2] = None
            self[3] = ()
            self[5]._cancelled(self[4])

    def __repr__(self) -> str:
        state = "pending" if self[2] is not None else "done"
        return f"<TimerHandle at {id(self):#x} when={self[0]:.6f} {state} {self[2]!r}>"

    # Hashable by identity (a set of handles works). No comparison method is
    # overridden: that would swap list's C comparison for a slot wrapper.
    __hash__ = object.__hash__  # type: ignore[assignment]


class Timers:
    """A min-heap of :class:`TimerHandle`, ordered by due time then creation."""

    __slots__ = ("_heap", "heap", "_dead", "_seq", "refs")

    def __init__(self) -> None:
        self._heap: list[TimerHandle] = []
        #: The heap itself, for the loop's one hot read (``heap[0][0] <= now``:
        #: the top entry is due; it may be a cancelled one). Read-only: only
        #: this class changes it, always in place.
        self.heap = self._heap
        self._dead = 0
        self._seq = count().__next__
        #: Live timers created with ``ref=True`` (they keep the loop alive).
        self.refs = 0

    def add(self, delay: float, func: Callable[..., Any], *args: Any, ref: bool = True) -> TimerHandle:
        """Call ``func(*args)`` ``delay`` seconds from now (at once if <= 0)."""
        handle = TimerHandle((monotonic() + delay, self._seq(), func, args, ref, self))
        heappush(self._heap, handle)
        if ref:
            self.refs += 1
        return handle

    def _cancelled(self, ref: bool) -> None:
        # Called by TimerHandle.cancel once the callback slot is cleared.
        if ref:
            self.refs -= 1
        self._dead += 1
        if self._dead > COMPACT_MIN and self._dead * 2 > len(self._heap):
            live = [h for h in self._heap if h[2] is not None]
            heapify(live)
            self._heap[:] = live
            self._dead = 0

    def __len__(self) -> int:
        """Live timers."""
        return len(self._heap) - self._dead

    def __bool__(self) -> bool:
        """True if the heap holds entries, live or dead (cheap: no cleanup)."""
        return bool(self._heap)

    def next_deadline(self) -> float | None:
        """Monotonic time of the next live timer, or None."""
        heap = self._heap
        while heap and heap[0][2] is None:
            heappop(heap)
            self._dead -= 1
        return heap[0][0] if heap else None

    def expire(self, handle_error: Callable[..., Any]) -> None:
        """Run every timer due by now; an exception goes to ``handle_error``.

        The handle's state is settled (callback slot cleared, ref released)
        before the callback runs, so an interrupt inside the callback cannot
        leave the count torn.
        """
        heap = self._heap
        now = monotonic()
        while heap and heap[0][0] <= now:
            handle = heappop(heap)
            func = handle[2]
            if func is None:
                self._dead -= 1
                continue
            handle[2] = None
            if handle[4]:
                self.refs -= 1
            try:
                func(*handle[3])
            except BaseException as exc:
                handle_error(func, type(exc), exc, exc.__traceback__)

    def clear(self) -> None:
        for h in self._heap:
            h[2] = None
        self._heap.clear()
        self._dead = 0
        self.refs = 0
