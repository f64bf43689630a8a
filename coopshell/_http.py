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

__all__ = ["HTTPError", "ClientDisconnected", "Input", "Reader", "parse_head",
           "parse_request_line", "REASONS", "MAX_REQUEST_LINE"]

#: Longest request line (and chunk-size or trailer line) accepted by default.
MAX_REQUEST_LINE = 8192

#: Reason phrases for the statuses the server itself sends.
REASONS = {
    400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long",
    417: "Expectation Failed", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 505: "HTTP Version Not Supported",
}

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN_B = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"HTTP/(\d)\.(\d)")
_CHUNK_LINE_LIMIT = 4096     # a chunk-size line (with extensions) longer than this is refused
_TRAILER_LIMIT = 65536       # total bytes of chunked trailers
_TRAILER_LINE_LIMIT = 8192   # one trailer line


class HTTPError(Exception):
    """A request the server refuses: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ClientDisconnected(OSError):
    """The client closed the connection before the whole request body arrived."""


def parse_request_line(line: str) -> tuple[str, str, str]:
    """Split and check a request line (without its line end): ``(method,
    target, version)``; raises :class:`HTTPError` (400, or 505 for an
    HTTP version other than 1.0 and 1.1)."""
    parts = line.split(" ")
    if len(parts) != 3:
        raise HTTPError(400, f"malformed request line {line[:200]!r}: expected "
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
    return method, target, version


def parse_head(head: bytes, env: dict, key_cache: dict, max_headers: int) -> tuple[str, str, str]:
    """Parse a request head (without its final blank line) into ``env``:
    HTTP_* keys (duplicates joined), CONTENT_TYPE and CONTENT_LENGTH.
    An obsolete folded line continues the header before it (joined with a
    space, as RFC 9112 allows). Returns ``(method, target, version)``;
    raises :class:`HTTPError`."""
    text = head.decode("latin-1")
    lines = text.split("\r\n") if "\r" in text else text.split("\n")
    method, target, version = parse_request_line(lines[0])
    if len(lines) > max_headers + 1:
        raise HTTPError(431, f"too many header lines ({len(lines) - 1}; the limit is {max_headers})")
    key = None
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            if key is None:
                raise HTTPError(400, f"a folded header line {line[:200]!r} with no header "
                                     f"before it")
            if key:     # the continuation of a kept header
                value = line.strip(" \t")
                env[key] = f"{env[key]} {value}" if env[key] else value
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HTTPError(400, f"malformed header line {line[:200]!r}: no colon")
        key = key_cache.get(name)
        if key is None:
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
            env[key] = old + ("; " if "COOKIE" in key else ",") + value
    return method, target, version


def _env_key(name: str) -> str:
    if "_" in name:
        return ""
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return key
    return "HTTP_" + key


class Reader:
    """The read side of a connection: a byte buffer (``rbuf``) over a socket,
    with the file methods a handler subclass or an upgraded connection
    (``wsgi.input`` after ``101``) uses: ``read``, ``readline``. It is the
    handler's ``rfile``; :class:`Input` reads the body from the same buffer."""

    __slots__ = ("rbuf", "_sock", "closed")

    def __init__(self, sock: Any):
        self._sock = sock
        self.rbuf = b""
        self.closed = False

    def recv_some(self) -> bytes:
        """The next bytes from the socket (b'' at EOF)."""
        return self._sock.recv(65536)

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes (fewer only at EOF), or all up to EOF."""
        buf = self.rbuf
        while size is None or size < 0 or len(buf) < size:
            data = self.recv_some()
            if not data:
                break
            buf += data
        if size is None or size < 0:
            self.rbuf = b""
            return buf
        self.rbuf = buf[size:]
        return buf[:size]

    def readline(self, size: int | None = -1) -> bytes:
        """One line with its b'\\n' (up to ``size`` bytes; less at EOF)."""
        buf = self.rbuf
        start = 0
        while True:
            i = buf.find(b"\n", start)
            end = i + 1 if i >= 0 else None
            if size is not None and size >= 0 and (end is None or end > size) and len(buf) >= size:
                end = size
            if end is not None:
                self.rbuf = buf[end:]
                return buf[:end]
            start = len(buf)
            data = self.recv_some()
            if not data:
                self.rbuf = b""
                return buf
            buf += data

    def close(self) -> None:
        self.closed = True


class _FileSource:
    """Lets :class:`Input` read a body from any binary file (``Input(rfile, ...)``)."""

    __slots__ = ("rbuf", "_read")

    def __init__(self, rfile: Any):
        self.rbuf = b""
        self._read = getattr(rfile, "read1", None) or (lambda n: rfile.read(1))

    def recv_some(self) -> bytes:
        return self._read(65536)


_HEX = re.compile(rb"[0-9A-Fa-f]*")


def _chunk_size_start(buf: bytes) -> bool:
    """False if ``buf``, the start of a chunk-size line, cannot become one."""
    return _HEX.fullmatch(buf.split(b";", 1)[0].rstrip(b"\r \t")) is not None


class Input:
    """``wsgi.input``: the request body, read from the connection without
    ever reading past its end. Supports ``read``, ``readline``, ``readlines``
    and iteration by lines.

    ``Input(rfile, content_length, socket=None, chunked_input=False)`` as in
    gevent: ``rfile`` is the connection's :class:`Reader` or any binary file;
    given a ``socket``, ``100 Continue`` is sent on it at the first read."""

    __slots__ = ("_conn", "_remaining", "_chunked", "_chunk_left", "_done", "_pending",
                 "_continue", "_received", "_length", "_socket")

    def __init__(self, rfile: Any, content_length: int | None = None, socket: Any = None,
                 chunked_input: bool = False):
        if content_length is not None and not isinstance(content_length, int):
            raise TypeError(f"content_length must be an int or None, got {content_length!r}")
        self._conn = rfile if isinstance(rfile, Reader) else _FileSource(rfile)
        self._chunked = chunked_input
        self._length = content_length
        self._remaining = content_length or 0
        self._chunk_left = 0
        self._done = not chunked_input and not content_length
        self._pending = b""
        self._socket = socket
        self._continue = socket is not None and not self._done
        self._received = 0

    # -- the raw connection ----------------------------------------------------------

    def _more(self) -> bytes:
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

    def _raw_line(self, limit: int, what: str, partial_ok: Any = None) -> bytes:
        """The next line of the framing; ``partial_ok(buf)`` is False when an
        incomplete line can already be refused (no wait for its end)."""
        conn = self._conn
        while True:
            buf = conn.rbuf
            i = buf.find(b"\n")
            if i > limit or (i < 0 and len(buf) > limit):
                raise HTTPError(400, f"{what} longer than {limit} bytes")
            if i >= 0:
                conn.rbuf = buf[i + 1:]
                return buf[:i + 1]
            if partial_ok is not None and buf and not partial_ok(buf):
                raise HTTPError(400, f"invalid {what} {buf[:100]!r}")
            conn.rbuf = buf + self._more()

    def _next_chunk(self) -> None:
        line = self._raw_line(_CHUNK_LINE_LIMIT, "chunk-size line", _chunk_size_start)
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
                trailer = self._raw_line(_TRAILER_LINE_LIMIT, "a chunked trailer line")
                total += len(trailer)
                if trailer in (b"\r\n", b"\n"):
                    break
                name, sep, _ = trailer.partition(b":")
                if not sep or not _TOKEN_B.fullmatch(name):
                    raise HTTPError(400, f"invalid chunked trailer line {trailer[:100]!r}: "
                                         f"expected 'Name: value'")
                if total > _TRAILER_LIMIT:
                    raise HTTPError(400, f"chunked trailers longer than {_TRAILER_LIMIT} bytes")
            self._done = True
        self._chunk_left = n

    def _read_body(self, n: int) -> bytes:
        """Up to ``n`` (> 0) body bytes; at least one unless the body is done."""
        if self._done:
            return b""
        if self._continue:     # the first read: now the client may send the body
            self._continue = False
            self._socket.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
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

    def cancel_continue(self) -> None:
        """The response has begun: never send ``100 Continue`` now."""
        self._continue = False

    def buffered_whole(self) -> bool:
        """True if the rest of the body is already in the connection's buffer
        (a client that sent it without waiting for ``100 Continue``), so that
        reading it never waits for the socket."""
        if self._done:
            return True
        if self._chunked:
            return False
        return len(self._conn.rbuf) >= self._remaining

    def discard(self, limit: int) -> bool:
        """Read and drop up to ``limit`` more body bytes; True if the body ended."""
        self._pending = b""
        while not self._done and limit > 0:
            data = self._read_body(min(limit, 65536))
            limit -= len(data)
        return self._done
