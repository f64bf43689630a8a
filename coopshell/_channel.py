"""``Channel``: a rendezvous between greenlets, without a buffer (gevent's
``gevent.queue.Channel``; import it from ``coopshell.queue``).

Apart from the buffered queues because it shares none of their state: a
putter waits with its item (an ``_Offer``) until a getter takes it.
"""

from __future__ import annotations

import types
from collections import deque
from queue import Empty, Full
from typing import Any, Callable, ClassVar

from greenlet import getcurrent as _getcurrent

from ._core.exceptions import TIMED_OUT, InvalidSwitchError, check_can_block
from ._core.hub import get_hub
from ._core.waiter import check_timeout_nonnegative as check_timeout, discard
from ._queue_wait import IterateByGet, park_or_discard, schedule_in, wait_under
from .timeout import Timeout

__all__ = ["Channel"]


class Channel(IterateByGet):
    """A rendezvous between greenlets: ``put`` waits until a ``get`` takes
    the item, ``get`` waits until a ``put`` offers one; nothing is buffered.
    (gevent's Channel; ``maxsize`` must be 1, as there.)"""

    __slots__ = ("getters", "putters", "hub", "_handoff", "_accepted", "_unlock_pending",
                 "__weakref__")

    __class_getitem__: ClassVar[Any] = classmethod(types.GenericAlias)

    def __init__(self, maxsize: int = 1) -> None:
        if maxsize != 1:
            raise ValueError(f"Channels have a maxsize of 1 (they hold no items), got {maxsize!r}")
        self.getters: deque[Callable[[Any], Any]] = deque()    # switches of waiting getters
        self.putters: deque[_Offer] = deque()                  # _Offer of waiting putters
        self.hub: Any = None
        self._handoff: deque[Any] = deque()   # items given to getters being woken
        self._accepted: deque[Callable[[Any], Any]] = deque()  # switches of putters whose item was taken
        self._unlock_pending = False

    @property
    def balance(self) -> int:
        """Waiting putters minus waiting getters."""
        return len(self.putters) - len(self.getters)

    def qsize(self) -> int:
        return 0

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return True

    def empty(self) -> bool:
        return True

    def full(self) -> bool:
        return True

    def put(self, item: Any, block: bool = True, timeout: float | Timeout | None = None) -> None:
        """Give ``item`` to a getter, waiting up to ``timeout`` seconds for one
        to take it (``Full`` if none did). With ``block=False`` succeed only
        if a getter is already waiting."""
        cur = _getcurrent()
        hub = self.hub
        if hub is None:
            hub = self.hub = get_hub()
        if not block or cur is hub:
            if len(self.getters) > len(self._handoff):
                self._handoff.append(item)
                if cur is hub:
                    self.getters.popleft()(self)
                else:
                    self._schedule_unlock()
                return
            if block:
                check_can_block(hub, cur)
            raise Full
        if timeout is not None:
            if isinstance(timeout, Timeout):
                wait_under(timeout, self.put, item, True, None)
                return
            timeout = check_timeout(timeout)
        offer = _Offer(item, cur.switch)
        putters = self.putters
        putters.append(offer)
        if self.getters:
            self._schedule_unlock()
        try:
            result = park_or_discard(hub, cur, putters, offer, timeout)
        except BaseException:
            discard(self._accepted, offer.switch)
            raise
        if result is self:
            return
        discard(putters, offer)
        if result is TIMED_OUT:
            try:
                self._accepted.remove(offer.switch)
            except ValueError:
                raise Full from None
            return  # a getter took the item just before the timer fired
        raise InvalidSwitchError(f"Invalid switch into {cur!r} in put() on {self!r}: got {result!r}")

    def put_nowait(self, item: Any) -> None:
        self.put(item, False)

    def get(self, block: bool = True, timeout: float | Timeout | None = None) -> Any:
        """Take an item from a putter, waiting up to ``timeout`` seconds for
        one (``Empty`` if none came). With ``block=False`` succeed only if a
        putter is already waiting."""
        if not self.getters:
            if self._handoff:
                return self._handoff.popleft()
            if self.putters:
                offer = self.putters.popleft()
                self._accepted.append(offer.switch)
                self._schedule_unlock()
                return offer.item
        if not block:
            raise Empty
        if isinstance(timeout, Timeout):
            return wait_under(timeout, self.get, True, None)
        cur = _getcurrent()
        hub = self.hub
        if hub is None:
            hub = self.hub = get_hub()
        if cur is hub:
            check_can_block(hub, cur)
        getters = self.getters
        sw = cur.switch
        getters.append(sw)
        if self.putters or self._handoff:
            self._schedule_unlock()
        result = park_or_discard(hub, cur, getters, sw, timeout)
        if result is self:
            return self._handoff.popleft()
        discard(getters, sw)
        if result is TIMED_OUT:
            raise Empty
        raise InvalidSwitchError(f"Invalid switch into {cur!r} in get() on {self!r}: got {result!r}")

    def get_nowait(self) -> Any:
        return self.get(False)

    def _schedule_unlock(self) -> None:
        if not self._unlock_pending:
            self._unlock_pending = True
            hub = self.hub
            if hub is None:
                hub = self.hub = get_hub()
            schedule_in(hub, self._unlock)

    def _unlock(self) -> None:
        """In the hub: pair waiting getters with offers, wake them, then
        wake the putters whose items were taken (bounded like Queue's)."""
        self._unlock_pending = False
        getters = self.getters
        putters = self.putters
        handoff = self._handoff
        accepted = self._accepted
        budget = len(getters) + len(putters) + len(accepted)
        while budget > 0:
            budget -= 1
            if getters and (handoff or putters):
                if not handoff:
                    offer = putters.popleft()
                    handoff.append(offer.item)
                    accepted.append(offer.switch)
                getters.popleft()(self)
            elif accepted:
                accepted.popleft()(self)
            else:
                return
        if accepted or (getters and (handoff or putters)):
            self._schedule_unlock()

    def __repr__(self) -> str:
        parts = ""
        if self.getters:
            parts += f" getters[{len(self.getters)}]"
        if self.putters:
            parts += f" putters[{len(self.putters)}]"
        return f"<{type(self).__name__} at {id(self):#x}{parts}>"


class _Offer:
    """A waiting putter's item and wakeup (compared by identity)."""

    __slots__ = ("item", "switch")

    def __init__(self, item: Any, switch: Callable[[Any], Any]) -> None:
        self.item = item
        self.switch = switch
