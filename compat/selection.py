"""Which of gevent's test files run here, and why the others do not.

The reasons are repeated in ``compat/README.md``; keep the two in step.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["EXCLUDED", "portable_tests", "CI_FILE"]

_LOOP = "gevent.core / libev / libuv loop-watcher internals; coopshell has its own loop"
EXCLUDED = {
    "test__core.py": _LOOP,
    "test__core_async.py": _LOOP,
    "test__core_callback.py": _LOOP,
    "test__core_fork.py": _LOOP,
    "test__core_loop_run.py": _LOOP,
    "test__core_stat.py": _LOOP + " (stat watchers)",
    "test__core_timer.py": _LOOP,
    "test__core_watcher.py": _LOOP,
    "test__close_backend_fd.py": "closes the libev/libuv backend file descriptor",
    "test__destroy_default_loop.py": "destroys the C default loop of libev/libuv",
    "test__nondefaultloop.py": "builds a second libev/libuv loop object by its class",
    "test__ares_host_result.py": "c-ares result objects (gevent.resolver.cares, Cython)",
    "test__ares_timeout.py": "c-ares resolver timeouts (gevent.resolver.ares)",
    "test__refcount_core.py": "reference counts of gevent.core's Cython watchers",
    "test___config.py": "gevent._config internals (setting classes, loop/resolver choices)",
    "test___monitor.py": "gevent._monitor internals (the monitor thread's private API)",
    "test__compat.py": "gevent._compat, gevent's private Python-2/3 shims",
    "test__doctests.py": "runs the doctests in gevent's own source files",
    "test__execmodules.py": "executes every module file of gevent's own source tree",
    "test__all__.py": "walks gevent's own source tree (its files, __implements__ tables)",
    "test___monkey_patching.py": "runs CPython's whole stdlib test suite under patching "
                                 "(hours; belongs to a separate, long job)",
    "test__environ.py": "GEVENT_BACKEND choosing libev's 'select' backend",
    "test__examples.py": "runs gevent's examples its own way; the harness runs them itself",
    "test__socket_dns.py": "compares resolvers on real Internet host names (network)",
    "test__socket_dns6.py": "resolves real IPv6 Internet host names (network)",
    "test__resolver_dnspython.py": "gevent's dnspython resolver plugin loading "
                                   "(gevent.resolver.dnspython internals, network names)",
}

#: Files that pass whole today and are quick: ``--ci`` runs these.
CI_FILE = Path(__file__).with_name("ci_files.txt")


def portable_tests(tests_dir: Path) -> list[str]:
    """The gevent.tests.test__*.py file names that the harness runs, sorted."""
    names = sorted(p.name for p in tests_dir.glob("test__*.py"))
    return [n for n in names if n not in EXCLUDED]


def ci_files() -> list[str]:
    if not CI_FILE.exists():
        return []
    return [ln.strip() for ln in CI_FILE.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
