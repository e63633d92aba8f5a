"""Inbound webhooks: HMAC-SHA256 signatures, stored payloads, secrets never shown again."""

import hashlib
import hmac
import json

import pytest

from tests.conftest import FaztServer


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def events(server: FaztServer, name: str | None = None) -> list[dict]:
    query = f"?webhook={name}" if name else ""
    response = server.api("GET", "/api/webhook-events" + query)
    assert response.status_code == 200
    return response.json()["data"]


def webhook_names(server: FaztServer) -> list[str]:
    return [w["name"] for w in server.api("GET", "/api/webhooks").json()["data"]]


@pytest.fixture
def server(shared_server):
    """One server for the module: each test adds webhooks of its own names and reads their
    events only; lists of every webhook are compared with the list before the test."""
    return shared_server


def test_generated_secret_shown_once_and_signed_payloads_stored(server):
    before = webhook_names(server)
    created = json.loads(server.cli("webhook", "add", "deploys", "--json").stdout)
    secret = created["secret"]
    assert created["signed"] is True and len(secret) >= 32
    listed = json.loads(server.cli("webhook", "list", "--json").stdout)
    assert sorted(w["name"] for w in listed) == sorted([*before, "deploys"])
    mine = next(w for w in listed if w["name"] == "deploys")
    assert "secret" not in mine and secret not in json.dumps(listed)
    body = json.dumps({"event": "deploy.done", "site": "blog"}).encode()
    ok = server.request(
        "POST",
        "/webhook/deploys",
        content=body,
        headers={"x-fazt-signature": sign(secret, body), "content-type": "application/json"},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["verified"] is True
    # GitHub's header, same format.
    github = server.request(
        "POST",
        "/webhook/deploys",
        content=b'{"zen": "x"}',
        headers={"x-hub-signature-256": sign(secret, b'{"zen": "x"}'), "x-github-event": "ping"},
    )
    assert github.status_code == 200
    stored = events(server, "deploys")
    assert [(e["event"], e["verified"]) for e in stored] == [("ping", True), ("deploy.done", True)]
    assert json.loads(stored[1]["payload"]) == {"event": "deploy.done", "site": "blog"}
    assert stored[1]["headers"]["content-type"] == "application/json"
    assert "x-fazt-signature" not in stored[1]["headers"]
    shown = server.cli("webhook", "events", "deploys").stdout
    assert "deploy.done" in shown
    assert secret not in server.output()  # never logged


def test_bad_or_missing_signatures_are_rejected_and_not_stored(server):
    secret = "a-shared-secret-of-some-length"
    server.cli("webhook", "add", "pay", "--secret", secret)
    body = b'{"type": "invoice.paid"}'
    cases = [
        ({}, "MISSING_SIGNATURE"),
        ({"x-fazt-signature": sign("the-wrong-secret-entirely", body)}, "INVALID_SIGNATURE"),
        ({"x-fazt-signature": sign(secret, body + b" ")}, "INVALID_SIGNATURE"),
        ({"x-fazt-signature": "sha256=zz"}, "INVALID_SIGNATURE"),
    ]
    for headers, code in cases:
        response = server.request("POST", "/webhook/pay", content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == code
    assert events(server, "pay") == []
    good = server.request(
        "POST", "/webhook/pay", content=body, headers={"x-fazt-signature": sign(secret, body)}
    )
    assert good.status_code == 200
    assert [e["event"] for e in events(server, "pay")] == ["invoice.paid"]


def test_limits_unknown_names_methods_and_unsigned_webhooks(server):
    assert server.request("POST", "/webhook/nope", content=b"{}").status_code == 404
    server.cli("webhook", "add", "open", "--unsigned")
    assert server.get("/webhook/open").status_code == 405
    big = server.request("POST", "/webhook/open", content=b"x" * (256 * 1024 + 1))
    assert big.status_code == 413
    plain = server.request("POST", "/webhook/open", content=b"not json at all")
    assert plain.status_code == 200 and plain.json()["data"]["verified"] is False
    assert [(e["payload"], e["verified"]) for e in events(server, "open")] == [
        ("not json at all", False)
    ]


def test_cli_and_api_refuse_bad_webhooks(server):
    before = webhook_names(server)
    for args, needle in [
        (["Bad Name"], "invalid webhook name"),
        (["short", "--secret", "tooshort"], "16 to 256"),
        (["both", "--secret", "x" * 20, "--unsigned"], "either"),
    ]:
        out = server.cli("webhook", "add", *args, check=False)
        assert out.returncode != 0 and needle in out.stderr, out.stderr
    server.cli("webhook", "add", "dup")
    again = server.cli("webhook", "add", "dup", check=False)
    assert again.returncode != 0 and "exists" in again.stderr
    assert server.api("POST", "/api/webhooks", content=b"[]").status_code == 400
    assert server.api("GET", "/api/webhook-events?limit=0").status_code == 400
    assert sorted(webhook_names(server)) == sorted([*before, "dup"])
    gone = server.cli("webhook", "remove", "dup")
    assert "Removed webhook dup" in gone.stdout
    missing = server.cli("webhook", "remove", "dup", check=False)
    assert missing.returncode != 0 and "WEBHOOK_NOT_FOUND" in missing.stderr
    key = server.create_key("ci", "deploy")
    assert server.api("GET", "/api/webhooks", token=key).status_code == 403
