"""The WSGI environ classes of ``coopshell.pywsgi`` (gevent's names): a
plain :class:`Environ`, and :class:`SecureEnviron` whose repr hides values
(cookies, authorization) in error reports.

Private: ``pywsgi`` re-exports them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Environ", "SecureEnviron", "WSGISecureEnviron"]


class Environ(dict):
    """A base class for WSGI environ objects (a plain dict with no extras)."""

    __slots__ = ()

    def copy(self):
        return self.__class__(self)

    def __reduce_ex__(self, proto):
        return (dict, (), None, None, iter(self.items()))


class SecureEnviron(Environ):
    """An environ whose repr hides values (cookies, authorization) unless
    their key is in ``whitelist_keys``; ``secure_repr = False`` shows all.
    Instances may override the class's ``default_*`` settings."""

    default_secure_repr = True
    default_whitelist_keys: Any = ()
    default_print_masked_keys = True

    __slots__ = ("secure_repr", "whitelist_keys", "print_masked_keys")

    def __getattr__(self, name):
        if name in SecureEnviron.__slots__:
            return getattr(type(self), "default_" + name)
        raise AttributeError(name)

    def __repr__(self):
        if not self.secure_repr:
            return dict.__repr__(self)
        whitelist = self.whitelist_keys
        if not whitelist:
            return f"<pywsgi.SecureEnviron dict (keys: {len(self)}) at {id(self):#x}>"
        masked = self.print_masked_keys
        shown = {k: (v if k in whitelist else "<MASKED>") for k, v in self.items()
                 if masked or k in whitelist}
        text = repr(shown)
        if not masked and len(shown) != len(self):
            text = text[:-1] + (", " if shown else "") + f"(hidden keys: {len(self) - len(shown)})}}"
        return text

    __str__ = __repr__


class WSGISecureEnviron(SecureEnviron):
    """A :class:`SecureEnviron` that shows the client address and Host only."""

    default_whitelist_keys = ("REMOTE_ADDR", "REMOTE_PORT", "HTTP_HOST")
    default_print_masked_keys = False
