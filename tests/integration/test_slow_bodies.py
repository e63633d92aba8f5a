"""A request body that trickles in (each chunk in time for the stall timeout) is cut off
once it falls behind the minimum rate: 408 and the connection closed, both for bodies
read whole (a function's request) and streamed (a ZIP deploy). Real clients on sockets."""

import select
import socket
import time

import pytest

from tests.conftest import running_server, write_site

GRACE = 2.0
SETTINGS = {
    "http_body_rate_grace_seconds": str(GRACE),
    "http_body_min_bytes_per_second": "1024",
    "http_body_timeout_seconds": "30",  # far longer: only the rate can stop the trickle
}
ECHO_JS = """
async function handler(req) { return {got: (req.body || "").length}; }
handler(request);
"""
BODY_BYTES = 80 * 1024


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("slow")
    with running_server(root / "home", SETTINGS) as server:
        server.deploy(write_site(root / "echo", {"api/main.js": ECHO_JS}), "echo")
        yield server


def _trickle(port: int, head: bytes, total: int, per_second: int, stop_after: float):
    """Send `head`, then `total` body bytes at `per_second` (100-byte chunks, each well
    within the stall timeout) until the server answers; (answer, seconds, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    started, sent, answer = time.monotonic(), 0, b""
    try:
        sock.sendall(head)
        while time.monotonic() - started < stop_after:
            readable, _, _ = select.select([sock], [], [], 100 / per_second)
            if readable:
                break
            if sent < total:
                try:
                    sent += sock.send(b"a" * min(100, total - sent))
                except (BrokenPipeError, ConnectionResetError):
                    break
        sock.settimeout(10)
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        return answer, time.monotonic() - started, sent
    finally:
        sock.close()


def _post_head(path: str, host: str, length: int, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def test_a_body_trickling_at_1000_bytes_a_second_gets_408(srv):
    head = _post_head("/api", "echo.localhost", BODY_BYTES)
    answer, seconds, sent = _trickle(srv.port, head, BODY_BYTES, 1000, stop_after=40)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"REQUEST_TIMEOUT" in answer and b"arrives too slowly" in answer
    assert b"connection: close" in answer.lower()
    # Cut off soon after the grace, far before the 80 s the whole body would take.
    assert GRACE <= seconds < GRACE + 6, seconds
    assert sent < BODY_BYTES / 2


def test_a_streamed_deploy_upload_that_trickles_gets_408(srv):
    head = _post_head(
        "/api/deploy",
        "localhost",
        BODY_BYTES,
        f"Authorization: Bearer {srv.token}\r\n",
    ).replace(b"text/plain", b"multipart/form-data; boundary=xyz")
    answer, seconds, _ = _trickle(srv.port, head, BODY_BYTES, 500, stop_after=40)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert GRACE <= seconds < GRACE + 6, seconds


def test_a_slow_start_within_the_grace_then_a_fast_body_is_accepted(srv):
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        sock.sendall(_post_head("/api", "echo.localhost", BODY_BYTES))
        # Nothing for most of the grace (a slow start), then the whole body at once.
        readable, _, _ = select.select([sock], [], [], GRACE * 0.6)
        assert not readable
        sock.sendall(b"a" * BODY_BYTES)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert f'"got":{BODY_BYTES}'.encode() in answer.replace(b" ", b"")


def test_a_normal_upload_is_not_affected(srv):
    r = srv.request("POST", "/api", host="echo.localhost", content=b"b" * BODY_BYTES)
    assert r.status_code == 200, r.text
    assert r.json()["got"] == BODY_BYTES
