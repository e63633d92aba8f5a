"""`fazt remote upgrade` reads /health as a typed answer: a version, or why there is none.

The peer is a small HTTP server on loopback answering what a fazt server would at the
end of an upgrade; its /health reports whatever the test sets (or fails)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fazt.remote import upgrade_client
from fazt.remote.client import FaztClient


class Peer(ThreadingHTTPServer):
    health: dict | None = None  # None: /health answers 503 without a fazt body
    started: dict = {}
    record: dict = {}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            if self.server.health is None:
                return self._send(503, b"down")
            return self._send(200, json.dumps({"data": self.server.health}).encode())
        self._send(200, json.dumps({"data": self.server.record}).encode())

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self._send(202, json.dumps({"data": self.server.started}).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def peer():
    server = Peer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _upgrade(peer: Peer, timeout: float = 5.0) -> upgrade_client.Outcome:
    with FaztClient(f"http://127.0.0.1:{peer.server_port}", "token", timeout=2) as client:
        return upgrade_client.upgrade(client, "prod", timeout=timeout, interval=0.01)


def test_a_reported_version_is_a_version_whatever_it_looks_like(peer):
    # The answer used to share one string with "!reason" errors.
    peer.started = {"action": "already_latest", "current_version": "!dev"}
    peer.health = {"version": "!dev"}
    outcome = _upgrade(peer)
    assert (outcome.result, outcome.running_version) == ("already_latest", "!dev")


def test_a_rollback_with_no_health_answer_says_why(peer):
    peer.started = {"id": "up_1", "from_version": "1.0.0", "to_version": "1.0.1"}
    peer.record = {"finished": True, "status": "rolled_back", "message": "1.0.1 did not start"}
    outcome = _upgrade(peer, timeout=0.3)
    assert (outcome.result, outcome.running_version) == ("rolled_back", None)
    assert outcome.message.startswith("1.0.1 did not start; and /health does not answer: ")
    assert "answered 503 without a fazt JSON body" in outcome.message
