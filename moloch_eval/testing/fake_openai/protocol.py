"""Just enough HTTP/1.1 for the fake server, on an asyncio protocol.

Keep-alive connections, request bodies by Content-Length or chunked, JSON responses. Each
parsed request goes to a handler (the server core's ``handle``), which answers through
:meth:`Connection.send`, at once or later.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

MAX_BODY_BYTES = 32 * 1024 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

#: handler(connection, method, target, lower-cased headers, body)
Handler = Callable[["Connection", str, str, dict[str, str], bytes], None]


def error_body(status: int, message: str, kind: str) -> bytes:
    """An OpenAI-style JSON error body."""
    return json.dumps({"error": {"message": message, "type": kind, "code": status}}).encode()


class Connection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection: parses requests, writes responses."""

    def __init__(self, handler: Handler, registry: set[Connection]) -> None:
        self.handler = handler
        self.registry = registry
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.discard(self)
        self.transport = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"content-type: {content_type}\r\ncontent-length: {len(payload)}\r\n"
            f"connection: {'keep-alive' if self.keep_alive else 'close'}\r\n\r\n"
        )
        transport.write(head.encode("latin-1") + payload)
        if not self.keep_alive:
            transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self._reject(400, "request head too large")
                return
            head = self.buffer[:end].decode("latin-1")
            request_line, *lines = head.split("\r\n")
            parts = request_line.split(" ")
            if len(parts) != 3:
                self._reject(400, "malformed request line")
                return
            method, target, version = parts
            headers: dict[str, str] = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            start = end + 4
            if "chunked" in headers.get("transfer-encoding", "").lower():
                decoded = _dechunk(self.buffer, start)
                if decoded is None:
                    return
                body, consumed = decoded
            else:
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY_BYTES:
                    self._reject(413, "request body too large")
                    return
                if len(self.buffer) < start + length:
                    return
                body, consumed = bytes(self.buffer[start : start + length]), start + length
            del self.buffer[:consumed]
            connection = headers.get("connection", "").lower()
            self.keep_alive = connection != "close" and (
                version == "HTTP/1.1" or connection == "keep-alive"
            )
            self.handler(self, method, target, headers, body)

    def _reject(self, status: int, message: str) -> None:
        self.keep_alive = False
        self.send(status, error_body(status, message, "invalid_request"))


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked body starting at `start`: (body, bytes consumed) or None when incomplete."""
    body = bytearray()
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0] or b"0", 16)
        position = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 4
        if len(buffer) < position + size + 2:
            return None
        body += buffer[position : position + size]
        position += size + 2
