"""Edge limits per client address (fazt.server.edge): request rate, requests in progress,
slow headers and bodies, /track beacons, /ws messages. A real server on loopback; other
client addresses come from X-Forwarded-For through a trusted proxy (127.0.0.1)."""

import json
import socket
import sqlite3
import time

import httpx
import pytest

from tests.conftest import running_server, wait_for, write_site
from tests.integration.edge_helpers import closed_by_server, frame, read_text, ws_handshake

SETTINGS = {
    "trusted_proxies": "127.0.0.1",
    "edge_requests_per_second": "5",
    "edge_requests_burst": "10",
    "edge_connections_per_address": "3",
    "http_header_timeout_seconds": "2",
    "http_body_timeout_seconds": "2",
    "track_per_second": "1",
    "track_burst": "5",
    "ws_messages_per_second": "2",
    "ws_messages_burst": "5",
    "ws_address_messages_per_second": "100",
    "ws_address_messages_burst": "200",
}
SLOW_JS = r"""
async function handler(req) { return {ok: true}; }
handler(request);
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("edge")
    with running_server(root / "home", SETTINGS) as server:
        files = {"index.html": "hello", "api/main.js": SLOW_JS}
        server.deploy(write_site(root / "blog", files), "blog")
        yield server


def from_address(address: str) -> dict[str, str]:
    return {"x-forwarded-for": address}


def test_a_burst_over_the_rate_gets_429_and_other_addresses_are_unaffected(srv):
    with httpx.Client(base_url=srv.url, timeout=10) as client:
        statuses = [
            client.get("/", headers={"host": "blog.localhost", **from_address("198.51.100.1")})
            for _ in range(15)
        ]
        codes = [r.status_code for r in statuses]
        assert codes[:10] == [200] * 10, codes  # the burst
        limited = [r for r in statuses if r.status_code == 429]
        assert len(limited) >= 4, codes
        assert limited[0].json()["error"]["code"] == "RATE_LIMITED"
        assert int(limited[0].headers["retry-after"]) >= 1
        # Another address still has its whole burst.
        other = client.get("/", headers={"host": "blog.localhost", **from_address("198.51.100.2")})
        assert other.status_code == 200 and other.text == "hello"
        # The first address gets tokens back with time (5/s).
        wait_for(
            lambda: (
                client.get(
                    "/", headers={"host": "blog.localhost", **from_address("198.51.100.1")}
                ).status_code
                == 200
            ),
            deadline=5,
            interval=0.3,
            what="the bucket to refill",
        )


def test_loopback_is_exempt_by_default(srv):
    # No X-Forwarded-For: the client is 127.0.0.1, exempt, so 30 requests all pass.
    with httpx.Client(base_url=srv.url, timeout=10) as client:
        codes = {client.get("/", headers={"host": "blog.localhost"}).status_code for _ in range(30)}
    assert codes == {200}


def slow_body_request(port: int, address: str) -> socket.socket:
    """A POST whose body never comes: it holds one request in progress."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        (
            "POST /api HTTP/1.1\r\nHost: blog.localhost\r\nContent-Type: application/json\r\n"
            f"X-Forwarded-For: {address}\r\nContent-Length: 100\r\n\r\n{{"
        ).encode()
    )
    return sock


def test_requests_in_progress_per_address_are_capped(srv):
    address = "198.51.100.20"
    held = [slow_body_request(srv.port, address) for _ in range(3)]
    try:

        def fourth() -> int:
            r = srv.request(
                "POST", "/api", host="blog.localhost", json={}, headers=from_address(address)
            )
            return r.status_code

        # The 3 slow bodies reach the app (and are counted) soon after they are sent.
        wait_for(lambda: fourth() == 429, deadline=1.5, interval=0.1, what="a 429")
        r = srv.request(
            "POST", "/api", host="blog.localhost", json={}, headers=from_address("198.51.100.21")
        )
        assert r.status_code == 200, r.text
    finally:
        for sock in held:
            sock.close()


def test_a_stalled_body_gets_408_and_the_connection_is_closed(srv):
    started = time.monotonic()
    sock = slow_body_request(srv.port, "198.51.100.30")
    try:
        answer = b""
        sock.settimeout(10)
        while chunk := sock.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"REQUEST_TIMEOUT" in answer
        assert time.monotonic() - started < 6
    finally:
        sock.close()


def test_slow_headers_are_cut_off_while_a_normal_client_is_served(srv):
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    request = b"GET / HTTP/1.1\r\nHost: blog.localhost\r\nX-Padding: " + b"a" * 100
    started = time.monotonic()
    closed = False
    try:
        for byte in request:  # one byte a second, like slowloris
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            # Meanwhile a normal client is served at once.
            assert srv.get("/", host="blog.localhost").status_code == 200
            if closed_by_server(sock, deadline=1.0):
                closed = True
                break
            assert time.monotonic() - started < 8, "the slow client was never cut off"
        assert closed
        assert time.monotonic() - started < 6  # the 2 s header timeout, with slack
    finally:
        sock.close()


def track(srv, address: str, path: str, host: str = "blog.localhost", url: str = "/_fazt/track"):
    return srv.request(
        "POST",
        url,
        host=host,
        content=json.dumps({"p": path, "d": "blog"}),
        headers={"user-agent": "Mozilla/5.0 Firefox/120.0", **from_address(address)},
    )


def stored_paths(srv, prefix: str) -> set[str]:
    conn = sqlite3.connect(srv.db)
    try:
        rows = conn.execute(
            "SELECT path FROM analytics_events WHERE path LIKE ?", (prefix + "%",)
        ).fetchall()
    finally:
        conn.close()
    return {row[0] for row in rows}


def test_track_beacons_over_the_rate_get_429_and_are_not_stored(srv):
    responses = {f"/t{i}": track(srv, "198.51.100.40", f"/t{i}") for i in range(8)}
    codes = [r.status_code for r in responses.values()]
    assert codes[:5] == [204] * 5, codes
    assert codes.count(429) >= 2, codes
    limited = next(r for r in responses.values() if r.status_code == 429)
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited.headers["retry-after"]) >= 1
    # The dashboard host's /track counts against the same bucket.
    assert track(srv, "198.51.100.40", "/t-dash", host="localhost", url="/track").status_code == 429
    # Another address is not limited; its beacon, written last, marks the flush.
    assert track(srv, "198.51.100.41", "/t-marker").status_code == 204
    wait_for(lambda: "/t-marker" in stored_paths(srv, "/t"), deadline=15, what="the flush")
    accepted = {path for path, r in responses.items() if r.status_code == 204}
    assert stored_paths(srv, "/t") == accepted | {"/t-marker"}


def ws_text(text: str) -> bytes:
    return frame(0x81, text.encode())


def test_ws_messages_over_the_rate_close_the_connection(srv):
    def open_ws(address: str):
        return ws_handshake(srv.port, "blog.localhost", f"X-Forwarded-For: {address}\r\n")

    flooder, listener = open_ws("198.51.100.50"), open_ws("198.51.100.51")
    try:
        for i in range(12):  # burst 5 at 2/s: a quick 12 is over the rate
            try:
                flooder.sendall(ws_text(f"m{i}"))
            except (BrokenPipeError, ConnectionResetError):
                break
        assert closed_by_server(flooder, deadline=5)
        # The burst was passed on; the rest went nowhere: the next message the listener
        # gets after the burst is another client's.
        assert [read_text(listener) for _ in range(5)] == [f"m{i}" for i in range(5)]
        other = open_ws("198.51.100.52")
        try:
            other.sendall(ws_text("still here"))
            assert read_text(listener) == "still here"
        finally:
            other.close()
    finally:
        flooder.close()
        listener.close()
