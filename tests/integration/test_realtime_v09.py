"""/ws as fazt v0.9 apps use it: every message goes to every client of the site, the
sender included, unless the site's manifest.json turns the echo off. Also records what a
client sees of the close codes the hub means to send, and that no compression is
negotiated (Granian's RSGI websocket API can do neither; docs/serverless.md says so)."""

import json
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import running_server, write_site

SETTINGS = {"ws_idle_seconds": "2"}
CHAT_PAGE = "<script>/* a v0.9 chat page: shows a message when /ws sends it back */</script>"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("realtime09")
    with running_server(root / "home", SETTINGS) as server:
        server.deploy(write_site(root / "chat", {"index.html": CHAT_PAGE}), "chat")
        quiet = {"index.html": "q", "manifest.json": json.dumps({"realtime": {"echo": False}})}
        server.deploy(write_site(root / "quiet", quiet), "quiet")
        yield server


def ws(srv, site: str):
    sock = socket.create_connection(("127.0.0.1", srv.port))
    return connect(
        f"ws://{site}.localhost:{srv.port}/ws", sock=sock, open_timeout=5, close_timeout=2
    )


def test_the_sender_gets_its_own_message_back_by_default(srv):
    with ws(srv, "chat") as me, ws(srv, "chat") as friend:
        me.send("hello")
        assert me.recv(timeout=5) == "hello"  # v0.9: the sender is one of "all clients"
        assert friend.recv(timeout=5) == "hello"
        me.send(b"\x01bin")
        assert me.recv(timeout=5) == b"\x01bin"


def test_manifest_realtime_echo_false_sends_to_the_others_only(srv):
    with ws(srv, "quiet") as me, ws(srv, "quiet") as friend:
        me.send("hello")
        assert friend.recv(timeout=5) == "hello"
        friend.send("reply")
        # No echo of "hello": the first thing `me` receives is the friend's reply.
        assert me.recv(timeout=5) == "reply"


def test_an_invalid_realtime_section_refuses_the_deploy(srv, tmp_path):
    bad = {"index.html": "x", "manifest.json": json.dumps({"realtime": {"echo": "no"}})}
    out = srv.cli("deploy", str(write_site(tmp_path / "bad", bad)), "--site", "bad", check=False)
    assert out.returncode != 0
    assert "INVALID_MANIFEST" in out.stdout + out.stderr


def _close_seen(conn) -> tuple[int | None, bool]:
    """(the close code the client received, whether a close frame came at all)."""
    with pytest.raises(ConnectionClosed) as closed:
        conn.recv(timeout=15)
    rcvd = closed.value.rcvd
    return (rcvd.code if rcvd else None), rcvd is not None


def test_close_codes_measured_an_oversized_message(srv):
    # The hub closes with 1009 in mind; Granian sends a close frame without a code, which
    # clients (and browsers) report as 1005. If this starts failing with 1009, Granian
    # learned to send codes: update docs/serverless.md and docs/migrating-from-v0.9.md.
    with ws(srv, "chat") as big:
        big.send("x" * (64 * 1024 + 1))
        assert _close_seen(big) == (1005, True)


def test_close_codes_measured_idle(srv):
    started = time.monotonic()
    with ws(srv, "chat") as idle:
        assert _close_seen(idle) == (1005, True)  # 4000 is meant (see above)
    assert time.monotonic() - started >= 1.5


def test_permessage_deflate_is_offered_but_not_negotiated(srv):
    with ws(srv, "chat") as conn:
        offered = conn.request.headers.get("sec-websocket-extensions") or ""
        assert "permessage-deflate" in offered  # the client asks for it...
        assert conn.response.headers.get("sec-websocket-extensions") is None  # ...no answer
