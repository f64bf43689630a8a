"""coopshell's benchmark suite: the same scenarios on coopshell, gevent,
eventlet and asyncio (plain and on uvloop), each run in a fresh process.

Run ``python -m bench --help``. Scenarios live in :mod:`bench.scenarios`,
one module each; see ``bench/README.md`` for how to add one.
"""

__all__: list[str] = []
