"""HTTP/1.x parsing for ``coopshell.pywsgi``: the request head, and the
request body as ``wsgi.input`` (Content-Length or chunked).

Private: ``pywsgi`` is the public face. Kept apart so that the server module
holds the WSGI logic and this one the wire format.

The body reader never reads past the body: bytes that follow it on the
connection (a pipelined request) stay in the connection's buffer.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

__all__ = ["HTTPError", "ClientDisconnected", "Input", "parse_head", "REASONS"]

#: Reason phrases for the statuses the server itself sends.
REASONS = {
    400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long",
    417: "Expectation Failed", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 505: "HTTP Version Not Supported",
}

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"HTTP/(\d)\.(\d)")
_CHUNK_LINE_LIMIT = 4096     # a chunk-size line (with extensions) longer than this is refused
_TRAILER_LIMIT = 65536       # total bytes of chunked trailers


class HTTPError(Exception):
    """A request the server refuses: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ClientDisconnected(OSError):
    """The client closed the connection before the whole request body arrived."""


def parse_head(head: bytes, env: dict, key_cache: dict, max_headers: int) -> tuple[str, str, str]:
    """Parse a request head (without its final blank line) into ``env``:
    HTTP_* keys (duplicates joined), CONTENT_TYPE and CONTENT_LENGTH.
    Returns ``(method, target, version)``; raises :class:`HTTPError`."""
    text = head.decode("latin-1")
    lines = text.split("\r\n") if "\r" in text else text.split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise HTTPError(400, f"malformed request line {lines[0][:200]!r}: expected "
                             f"'METHOD target HTTP/1.x'")
    method, target, version = parts
    if not (method.isalpha() and method.isupper()) and not _TOKEN.fullmatch(method):
        raise HTTPError(400, f"invalid method {method[:100]!r}")
    if not target or not target.isprintable():
        raise HTTPError(400, f"invalid request target {target[:200]!r}")
    if version != "HTTP/1.1" and version != "HTTP/1.0":
        m = _VERSION.fullmatch(version)
        if m is None:
            raise HTTPError(400, f"invalid HTTP version {version[:100]!r}")
        raise HTTPError(505, f"HTTP version {version} is not supported; use HTTP/1.1 or HTTP/1.0")
    if len(lines) > max_headers + 1:
        raise HTTPError(431, f"too many header lines ({len(lines) - 1}; the limit is {max_headers})")
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            if line[:1] in (" ", "\t"):
                raise HTTPError(400, f"obsolete header line folding in {line[:200]!r}")
            raise HTTPError(400, f"malformed header line {line[:200]!r}: no colon")
        key = key_cache.get(name)
        if key is None:
            if line[:1] in (" ", "\t"):
                raise HTTPError(400, f"obsolete header line folding in {line[:200]!r}")
            if not _TOKEN.fullmatch(name):
                raise HTTPError(400, f"invalid header name {name[:200]!r}")
            key = _env_key(name)
            if len(key_cache) < 512:
                key_cache[name] = key
        if not key:
            continue    # a name with '_': dropped, as it could spoof one with '-'
        value = value.strip(" \t")
        old = env.get(key)
        if old is None:
            env[key] = value
        elif key == "CONTENT_LENGTH":
            if old != value:
                raise HTTPError(400, f"conflicting Content-Length headers: {old!r} and {value!r}")
        else:
            env[key] = old + ("; " if key == "HTTP_COOKIE" else ",") + value
    return method, target, version


def _env_key(name: str) -> str:
    if "_" in name:
        return ""
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return key
    return "HTTP_" + key


class Input:
    """``wsgi.input``: the request body, read from the connection without
    ever reading past its end. Supports ``read``, ``readline``, ``readlines``
    and iteration by lines. With ``Expect: 100-continue`` the interim
    response is sent on the first read."""

    __slots__ = ("_conn", "_remaining", "_chunked", "_chunk_left", "_done", "_pending",
                 "_continue", "_received", "_length")

    def __init__(self, conn: Any, content_length: int | None, chunked: bool = False,
                 send_continue: bool = False):
        self._conn = conn                # has .rbuf (bytes), .recv_some() and .send_continue()
        self._chunked = chunked
        self._length = content_length
        self._remaining = content_length or 0
        self._chunk_left = 0
        self._done = not chunked and not content_length
        self._pending = b""
        self._continue = send_continue and not self._done
        self._received = 0

    # -- the raw connection ----------------------------------------------------------

    def _more(self) -> bytes:
        if self._continue:
            self._continue = False
            self._conn.send_continue()
        try:
            data = self._conn.recv_some()
        except ConnectionError:
            data = b""
        if not data:
            whole = f"{self._length}" if self._length is not None else "a chunked"
            raise ClientDisconnected(f"the client disconnected after {self._received} bytes of "
                                     f"{whole}-byte request body" if self._length is not None
                                     else f"the client disconnected after {self._received} "
                                     f"bytes of a chunked request body")
        return data

    def _raw(self, n: int) -> bytes:
        conn = self._conn
        buf = conn.rbuf
        if not buf:
            buf = self._more()
        if len(buf) <= n:
            conn.rbuf = b""
            return buf
        conn.rbuf = buf[n:]
        return buf[:n]

    def _raw_line(self, limit: int, what: str) -> bytes:
        conn = self._conn
        while True:
            buf = conn.rbuf
            i = buf.find(b"\n")
            if i >= 0:
                conn.rbuf = buf[i + 1:]
                return buf[:i + 1]
            if len(buf) > limit:
                raise HTTPError(400, f"{what} longer than {limit} bytes")
            conn.rbuf = buf + self._more()

    def _next_chunk(self) -> None:
        line = self._raw_line(_CHUNK_LINE_LIMIT, "chunk-size line")
        size = line.split(b";", 1)[0].strip()
        try:
            if not size or size[:1] in (b"+", b"-") or size[:2].lower() == b"0x":
                raise ValueError
            n = int(size, 16)
        except ValueError:
            raise HTTPError(400, f"invalid chunk size {line[:100]!r}") from None
        if n == 0:
            total = 0
            while True:   # trailers, up to an empty line
                trailer = self._raw_line(_TRAILER_LIMIT, "chunked trailers")
                total += len(trailer)
                if trailer in (b"\r\n", b"\n"):
                    break
                if total > _TRAILER_LIMIT:
                    raise HTTPError(400, f"chunked trailers longer than {_TRAILER_LIMIT} bytes")
            self._done = True
        self._chunk_left = n

    def _read_body(self, n: int) -> bytes:
        """Up to ``n`` (> 0) body bytes; at least one unless the body is done."""
        if self._done:
            return b""
        if not self._chunked:
            data = self._raw(min(n, self._remaining))
            self._remaining -= len(data)
            self._received += len(data)
            if not self._remaining:
                self._done = True
            return data
        if not self._chunk_left:
            self._next_chunk()
            if self._done:
                return b""
        data = self._raw(min(n, self._chunk_left))
        self._chunk_left -= len(data)
        self._received += len(data)
        if not self._chunk_left:
            end = self._raw_line(2, "chunk terminator")
            if end not in (b"\r\n", b"\n"):
                raise HTTPError(400, f"chunk data not followed by CRLF (got {end[:20]!r})")
        return data

    # -- the file API ------------------------------------------------------------------

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all the rest if negative or None); fewer only
        at the end of the body."""
        pending, self._pending = self._pending, b""
        if size is None or size < 0:
            parts = [pending]
            while True:
                data = self._read_body(65536)
                if not data:
                    return b"".join(parts)
                parts.append(data)
        if len(pending) >= size:
            self._pending = pending[size:]
            return pending[:size]
        parts = [pending]
        got = len(pending)
        while got < size:
            data = self._read_body(size - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        """One line (up to ``size`` bytes), ending with b'\\n' unless at the end."""
        buf = self._pending
        limit = size if size is not None and size >= 0 else None
        start = 0
        while True:
            i = buf.find(b"\n", start)
            if i >= 0 and (limit is None or i < limit):
                self._pending = buf[i + 1:]
                return buf[:i + 1]
            if limit is not None and len(buf) >= limit:
                self._pending = buf[limit:]
                return buf[:limit]
            start = len(buf)
            data = self._read_body(8192)
            if not data:
                self._pending = b""
                return buf
            buf += data

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    # -- for the server ----------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the whole body has been read."""
        return self._done

    @property
    def continue_pending(self) -> bool:
        """True if the client waits for ``100 Continue`` that was never sent."""
        return self._continue

    def discard(self, limit: int) -> bool:
        """Read and drop up to ``limit`` more body bytes; True if the body ended."""
        self._pending = b""
        while not self._done and limit > 0:
            data = self._read_body(min(limit, 65536))
            limit -= len(data)
        return self._done
