"""The attach protocol's frames: a 4-byte big-endian length, then a UTF-8 JSON object."""

from __future__ import annotations

import json
import struct

__all__ = ["PROTOCOL_VERSION", "MAX_FRAME", "ProtocolError", "encode_frame", "FrameDecoder"]

PROTOCOL_VERSION = 1
#: Largest frame either side accepts, in bytes.
MAX_FRAME = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """A frame that is not a JSON object of the attach protocol, or too large."""


# -- framing --------------------------------------------------------------------------------

def encode_frame(message: dict) -> bytes:
    """One frame: 4-byte big-endian length, then the JSON of ``message``."""
    if not isinstance(message, dict) or "op" not in message:
        raise ProtocolError(f"a message is a dict with an 'op' key, got {message!r}")
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"message of {len(body)} bytes is over the {MAX_FRAME}-byte limit")
    return _HEADER.pack(len(body)) + body


class FrameDecoder:
    """Feed it bytes, get back the complete messages they finish."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[dict]:
        buf = self._buf
        buf += data
        out = []
        while len(buf) >= 4:
            (size,) = _HEADER.unpack_from(buf)
            if size > MAX_FRAME:
                raise ProtocolError(f"frame of {size} bytes announced, over the {MAX_FRAME}-byte limit")
            if len(buf) < 4 + size:
                break
            body = bytes(buf[4:4 + size])
            del buf[:4 + size]
            try:
                msg = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise ProtocolError(f"frame is not UTF-8 JSON: {exc}") from None
            if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
                raise ProtocolError(f"frame is not a JSON object with a string 'op': {msg!r:.80}")
            out.append(msg)
        return out
