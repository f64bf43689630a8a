"""On PYTHONPATH in the harness's alias runs only: subprocesses that gevent's
tests start (``sys.executable -c 'import gevent ...'``) get the alias too."""
import os

if os.environ.get("COOPSHELL_COMPAT_ALIAS") == "1":
    from compat import _alias_boot
    _alias_boot.install()
