"""``python -m compat``: gevent's test suite and examples under coopshell (see :mod:`compat.run`)."""

import sys

from .run import main

if __name__ == "__main__":
    sys.exit(main())
