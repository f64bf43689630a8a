"""Cooperative replacement for the stdlib ``time`` module.

Everything is the running stdlib's ``time``, except ``sleep``, which is
``coopshell.sleep``: the calling greenlet waits in the hub while the others
run (gevent's ``gevent.time``).

Differs from the stdlib:

- ``sleep()`` takes ``seconds=0`` by default and a ``ref`` keyword, as
  ``gevent.sleep`` does; ``sleep(0)`` yields to the other greenlets.
"""

from __future__ import annotations

import time as _std

from ._core.hub import sleep

#: Stdlib names this module rewrites to cooperate.
__implements__ = ["sleep"]
#: Names only coopshell has.
__extensions__: list[str] = []
#: Stdlib callables passed through after review: clocks, conversions and
#: formatting; none of them waits.
_REVIEWED = {
    "asctime", "ctime", "gmtime", "localtime", "mktime", "strftime", "strptime", "struct_time",
    "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
    "process_time", "process_time_ns", "thread_time", "thread_time_ns", "get_clock_info",
    "clock_getres", "clock_gettime", "clock_gettime_ns", "clock_settime", "clock_settime_ns",
    "pthread_getcpuclockid", "tzset",
}


def _is_constant_or_exception(obj) -> bool:
    return not callable(obj) or (isinstance(obj, type) and issubclass(obj, BaseException))


__imports__ = [n for n in dir(_std) if not n.startswith("_") and n not in __implements__
               and (n in _REVIEWED or _is_constant_or_exception(getattr(_std, n)))]
globals().update({n: getattr(_std, n) for n in __imports__})

__all__ = __implements__ + __imports__ + __extensions__
