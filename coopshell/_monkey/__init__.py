"""Private helpers of ``coopshell.monkey`` (the greenlet stand-ins for ``_thread``)."""

__all__: list[str] = []
