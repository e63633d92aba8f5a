"""fazt.server.upstream against a real HTTP/1.1 peer on a loopback socket (a small asyncio
server that answers scripted bytes and records what it received)."""

import asyncio

import pytest

from fazt.server.upstream import Upstream, UpstreamError


class Peer:
    """Accepts connections; answers each request with the next scripted answer. An answer
    of None closes the connection instead (an idle keep-alive closed by the server)."""

    def __init__(self, answers: list[bytes | None]) -> None:
        self.answers, self.requests, self.connections = answers, [], 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def handle(self, reader, writer) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                body = b""
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        body = await reader.readexactly(int(line.split(b":")[1]))
                if b"transfer-encoding: chunked" in head.lower():
                    body = await reader.readuntil(b"0\r\n\r\n")
                self.requests.append((head, body))
                answer = self.answers.pop(0)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        writer.close()


async def read_all(answer) -> bytes:
    return b"".join([chunk async for chunk in answer.body])


def run(coro):
    return asyncio.run(coro)


def test_keep_alive_chunked_and_sized_answers():
    async def scenario():
        peer = Peer(
            [
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-trailer: t\r\n\r\n",
                b"HTTP/1.1 201 Created\r\ncontent-length: 3\r\nx-a: 1\r\n\r\nabc",
                b"HTTP/1.1 204 No Content\r\n\r\n",
            ]
        )
        port = await peer.start()
        up = Upstream(f"http://127.0.0.1:{port}", 5, 5)
        first = await up.request("GET", "/a", [("host", "site.localhost")])
        assert first.status == 200 and await read_all(first) == b"hello world"
        second = await up.request("GET", "/b?q=1", [("host", "site.localhost")])
        assert (second.status, second.length) == (201, 3) and ("x-a", "1") in second.headers
        assert await read_all(second) == b"abc"
        third = await up.request("OPTIONS", "/c", [("host", "h")])
        assert third.status == 204 and await read_all(third) == b""
        assert peer.connections == 1  # all three on one kept-alive connection
        assert peer.requests[1][0].startswith(b"GET /b?q=1 HTTP/1.1\r\nhost: site.localhost\r\n")
        await up.close()
        peer.server.close()

    run(scenario())


def test_a_stale_connection_is_retried_for_a_read_and_never_reused_for_a_write():
    async def scenario():
        ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        peer = Peer([ok, None, ok, ok, ok])
        port = await peer.start()
        up = Upstream(f"http://127.0.0.1:{port}", 5, 5)
        assert await read_all(await up.request("GET", "/", [])) == b"ok"
        # The peer closes the kept-alive connection when the next request arrives: the
        # GET is sent again on a new connection.
        assert await read_all(await up.request("GET", "/", [])) == b"ok"
        assert peer.connections == 2

        # A write always gets a connection of its own (never sent twice), body and all.
        async def body():
            yield b"pay"
            yield b"load"

        posted = await up.request("POST", "/w", [], body())
        assert await read_all(posted) == b"ok"
        assert peer.connections == 3
        head, sent = peer.requests[-1]
        assert (
            b"transfer-encoding: chunked" in head and sent == b"3\r\npay\r\n4\r\nload\r\n0\r\n\r\n"
        )
        sized = await up.request("PUT", "/w", [("content-length", "3")], body_of(b"abc"))
        assert await read_all(sized) == b"ok" and peer.requests[-1][1] == b"abc"
        assert peer.connections == 4
        await up.close()
        peer.server.close()

    run(scenario())


async def body_of(data: bytes):
    yield data


def test_unreachable_and_silent_upstreams_are_errors():
    async def scenario():
        closed = Upstream("http://127.0.0.1:9", 2, 2)  # discard port: nothing listens
        with pytest.raises(UpstreamError) as refused:
            await closed.request("GET", "/", [])
        assert not refused.value.timeout
        silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        up = Upstream(f"http://127.0.0.1:{port}", 2, 0.3)
        with pytest.raises(UpstreamError) as late:
            await up.request("GET", "/", [])
        assert late.value.timeout
        silent.close()

    run(scenario())


def test_header_values_cannot_start_a_new_line():
    async def scenario():
        peer = Peer([b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"])
        port = await peer.start()
        up = Upstream(f"http://127.0.0.1:{port}", 5, 5)
        answer = await up.request("GET", "/", [("x-ok", "1"), ("x-bad", "a\r\nx-evil: 1")])
        await read_all(answer)
        head = peer.requests[0][0]
        assert b"x-ok: 1" in head and b"x-evil" not in head
        await up.close()
        peer.server.close()

    run(scenario())


def test_a_body_that_does_not_match_its_length_is_never_sent_on():
    """More bytes than Content-Length would be read by the upstream as the next request
    (smuggling): refused, the connection closed; a connection that carried a body is
    never reused."""

    async def scenario():
        ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        peer = Peer([ok, ok, ok])
        port = await peer.start()
        up = Upstream(f"http://127.0.0.1:{port}", 5, 5)
        smuggled = b"abcGET /admin HTTP/1.1\r\nhost: x\r\n\r\n"
        with pytest.raises(UpstreamError):
            await up.request("POST", "/w", [("content-length", "3")], body_of(smuggled))
        with pytest.raises(UpstreamError):
            await up.request("POST", "/w", [("content-length", "9")], body_of(b"abc"))
        posted = await up.request("POST", "/w", [("content-length", "3")], body_of(b"abc"))
        assert await read_all(posted) == b"ok"
        assert await read_all(await up.request("GET", "/r", [])) == b"ok"
        assert peer.connections == 4  # the GET did not reuse the POST's connection
        assert not any(b"/admin" in head for head, _ in peer.requests)
        await up.close()
        peer.server.close()

    run(scenario())
