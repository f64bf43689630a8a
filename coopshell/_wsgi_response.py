"""The response side of ``coopshell.pywsgi``'s handler: PEP 3333's
``start_response`` and ``write``, and the framing of the response
(Content-Length, chunked, or close-delimited; none for HEAD, 1xx, 204, 304).

Private: :class:`ResponseWriter` is a base of ``WSGIHandler``, which supplies
the request state it reads (``command``, ``request_version``, ``_input``,
``server``, ``socket``...).
"""

from __future__ import annotations

from typing import Any, Callable

from ._wsgi_log import http_date

__all__ = ["ResponseWriter", "HeaderTypeError"]

_NO_BODY_STATUS = frozenset((204, 304))


class HeaderTypeError(TypeError, UnicodeError):
    """A response header name or value that is not ``str`` (a TypeError; also
    a UnicodeError, which gevent raises there)."""


class ResponseWriter:
    """Writes the response of the current request to ``self.socket``."""

    #: Raised for an application that breaks the protocol (a body on a 304...).
    ApplicationError: type = AssertionError

    def process_result(self) -> None:
        result = self.result
        if not self.headers_sent and (type(result) is list or type(result) is tuple):
            if len(result) == 1:
                body = result[0]
                if type(body) is not bytes:
                    body = _check_bytes(body)
            else:
                for item in result:
                    if type(item) is not bytes:
                        _check_bytes(item)
                body = b"".join(result)
            self._send_whole(body)
            return
        for data in result:
            if data:
                self.write(data)
        if self.status is None:
            self._protocol_error("the application returned without calling start_response()")
            return
        if not self.headers_sent:
            if self.request_version == "HTTP/1.1":
                self.write(b"")       # an empty stream: chunked with no chunks, as gevent
            else:
                self._send_whole(b"")
        if self._chunked:
            self._send(b"0\r\n\r\n")
        if self._length is not None and self.response_length < self._length:
            self._length_error(f"the application sent {self.response_length} body bytes "
                               f"after Content-Length: {self._length}")

    def start_response(self, status: str, headers: list, exc_info: Any = None) -> Callable:
        """PEP 3333's ``start_response``; returns ``write``. A call that raises
        leaves no trace: the application may call it again."""
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() was already called for this request; "
                                 "call it again only with exc_info after an error")
        if type(status) is not str:
            raise TypeError(f"status must be a str like '200 OK', got {status!r}")
        if "\r" in status or "\n" in status:
            raise ValueError("carriage return or newline in status", status)
        code = status[:3]
        if len(status) < 4 or not code.isdigit() or status[3] != " ":
            raise ValueError(f"status must be a str like '200 OK' (3 digits, a space, a reason), "
                             f"got {status!r}")
        if not status.isascii():
            _check_latin1("status", status)
        if type(headers) is not list:
            raise TypeError(f"headers must be a list of (name, value) tuples, got {headers!r}")
        length = date = connection = None
        for header in headers:
            if type(header) is not tuple or len(header) != 2:
                raise TypeError(f"each header must be a (name, value) tuple of str, got {header!r}")
            name, value = header
            if type(name) is not str or type(value) is not str:
                raise HeaderTypeError(f"header names and values must be str, got {header!r}")
            if "\r" in name or "\n" in name:
                raise ValueError("carriage return or newline in header name", name)
            if "\r" in value or "\n" in value:
                raise ValueError("carriage return or newline in header value", value)
            if ":" in name:
                raise ValueError(f"invalid character ':' in header name {name!r}")
            if not (name.isascii() and value.isascii()):
                _check_latin1(f"header {name!r}", name + value)
            lname = name.lower()
            if lname == "content-length":
                if not value.isdigit():
                    raise ValueError(f"Content-Length must be digits, got {value!r}")
                length = int(value)
            elif lname == "connection":
                connection = value.lower()
            elif lname == "date":
                date = value
        icode = int(code)
        if icode in _NO_BODY_STATUS and length:
            raise self.ApplicationError(f"Invalid Content-Length for {icode} response: "
                                        f"{str(length)!r} (must be absent or zero)")
        if connection is not None and "close" in connection:
            self.close_connection = True
        self.status = status
        self.code = icode
        self.response_headers = headers
        self._length = length
        self._app_date = date is not None
        self._app_connection = connection
        return self.write

    def _head(self, body_length: int | None) -> bytes:
        """The response head; ``body_length`` is known when the body is whole."""
        code = self.code
        inp = self._input
        if inp.continue_pending:
            # The client waits to be told to send its body; it never will be.
            # Keep the connection only if it sent the body anyway.
            inp.cancel_continue()
            if not inp.buffered_whole():
                self.close_connection = True
        if self.server._stopping:
            self.close_connection = True
        if code == 101:
            self.close_connection = True           # the connection is the new protocol's
        parts = ["HTTP/1.1 ", self.status, "\r\n"]
        app_connection = self._app_connection
        drop_connection = (app_connection is not None and self.close_connection
                           and code != 101 and "close" not in app_connection)
        for name, value in self.response_headers:
            if drop_connection and name.lower() == "connection":
                continue
            parts += (name, ": ", value, "\r\n")
        if not self._app_date:
            parts += ("Date: ", http_date(), "\r\n")
        if code >= 200 and code not in _NO_BODY_STATUS and self._length is None:
            if body_length is not None:
                parts += ("Content-Length: ", str(body_length), "\r\n")
                self._length = body_length
            elif self.request_version == "HTTP/1.1" and self.command != "HEAD":
                parts.append("Transfer-Encoding: chunked\r\n")
                self._chunked = True
            else:
                self.close_connection = True       # the body ends when the connection does
        if app_connection is not None and not drop_connection:
            parts.append("\r\n")
        elif self.close_connection:
            parts.append("Connection: close\r\n\r\n")
        elif self._keep_alive_10:
            parts.append("Connection: keep-alive\r\n\r\n")
        else:
            parts.append("\r\n")
        return "".join(parts).encode("latin-1")

    def _send(self, data) -> None:
        try:
            self.socket.sendall(data)
        except OSError:
            self._write_failed = True
            raise

    def _no_body_error(self):
        return self.ApplicationError(f"The {self.code} response must have no body")

    def _send_whole(self, body: bytes) -> None:
        if self.status is None:
            self._protocol_error("the application returned without calling start_response()")
            return
        code = self.code
        if code in _NO_BODY_STATUS and body:
            raise self._no_body_error()
        length = self._length
        n = len(body)
        if length is not None and n != length and code >= 200:
            self._length_error(f"the application returned {n} body bytes with "
                               f"Content-Length: {length}")
            body = body[:length]
        head = self._head(n if code >= 200 else None)
        self.headers_sent = True
        if self.command == "HEAD" or code in _NO_BODY_STATUS or (code < 200 and code != 101):
            self._send(head)
            return
        self.response_length = len(body)
        self._send(head + body)

    def write(self, data: bytes) -> None:
        """PEP 3333's ``write``: send ``data`` as (part of) the body."""
        if data and self.code in _NO_BODY_STATUS:
            raise self._no_body_error()
        if type(data) is not bytes:
            data = _check_bytes(data)
        if self.status is None:
            raise self.ApplicationError("write() called before start_response()")
        if not self.headers_sent:
            head = self._head(None)
            self.headers_sent = True
        else:
            head = b""
        if self.command == "HEAD" or self.code in _NO_BODY_STATUS:
            if head:
                self._send(head)
            return
        if self._length is not None:
            room = self._length - self.response_length
            if len(data) > room:
                self._length_error(f"the application sent more than Content-Length: "
                                   f"{self._length} body bytes")
                data = data[:room]
        elif self._chunked and data:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.response_length += len(data)
        if head or data:
            self._send(head + data)

    def _protocol_error(self, message: str) -> None:
        # The application broke PEP 3333 without raising: 500, logged, closed.
        self.close_connection = True
        self.server.error_log.write(f"Error in the application for {self._describe()}: "
                                    f"{message}\n")
        try:
            self._send_error(500, "Internal Server Error")
        except OSError:
            self._write_failed = True

    def _length_error(self, message: str) -> None:
        self.close_connection = True
        self.server.error_log.write(f"{self._describe()}: {message}; closing the connection\n")


# -- helpers ---------------------------------------------------------------------------

def _check_latin1(what: str, text: str) -> None:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        raise UnicodeError(f"{what} is not latin-1 text: {text!r}; HTTP heads carry latin-1 "
                           f"only (encode other text, e.g. RFC 8187 or percent-encoding)") from None


def _check_bytes(data):
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, bytes):
        return data
    raise TypeError(f"the application must produce bytes, got {type(data).__name__} "
                    f"{data!r:.80}; encode text first")
