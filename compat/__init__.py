"""Compatibility harness: gevent's own tests and examples run against coopshell.

Like ``bench/``, this is a tool of the repository, never imported by the
``coopshell`` package. ``python -m compat`` (see ``compat/README.md``).
"""
