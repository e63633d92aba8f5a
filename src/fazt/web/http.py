"""Small request/response helpers over Granian's RSGI protocol."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from granian.http import HTTP1Settings
from granian.rsgi import ProtocolClosed

JSON_TYPE = "application/json"


class HTTPError(Exception):
    """Raised by handlers; becomes {"error": {"code", "message"}} with `status`."""

    def __init__(
        self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or []


@dataclass
class Response:
    """What every handler returns; `respond` writes it. The body is one of: `body` bytes
    (None: no body at all, e.g. 304), a `file` on disk (sent by Granian; `file_range`:
    only bytes [start, end) of it), or a `stream` of chunks; a file's or a stream's headers
    carry its content-length."""

    status: int = 200
    body: bytes | None = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    file: str | None = None
    stream: AsyncIterator[bytes] | None = None
    file_range: tuple[int, int] | None = None


def json_response(data: Any, status: int = 200) -> Response:
    """The success envelope: {"data": ...}."""
    return Response(status, _dumps({"data": data}), [("content-type", JSON_TYPE)])


def error_response(error: HTTPError) -> Response:
    body = _dumps({"error": {"code": error.code, "message": error.message}})
    return Response(error.status, body, [("content-type", JSON_TYPE), *error.headers])


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


CLOSE = [("connection", "close")]


def peer_ip(client: str) -> str:
    """'1.2.3.4:5678' -> '1.2.3.4'; '[::1]:5678' -> '::1'."""
    if client.startswith("["):
        return client[1 : client.find("]")]
    return client.rsplit(":", 1)[0] if ":" in client else client


class Request:
    """One HTTP request: method, path, host, headers, query and a size-limited body."""

    __slots__ = ("_query", "host", "method", "path", "proto", "scope")
    # Set at start from the settings of the same names (fazt.server.edge). A body may
    # stall this long between two chunks (slowloris):
    body_timeout: float = 30.0  # http_body_timeout_seconds
    # ...and must arrive at this average rate once the grace has passed, so that a steady
    # trickle (1 KB/s, each chunk in time) cannot hold a request open for ever:
    body_min_rate: float = 1024.0  # http_body_min_bytes_per_second (0: no minimum)
    body_rate_grace: float = 10.0  # http_body_rate_grace_seconds

    def __init__(self, scope: Any, proto: Any, host: str) -> None:
        self.scope, self.proto, self.host = scope, proto, host
        self.method: str = scope.method
        self.path: str = scope.path
        self._query: dict[str, str] | None = None

    def header(self, name: str) -> str | None:
        return self.scope.headers.get(name)

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            self._query = dict(parse_qsl(self.scope.query_string, keep_blank_values=True))
        return self._query

    @property
    def client_ip(self) -> str:
        """The peer address without its port. X-Forwarded-For is not trusted here."""
        return peer_ip(self.scope.client or "")

    async def body(self, limit: int) -> bytes:
        """The whole body, refusing more than `limit` bytes with 413."""
        declared = self.header("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPError(413, "PAYLOAD_TOO_LARGE", f"the request body exceeds {limit} bytes")
        chunks, size = [], 0
        async for chunk in self.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPError(413, "PAYLOAD_TOO_LARGE", f"the request body exceeds {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def stream(self) -> AsyncIterator[bytes]:
        """The body's chunks as they arrive; 408 (and close) when it stalls for
        `body_timeout`, or falls behind `body_min_rate` bytes/s after the grace."""
        loop = asyncio.get_running_loop()
        started, size = loop.time(), 0
        chunks = aiter(self.proto)
        while True:
            stall = loop.time() + self.body_timeout
            # After the grace, the body must have averaged body_min_rate since it began:
            # the bytes so far last until `size / rate` seconds after the start.
            rate = self.body_min_rate
            behind = started + max(self.body_rate_grace, size / rate) if rate > 0 else stall
            slow = behind < stall
            try:
                async with asyncio.timeout_at(behind if slow else stall):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                why = "arrives too slowly" if slow else "stopped arriving"
                raise HTTPError(408, "REQUEST_TIMEOUT", f"the request body {why}", CLOSE) from None
            size += len(chunk)
            yield chunk

    async def json(self, limit: int = 1024 * 1024, *, allow_empty: bool = False) -> Any:
        """The body parsed as JSON; with allow_empty, an empty (or blank) body is None, like
        a JSON null."""
        raw = await self.body(limit)
        if allow_empty and not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise HTTPError(400, "INVALID_JSON", "the request body is not valid JSON") from None


async def respond(proto: Any, response: Response, head: bool = False) -> None:
    """Write `response` to Granian's protocol: the one place a response is sent."""
    status, headers = response.status, response.headers
    streamed = response.stream is not None or response.file is not None
    if response.body is None or (head and streamed):  # a file's or stream's headers say its length
        proto.response_empty(status, headers)
    elif response.stream is not None:
        await _send_stream(proto.response_stream(status, headers), response.stream)
    elif response.file is not None and response.file_range is not None:
        proto.response_file_range(status, headers, response.file, *response.file_range)
    elif response.file is not None:
        proto.response_file(status, headers, response.file)
    elif head:
        proto.response_empty(status, [*headers, ("content-length", str(len(response.body)))])
    else:
        proto.response_bytes(status, headers, response.body)


async def _send_stream(transport: Any, chunks: AsyncIterator[bytes]) -> None:
    try:
        async for chunk in chunks:
            await transport.send_bytes(chunk)
    except ProtocolClosed:
        return  # the client went away (a cancelled download, a seek): not an error


def http1_settings(header_timeout_seconds: float) -> HTTP1Settings:
    """Granian's HTTP/1 settings for every listener of the app: a connection whose request
    headers take longer than this is closed (slowloris)."""
    return HTTP1Settings(header_read_timeout=max(1, int(header_timeout_seconds * 1000)))
