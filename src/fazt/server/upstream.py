"""A small HTTP/1.1 client to one upstream server (a follower's primary), on asyncio streams.

httpx's async client cost ~4-5 ms of CPU per request here (measured in bench/follower.py:
~200 forwarded requests/s against ~1,000/s for the same exchange written on a bare
asyncio stream), which made a follower's forwarding the bottleneck of every app request.
This client does only what forwarding needs: one fixed host, keep-alive connections,
request bodies streamed (with their length, or chunked), responses framed by
Content-Length, chunked encoding or the end of the connection.

A connection is reused only for GET, HEAD and OPTIONS, which are retried once on a fresh
connection when a kept-alive one turns out closed before any answer; every other method
gets a new connection, so a write is never sent twice.
"""

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

HEAD_LIMIT = 256 * 1024  # bytes of status line and headers an answer may have
IDLE_MAX = 64  # kept-alive connections, at most
REUSABLE = ("GET", "HEAD", "OPTIONS")  # safe to send again after a stale connection


class UpstreamError(Exception):
    """The upstream could not be reached or did not answer (`timeout`: in time)."""

    def __init__(self, message: str, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    length: int | None  # Content-Length, when the body is framed by it
    body: AsyncIterator[bytes] = field(repr=False)


def request_target(path: str, query: str) -> str:
    """The request line's target from Granian's decoded path and raw query string."""
    target = quote(path, safe="/!$&'()*+,;=:@-._~")
    if query:
        target += "?" + quote(query, safe="/?!$&'()*+,;=:@-._~%")
    return target


class Upstream:
    """Keep-alive HTTP/1.1 connections to one `http(s)://host[:port]`."""

    def __init__(self, base: str, connect_timeout: float, answer_timeout: float) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or ""
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.connect_timeout, self.answer_timeout = connect_timeout, answer_timeout
        self._ssl = ssl.create_default_context() if self.tls else None
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: AsyncIterator[bytes] | None = None,
    ) -> Answer:
        """Send one request; the answer's body must be read to its end (or closed)."""
        declared = next((v for k, v in headers if k.lower() == "content-length"), None)
        length = int(declared) if declared is not None and declared.isdigit() else None
        if declared is not None and length is None:
            raise UpstreamError(f"bad content-length {declared!r}")
        head = _request_head(method, target, headers, chunked=body is not None and length is None)
        if method in REUSABLE and body is None:
            conn = self._take_idle()
            if conn is not None:
                with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                    return await self._exchange(conn, method, head, None, None)
                # closed by the upstream while idle: once more, on a fresh connection
        try:
            return await self._exchange(await self._connect(), method, head, body, length)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            raise UpstreamError(f"the connection closed: {exc!r}") from None

    def _take_idle(self):
        while self._idle:
            reader, writer = self._idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def _connect(self):
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self.tls else None,
                    limit=HEAD_LIMIT,
                )
        except TimeoutError:
            raise UpstreamError(f"no connection within {self.connect_timeout:.0f}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamError(f"cannot connect: {exc}") from None

    async def _exchange(self, conn, method: str, head: bytes, body, length: int | None) -> Answer:
        """`length`: the body's declared Content-Length (None: it is sent chunked)."""
        reader, writer = conn
        try:
            writer.write(head)
            if body is not None:
                await _send_body(writer, body, length)
            await writer.drain()
            async with asyncio.timeout(self.answer_timeout):
                status, headers = await _read_head(reader)
                while 100 <= status < 200:  # 100 Continue and friends: the real one follows
                    status, headers = await _read_head(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            raise
        except TimeoutError:
            writer.close()
            raise UpstreamError(f"no answer within {self.answer_timeout:.0f}s", True) from None
        except (OSError, ValueError, asyncio.LimitOverrunError) as exc:
            writer.close()
            raise UpstreamError(f"bad answer: {exc}") from None
        except BaseException:  # the client's body failed (408), or we were cancelled
            writer.close()
            raise
        return self._answer(conn, method, status, headers, reusable=body is None)

    def _answer(self, conn, method: str, status: int, headers, reusable: bool) -> Answer:
        named = {name.lower(): value for name, value in headers}
        # A connection that carried a body is not kept: whatever the upstream made of it
        # (an early answer, a body it did not read) stays with that connection.
        keep = reusable and "close" not in named.get("connection", "").lower()
        if method == "HEAD" or status in (204, 304):
            self._release(conn, keep)
            return Answer(status, headers, None, _nothing())
        if "chunked" in named.get("transfer-encoding", "").lower():
            return Answer(status, headers, None, self._chunked(conn, keep))
        length = named.get("content-length", "")
        if length.isdigit():
            return Answer(status, headers, int(length), self._sized(conn, int(length), keep))
        return Answer(status, headers, None, self._until_close(conn))

    def _release(self, conn, keep: bool) -> None:
        reader, writer = conn
        if keep and len(self._idle) < IDLE_MAX and not reader.at_eof():
            self._idle.append(conn)
        else:
            writer.close()

    async def _sized(self, conn, length: int, keep: bool) -> AsyncIterator[bytes]:
        reader, writer = conn
        done = False
        try:
            left = length
            while left:
                async with asyncio.timeout(self.answer_timeout):
                    chunk = await reader.read(min(left, 256 * 1024))
                if not chunk:
                    raise UpstreamError("the answer ended early")
                left -= len(chunk)
                yield chunk
            done = True
        finally:
            self._release(conn, keep) if done else writer.close()

    async def _chunked(self, conn, keep: bool) -> AsyncIterator[bytes]:
        reader, writer = conn
        done = False
        try:
            while True:
                async with asyncio.timeout(self.answer_timeout):
                    size_line = await reader.readuntil(b"\r\n")
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                    if size == 0:
                        while (await reader.readuntil(b"\r\n")) != b"\r\n":
                            pass  # trailers: dropped
                        break
                    chunk = await reader.readexactly(size)
                    await reader.readexactly(2)  # the chunk's CRLF
                yield chunk
            done = True
        finally:
            self._release(conn, keep) if done else writer.close()

    async def _until_close(self, conn) -> AsyncIterator[bytes]:
        reader, writer = conn
        try:
            while True:
                async with asyncio.timeout(self.answer_timeout):
                    chunk = await reader.read(256 * 1024)
                if not chunk:
                    return
                yield chunk
        finally:
            writer.close()

    async def close(self) -> None:
        while self._idle:
            self._idle.pop()[1].close()


def _request_head(method: str, target: str, headers, chunked: bool) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in headers:
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value or ":" in name:
            continue  # never let a header start another line
        lines.append(f"{name}: {value}")
    if chunked:
        lines.append("transfer-encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


async def _send_body(writer: asyncio.StreamWriter, body, length: int | None) -> None:
    """The body, chunked when `length` is None; else exactly `length` bytes or an error
    (the connection is then closed: the upstream never reads a body as the next request)."""
    sent = 0
    async for chunk in body:
        if not chunk:
            continue
        sent += len(chunk)
        if length is None:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        elif sent > length:
            raise UpstreamError("the request body is longer than its content-length")
        else:
            writer.write(chunk)
        await writer.drain()
    if length is None:
        writer.write(b"0\r\n\r\n")
    elif sent != length:
        raise UpstreamError("the request body is shorter than its content-length")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1 status line: {lines[0][:80]!r}")
    status = int(rest[:3])
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return status, headers


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator with no items
