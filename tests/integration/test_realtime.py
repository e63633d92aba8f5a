"""/ws on a site host: a broadcast channel per site, with origin checks and limits, and
fazt.realtime.publish from the site's JavaScript."""

import json
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from fazt.realtime.hub import same_origin_host
from tests.conftest import running_server, write_site

# Small limits, so that the cap and the idle timeout can be tested quickly.
SETTINGS = {"ws_max_connections_per_site": "4", "ws_idle_seconds": "3"}
PUBLISHER = r"""
function handler(req) {
  if (req.method !== 'POST') return respond(405, {error: 'POST only'});
  fazt.realtime.publish(req.body.channel, req.body.message);
  return {published: true};
}
handler(request);
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("realtime")
    with running_server(root / "home", SETTINGS) as server:
        for name in ("chat", "other"):
            files = {"index.html": name, "api/main.js": PUBLISHER}
            server.deploy(write_site(root / name, files), name)
        # JS workers start on the first request: start them before any socket idles.
        assert server.request("GET", "/api", host="chat.localhost").status_code == 405
        yield server


def ws(srv, site: str | None, origin: str | None = None):
    """A client for /ws with the site's Host header, over a loopback socket."""
    host = f"{site}.localhost" if site else "localhost"
    sock = socket.create_connection(("127.0.0.1", srv.port))
    return connect(
        f"ws://{host}:{srv.port}/ws", sock=sock, origin=origin, open_timeout=5, close_timeout=2
    )


def test_messages_reach_every_client_of_the_site_only(srv):
    with ws(srv, "chat") as a, ws(srv, "chat") as b, ws(srv, "other") as c, ws(srv, "other") as d:
        a.send("hello from a")
        assert b.recv(timeout=5) == "hello from a"
        # As in fazt v0.9, the sender gets its own message back (the default echo).
        assert a.recv(timeout=5) == "hello from a"
        b.send("hi a")
        assert a.recv(timeout=5) == "hi a"
        assert b.recv(timeout=5) == "hi a"
        # Another site's clients never see chat's messages.
        d.send("only for other")
        assert c.recv(timeout=5) == "only for other"
        a.send(b"\x00\x01binary")
        assert b.recv(timeout=5) == b"\x00\x01binary"


def test_cross_origin_pages_are_refused(srv):
    with pytest.raises(InvalidStatus) as refused:
        ws(srv, "chat", origin="https://chat.localhost.evil.example")
    assert refused.value.response.status_code == 403
    with ws(srv, "chat", origin=f"http://chat.localhost:{srv.port}") as ok:
        ok.send("fine")


def test_oversized_messages_close_the_connection_and_go_nowhere(srv):
    with ws(srv, "chat") as big, ws(srv, "chat") as listener, ws(srv, "chat") as small:
        big.send("x" * (64 * 1024 + 1))
        with pytest.raises(ConnectionClosed):
            big.recv(timeout=5)
        # (Granian closes without sending the 1009 status code, so only the close is
        # checked.) The listener's next message is the small one: the big one was dropped.
        small.send("small")
        assert listener.recv(timeout=5) == "small"


@pytest.mark.parametrize("site", ["nosuchsite", None])
def test_only_existing_sites_have_a_channel(srv, site):
    with pytest.raises(InvalidStatus) as refused:
        ws(srv, site)
    assert refused.value.response.status_code == 404


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://chat.localhost:4698", "chat.localhost:4698", True),
        ("https://Chat.Localhost", "chat.localhost:80", True),
        ("https://chat.localhost.evil.example", "chat.localhost", False),
        ("https://evil.example/chat.localhost", "chat.localhost", False),
        ("null", "chat.localhost", False),
    ],
)
def test_same_origin_host(origin, host, same):
    assert same_origin_host(origin, host) is same


def test_javascript_publishes_to_the_sites_clients(srv):
    with ws(srv, "chat") as a, ws(srv, "chat") as b, ws(srv, "other") as c:
        body = {"channel": "scores", "message": {"player": "ann", "score": 42}}
        r = srv.request("POST", "/api/publish", host="chat.localhost", json=body)
        assert r.status_code == 200, r.text
        expected = {"channel": "scores", "data": {"player": "ann", "score": 42}}
        assert json.loads(a.recv(timeout=5)) == expected
        assert json.loads(b.recv(timeout=5)) == expected
        # the other site's client gets nothing: its first message is its own site's
        srv.request("POST", "/api", host="other.localhost", json={"channel": "x", "message": 1})
        assert json.loads(c.recv(timeout=5)) == {"channel": "x", "data": 1}


def test_publish_without_a_message_is_a_function_error(srv):
    r = srv.request("POST", "/api", host="chat.localhost", json={"channel": "x"})
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "FUNCTION_ERROR"


def test_connections_per_site_are_capped_by_the_setting(srv):
    with ws(srv, "chat"), ws(srv, "chat"), ws(srv, "chat"), ws(srv, "chat"):
        with pytest.raises(InvalidStatus) as refused:
            ws(srv, "chat")
        assert refused.value.response.status_code == 503
        with ws(srv, "other") as fine:  # the cap is per site
            fine.send("ok")
    # a freed slot can be taken again
    deadline = time.monotonic() + 5
    while True:
        try:
            with ws(srv, "chat") as again:
                again.send("back")
            break
        except InvalidStatus:
            assert time.monotonic() < deadline, "the slots were never freed"
            time.sleep(0.05)


def test_idle_connections_are_closed_after_the_setting(srv):
    started = time.monotonic()
    with ws(srv, "chat") as idle, pytest.raises(ConnectionClosed):
        idle.recv(timeout=15)
    elapsed = time.monotonic() - started
    assert 2.5 <= elapsed < 10, elapsed
