"""gevent's examples, each run by :mod:`compat._example_driver` in a fresh process.

The driver runs in a private network namespace where ``unshare`` allows; without
one the examples' fixed ports would clash, so they then run one at a time, and
``dns_mass_resolve`` is reported as not run (its resolver would reach past
loopback otherwise).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

__all__ = ["EXAMPLES", "CI_EXAMPLES", "NOT_RUN", "run_example"]

#: The examples that need nothing past the standard library and gevent.
EXAMPLES = ("concurrent_download", "dns_mass_resolve", "echoserver", "geventsendfile",
            "portforwarder", "processes", "threadpool", "udp_client", "udp_server",
            "unixsocket_client", "unixsocket_server", "webproxy", "wsgiserver", "wsgiserver_ssl")
#: Examples left out, with the reason.
NOT_RUN = {
    "psycopg2_pool": "needs a PostgreSQL server and psycopg2",
    "webpy": "needs web.py (unmaintained, not installable on this Python)",
    "webchat": "a Django project; needs Django and a configured site",
}
#: Examples in ``--ci`` (quick, and passing on coopshell today).
CI_EXAMPLES: tuple[str, ...] = ("echoserver", "udp_server", "threadpool")
_serial = threading.Lock()


def run_example(env, mode: str, name: str, logs: Path) -> dict:
    from .run import child_environ, in_netns, netns_available, run_child
    netns = netns_available()
    cmd = in_netns([str(env.python), "-m", "compat._example_driver", mode, name,
                    str(env.examples_dir), "1" if netns else "0"])
    lock = _serial if not netns else None
    if lock:
        lock.acquire()
    try:
        rc, timed_out, text, seconds = run_child(cmd, cwd=env.examples_dir,
                                                 env=child_environ(mode), timeout=120,
                                                 log_path=None)
    finally:
        if lock:
            lock.release()
    result = {"ok": False, "note": f"driver exit {rc}" + (" (timed out)" if timed_out else ""),
              "output": text[-6000:]}
    for line in text.splitlines():
        if line.startswith("COMPAT-RESULT "):
            result = json.loads(line[len("COMPAT-RESULT "):])
    path = logs / mode / f"example-{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {result['note']}\n{result['output']}")
    return {"file": name, "mode": mode, "ok": result["ok"], "note": result["note"],
            "seconds": round(seconds, 1), "timed_out": timed_out,
            "cause": _cause(result) if not result["ok"] else ""}


def _cause(result: dict) -> str:
    from .parse import blamed_module, _last_exception_line
    out = result.get("output", "")
    if "Traceback" in out:
        line = _last_exception_line(out[out.rfind("Traceback"):])
        mod = blamed_module(out[out.rfind("Traceback"):], line)
        return line + (f" [{mod}]" if mod else "")
    return result.get("note", "")
