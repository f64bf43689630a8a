"""Cooperative name resolution, with a choice of resolver (gevent's ``gevent.resolver``).

The module functions (``gethostbyname``, ``gethostbyname_ex``,
``gethostbyaddr``, ``getaddrinfo``, ``getnameinfo``, ``getfqdn``) have the
stdlib's signatures, results and errors; ``coopshell.socket`` exports them
and monkey patching puts them in ``socket``. Each call goes to the current
thread's resolver, an instance of the selected class:

- ``thread`` (default, ``coopshell.resolver.thread.Resolver``): the system
  resolver (``/etc/hosts``, nsswitch, resolv.conf exactly as without
  coopshell), run in the hub's thread pool.
- ``dnspython`` (``coopshell.resolver.dnspython.Resolver``): DNS queries
  sent and awaited on the hub itself, built on dnspython (``pip install
  dnspython``); no thread per lookup, so any number run at once.
- ``blocking`` (``coopshell.resolver.blocking.Resolver``): the system
  resolver called directly; blocks the thread (for debugging).
- ``ares`` (``coopshell.resolver.ares.Resolver``): c-ares through pycares,
  its sockets watched by the hub (``pip install pycares``).

Choose with the ``COOPSHELL_RESOLVER`` environment variable (read at the
first lookup; a comma-separated list means "the first that imports", as
``GEVENT_RESOLVER``), or from code with ``set_resolver('dnspython')`` (a
name, a class, or a dotted class name). ``get_resolver()`` gives the current
thread's instance.
"""

from __future__ import annotations

import _thread
import importlib as _importlib
import os as _os
from typing import Any

from .._core.hub import get_hub
from . import blocking as _blocking  # noqa: F401  (imported now: it captures the originals)
from .thread import Resolver

__all__ = ["gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getaddrinfo", "getnameinfo",
           "getfqdn", "Resolver", "get_resolver", "set_resolver", "resolver_class", "RESOLVERS"]

#: The short names ``COOPSHELL_RESOLVER`` and ``set_resolver`` accept.
RESOLVERS = {
    "thread": "coopshell.resolver.thread.Resolver",
    "dnspython": "coopshell.resolver.dnspython.Resolver",
    "blocking": "coopshell.resolver.blocking.Resolver",
    "ares": "coopshell.resolver.ares.Resolver",
}
_ENV = "COOPSHELL_RESOLVER"

_tls = _thread._local()
_chosen: Any = None             # None: not decided yet (the environment decides)
_generation = 0                      # bumped by set_resolver: threads rebuild theirs


def resolver_class() -> Any:
    """The resolver class in use: ``set_resolver``'s, else ``COOPSHELL_RESOLVER``'s, else thread's."""
    global _chosen
    if _chosen is None:
        spec = _os.environ.get(_ENV, "").strip()
        _chosen = _load_spec(spec, f"{_ENV}={spec!r}") if spec else Resolver
    return _chosen


def set_resolver(resolver: Any) -> Any:
    """Use ``resolver`` from now on, in every thread: a short name (see
    ``RESOLVERS``), a dotted class name, a class taking ``hub=``, or None to
    go back to ``COOPSHELL_RESOLVER``/the default; a class or factory called
    as ``factory(hub=hub)`` (``functools.partial(dnspython.Resolver,
    nameservers=[...])`` configures one). Returns what it will call."""
    global _chosen, _generation
    if resolver is None:
        _chosen = None
        cls = resolver_class()
    elif isinstance(resolver, str):
        cls = _load_spec(resolver, f"set_resolver({resolver!r})")
    elif callable(resolver):
        cls = resolver               # a class, or a factory such as functools.partial(...)
    else:
        raise TypeError("set_resolver() expected a resolver name such as 'dnspython', a dotted "
                        f"class name, or a class or factory taking hub=, got {resolver!r}")
    _chosen = cls
    _generation += 1
    return cls


def get_resolver(hub: Any = None) -> Any:
    """The current thread's resolver (made on first use, one per hub)."""
    if hub is None:
        hub = get_hub()
    r = getattr(_tls, "resolver", None)
    if r is None or r.hub is not hub or _tls.generation != _generation:
        r = resolver_class()(hub=hub)
        _tls.resolver, _tls.generation = r, _generation
    return r


_resolver = get_resolver      # the name used before the package existed


def gethostbyname(hostname: str) -> str:
    """Cooperative ``socket.gethostbyname``."""
    return get_resolver().gethostbyname(hostname)


def gethostbyname_ex(hostname: str) -> tuple[str, list[str], list[str]]:
    """Cooperative ``socket.gethostbyname_ex``."""
    return get_resolver().gethostbyname_ex(hostname)


def gethostbyaddr(ip_address: str) -> tuple[str, list[str], list[str]]:
    """Cooperative ``socket.gethostbyaddr``."""
    return get_resolver().gethostbyaddr(ip_address)


def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                flags: int = 0) -> list:
    """Cooperative ``socket.getaddrinfo``."""
    return get_resolver().getaddrinfo(host, port, family, type, proto, flags)


def getnameinfo(sockaddr: tuple, flags: int) -> tuple[str, str]:
    """Cooperative ``socket.getnameinfo``."""
    return get_resolver().getnameinfo(sockaddr, flags)


def getfqdn(name: str = "") -> str:
    """``socket.getfqdn`` on the cooperative ``gethostbyaddr``."""
    return get_resolver().getfqdn(name)


def _load_spec(spec: str, where: str) -> type:
    """The class a short name, a list of them, or a dotted name stands for."""
    choices = [c.strip() for c in spec.split(",") if c.strip()]
    if not choices:
        raise ValueError(f"{where}: expected one of {', '.join(RESOLVERS)} or a dotted class name")
    errors = []
    for choice in choices:
        dotted = RESOLVERS.get(choice.lower(), choice)
        module, _, name = dotted.rpartition(".")
        if not module:
            raise ValueError(f"{where}: unknown resolver {choice!r}; expected one of "
                             f"{', '.join(RESOLVERS)} or a dotted class name")
        try:
            return getattr(_importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            errors.append(f"{choice}: {exc}")
    raise ImportError(f"{where}: no resolver could be loaded ({'; '.join(errors)})")
