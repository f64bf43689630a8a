"""Logs for ``coopshell.pywsgi``: the ``log``/``error_log`` arguments
(a file, a ``logging.Logger`` through :class:`LoggingLogAdapter`, or None)
and the cached dates of the access log and the ``Date`` header.

Private: ``pywsgi`` re-exports :class:`LoggingLogAdapter`.
"""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["LoggingLogAdapter", "NoopLog", "make_log", "http_date", "log_date"]


class LoggingLogAdapter:
    """Lets a ``logging.Logger`` be a server's ``log`` or ``error_log``:
    each ``write`` becomes one record at ``level``. Other attributes are
    the logger's."""

    def __init__(self, logger: Any, level: int = 20):
        object.__setattr__(self, "_logger", logger)
        object.__setattr__(self, "_level", level)

    def write(self, msg: str) -> None:
        if msg.endswith("\n"):
            msg = msg[:-1]
        self._logger.log(self._level, msg)

    def flush(self) -> None:
        """Nothing to flush: the logger's handlers do their own."""

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._logger, name)

    def __setattr__(self, name, value):
        setattr(self._logger, name, value)

    def __delattr__(self, name):
        delattr(self._logger, name)


class NoopLog:
    """A log that drops everything (enough of a file for wsgiref's validator)."""

    def write(self, *args):
        pass

    def flush(self):
        pass

    def writelines(self, *args):
        pass


def make_log(log: Any, level: int) -> Any:
    """The server's log for the ``log=``/``error_log=`` argument."""
    if log == "default":
        return sys.stderr
    if log is None:
        return None
    if not hasattr(log, "write") and hasattr(log, "log"):
        return LoggingLogAdapter(log, level)
    if not hasattr(log, "write"):
        raise TypeError(f"log must be 'default', None, a logging.Logger or have write(), "
                        f"got {log!r}")
    return log


_date_cache = [0, "", ""]


def _refresh_dates(now):
    t = time.gmtime(now)
    _date_cache[0] = now
    _date_cache[1] = time.strftime("%a, %d %b %Y %H:%M:%S GMT", t)
    _date_cache[2] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", t)


def http_date() -> str:
    now = int(time.time())
    if now != _date_cache[0]:
        _refresh_dates(now)
    return _date_cache[1]


def log_date() -> str:
    now = int(time.time())
    if now != _date_cache[0]:
        _refresh_dates(now)
    return _date_cache[2]
