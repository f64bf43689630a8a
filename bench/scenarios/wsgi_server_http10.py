"""The 5-byte WSGI app of ``wsgi_server``, one request per connection:
``wrk`` (50 connections, one thread) sends ``GET / HTTP/1.0`` without
keep-alive, so each request costs an accept, a new handler greenlet and a
close. coopshell.pywsgi against gevent.pywsgi (TCP_NODELAY on accepted
sockets), in this worker process. Requests/s, higher is better."""

from __future__ import annotations

from bench.common import Metric, Target
from bench.scenarios.wsgi_server import app, run_load, serve_in_process

TITLE = "WSGI hello (5 B), HTTP/1.0, one request per connection"
METRICS = [Metric("rps", "req/s, in-process server", better="higher"),
           Metric("us_per_req", "µs/request, in-process server")]
PARAMS = {"full": {"seconds": 10, "connections": 50},
          "quick": {"seconds": 3, "connections": 50},
          "smoke": {"seconds": 1, "connections": 4}}
TARGETS = [Target("us_per_req", max_ratio=1.0)]


def _measure(impl, seconds, connections):
    rps = serve_in_process(impl, app, lambda port: run_load(port, seconds, connections,
                                                            http10=True))
    return {"rps": rps, "us_per_req": 1e6 / rps}


def run_coopshell(seconds, connections):
    return _measure("coopshell", seconds, connections)


def run_gevent(seconds, connections):
    return _measure("gevent", seconds, connections)
