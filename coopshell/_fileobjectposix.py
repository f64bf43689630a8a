"""``io.open``'s arguments for a cooperative fd: gevent's ``_fileobjectposix``.

:class:`GreenOpenDescriptor` is :class:`~coopshell._fileobjectcommon.OpenDescriptor`
(the same checks and messages) whose ``opened()`` gives the stream a
``FileObjectPosix`` wraps: buffered and decoded as ``io.open`` would, on a
non-blocking fd whose reads and writes wait in the hub.
"""

from __future__ import annotations

from ._fileobjectcommon import OpenDescriptor
from .fileobject import FileObjectPosix

__all__ = ["GreenOpenDescriptor"]


class GreenOpenDescriptor(OpenDescriptor):
    """An :class:`OpenDescriptor` whose ``opened()`` cooperates."""

    def opened(self):
        """The cooperative stream (``FileObjectPosix(...).io``) for these arguments."""
        fobj = FileObjectPosix(self.fobj, self.mode, self.buffering, self.closefd,
                               self.encoding, self.errors, self.newline,
                               atomic_write=self.atomic_write)
        return fobj.io
