"""A DNS sweep: ``names`` distinct names resolved with ``gethostbyname``,
``concurrency`` greenlets (tasks) at a time, against a local DNS responder
that answers every query after ``delay`` seconds
(:mod:`bench.scenarios._dns_responder`). Total seconds, per resolver:

- ``thread``: the system resolver (glibc, via nsswitch and
  /etc/resolv.conf) in the thread pool: coopshell's and gevent's default,
  asyncio's ``loop.getaddrinfo``;
- ``dnspython``: a cooperative dnspython resolver: ``coopshell.resolver.
  dnspython`` if the tree measured has it, gevent's ``GEVENT_RESOLVER=
  dnspython``, eventlet's greendns;
- ``ares``: c-ares: gevent's ``GEVENT_RESOLVER=ares`` (coopshell's
  ``coopshell.resolver.ares`` if it exists).

A resolver an implementation lacks shows as n/a; so does one whose lookups
fail (each failed lookup is counted, not left to kill its greenlet: gevent
26.9's dnspython resolver fails every lookup with dnspython 2.9, and a sweep
of dead workers would otherwise look fast). A failed lookup on coopshell is
an error of the measurement.

How the names reach the local responder: each measurement runs in its own
process inside a private network and mount namespace (``unshare --mount
--net``, which needs root or CAP_SYS_ADMIN; it works in this container).
There, the process brings up its own loopback interface, bind-mounts a
temporary resolv.conf (``nameserver 127.0.0.1``) over /etc/resolv.conf, and
starts the responder on 127.0.0.1 port 53. The system resolver cannot be
pointed at a port other than 53 or at a file other than /etc/resolv.conf,
hence the namespace; it also means nothing of the sweep is visible outside
(no packet leaves the namespace, port 53 of the host is untouched, and the
mount disappears with the process). The dnspython and ares resolvers are
also told the nameserver explicitly (``GEVENT_RESOLVER_NAMESERVERS``,
``dns.resolver.default_resolver``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from bench.common import Metric, Target, child_env

TITLE = "DNS sweep: 5,000 distinct names, local responder answering after 20 ms"
METRICS = [Metric("s_thread", "s total, thread (system) resolver"),
           Metric("s_dnspython", "s total, dnspython resolver"),
           Metric("s_ares", "s total, ares resolver")]
PARAMS = {"full": {"names": 5000, "concurrency": 500, "delay": 0.02},
          "quick": {"names": 1000, "concurrency": 500, "delay": 0.02},
          "smoke": {"names": 20, "concurrency": 10, "delay": 0.02}}
# Issue 15's target, "<= 0.3x gevent's default resolver" (gevent's default is
# its thread resolver), is for coopshell's cooperative resolvers: dnspython
# and ares, against gevent's s_thread. coopshell's own thread resolver runs
# the same glibc call in a pool of the same size as gevent's (10 threads), so
# both take names x 20 ms / 10; no thread resolver can be 3x faster than
# another with the same pool, and its target is parity (no regression).
TARGETS = [Target("s_dnspython", max_ratio=0.3, against="s_thread"),
           Target("s_ares", max_ratio=0.3, against="s_thread"),
           Target("s_thread", max_ratio=1.1)]

_RESOLVERS = ("thread", "dnspython", "ares")


def _in_namespace(impl, resolver, names, concurrency, delay):
    """Run one sweep in a fresh process in a private net+mount namespace;
    return its seconds, or None if ``impl`` has no such resolver."""
    with tempfile.NamedTemporaryFile("w", prefix="bench-resolv-", suffix=".conf") as conf:
        conf.write("nameserver 127.0.0.1\noptions timeout:2 attempts:3\n")
        conf.flush()
        code = (f"from bench.scenarios.dns_sweep import inner; "
                f"inner({impl!r}, {resolver!r}, {names}, {concurrency}, {delay}, {conf.name!r})")
        env = child_env(GEVENT_RESOLVER=resolver, GEVENT_RESOLVER_NAMESERVERS="127.0.0.1")
        try:
            proc = subprocess.run(["unshare", "--mount", "--net", "--", sys.executable, "-c", code],
                                  capture_output=True, text=True, env=env, timeout=600)
        except FileNotFoundError:
            raise RuntimeError("dns_sweep needs util-linux's `unshare` (private network and "
                               "mount namespace for the system resolver)") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        hint = (" (unshare needs root or CAP_SYS_ADMIN)"
                if "unshare" in proc.stderr and "ermission" in proc.stderr else "")
        raise RuntimeError(f"dns_sweep {impl}/{resolver} failed{hint}: {tail}")
    out = json.loads(lines[-1])
    if out.get("failed"):
        # coopshell's own failures are errors; another implementation's
        # resolver that fails (gevent 26.9's dnspython resolver with
        # dnspython 2.9: every lookup raises gaierror, '_DualResolver' has no
        # 'resolve_name') is shown as n/a rather than as a fast sweep.
        message = (f"dns_sweep {impl}/{resolver}: {out['failed']} of {names} lookups failed, "
                   f"e.g. {out['example']}")
        if impl == "coopshell":
            raise RuntimeError(message)
        print(message, file=sys.stderr, flush=True)
        return None
    return out["seconds"]


def _lo_up():
    """Bring up ``lo`` in this (new) network namespace, by ioctl: no iproute2 needed."""
    import fcntl
    import socket
    import struct
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        got = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH22x", b"lo", 0))
        flags = struct.unpack("16sH22x", got)[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def _lookup(impl, resolver):
    """``(gethostbyname, spawn, joinall)`` for ``impl``'s ``resolver``, or None."""
    if impl == "coopshell":
        import coopshell
        if resolver == "thread":
            from coopshell.resolver import gethostbyname
        else:
            import importlib
            try:
                mod = importlib.import_module(f"coopshell.resolver.{resolver}")
            except ImportError:
                return None
            gethostbyname = mod.Resolver().gethostbyname
        return gethostbyname, coopshell.spawn, coopshell.joinall
    if impl == "gevent":
        import gevent
        import gevent.socket
        name = type(gevent.get_hub().resolver).__module__
        if not name.endswith(resolver):
            raise RuntimeError(f"GEVENT_RESOLVER={resolver} gave {name}")
        return gevent.socket.gethostbyname, gevent.spawn, gevent.joinall
    if impl == "eventlet":
        if resolver != "dnspython":
            return None
        import eventlet
        from eventlet.green import socket

        def joinall(gs):
            for g in gs:
                g.wait()

        return socket.gethostbyname, eventlet.spawn, joinall
    raise ValueError(f"no green lookup for {impl!r}")


def inner(impl, resolver, names, concurrency, delay, resolv_conf):
    """The measured process, inside the namespaces: prints ``{"seconds": ...}``."""
    from time import perf_counter

    from bench.scenarios._dns_responder import address, name
    _lo_up()
    subprocess.run(["mount", "--bind", resolv_conf, "/etc/resolv.conf"], check=True)
    responder = subprocess.Popen(
        [sys.executable, "-m", "bench.scenarios._dns_responder", "--delay", str(delay)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env())
    try:
        if responder.stdout.readline().strip() != b"ready":
            raise RuntimeError("the DNS responder did not start")
        import dns.resolver
        explicit = dns.resolver.Resolver(configure=False)
        explicit.nameservers = ["127.0.0.1"]
        dns.resolver.default_resolver = explicit
        todo = [(name(i), address(i)) for i in range(names)]
        wrong, failed = [], []
        if impl.startswith("asyncio"):
            seconds = _asyncio_sweep(impl, resolver, todo, concurrency, wrong)
        else:
            got = _lookup(impl, resolver)
            if got is None:
                print(json.dumps({"seconds": None}), flush=True)
                return
            gethostbyname, spawn, joinall = got
            it = iter(todo)

            def worker():
                for host, ip in it:
                    try:
                        if gethostbyname(host) != ip:
                            wrong.append(host)
                    except Exception as exc:   # counted: a dead worker must not look fast
                        failed.append(f"{host}: {type(exc).__name__}: {exc}")

            t0 = perf_counter()
            joinall([spawn(worker) for _ in range(concurrency)])
            seconds = perf_counter() - t0
        if wrong:
            raise AssertionError(f"{len(wrong)} names resolved wrong, e.g. {wrong[:3]}")
        if failed:
            print(json.dumps({"seconds": None, "failed": len(failed), "example": failed[0]}),
                  flush=True)
            return
        print(json.dumps({"seconds": seconds}), flush=True)
    finally:
        responder.stdin.close()
        responder.wait(timeout=30)


def _asyncio_sweep(impl, resolver, todo, concurrency, wrong):
    import asyncio
    import socket
    from time import perf_counter
    if impl == "asyncio+uvloop":
        import uvloop
        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    else:
        runner = asyncio.Runner()

    async def main():
        loop = asyncio.get_running_loop()
        it = iter(todo)

        async def worker():
            for host, ip in it:
                info = await loop.getaddrinfo(host, None, family=socket.AF_INET,
                                              type=socket.SOCK_STREAM)
                if info[0][4][0] != ip:
                    wrong.append(host)

        t0 = perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return perf_counter() - t0

    with runner:
        return runner.run(main())


def _run(impl, names, concurrency, delay, resolvers=_RESOLVERS):
    return {f"s_{r}": (_in_namespace(impl, r, names, concurrency, delay) if r in resolvers
                       else None) for r in _RESOLVERS}


def run_coopshell(names, concurrency, delay):
    return _run("coopshell", names, concurrency, delay)


def run_gevent(names, concurrency, delay):
    return _run("gevent", names, concurrency, delay)


def run_eventlet(names, concurrency, delay):
    return _run("eventlet", names, concurrency, delay, resolvers=("dnspython",))


def run_asyncio(names, concurrency, delay):
    from bench.common import _loop_factory
    impl = "asyncio+uvloop" if _loop_factory is not None else "asyncio"
    return _run(impl, names, concurrency, delay, resolvers=("thread",))
