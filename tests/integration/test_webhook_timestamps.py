"""Timestamped webhook signatures on a real server: fresh ones accepted, stale, replayed
and tampered ones refused (and not stored); the legacy sha256= header still works."""

import hashlib
import hmac
import json
import time

from tests.integration.test_webhooks import events, sign

SECRET = "a-shared-secret-of-some-length"


def timestamped(body: bytes, t: int, secret: str = SECRET) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def post(server, body: bytes, signature: str, header: str = "x-fazt-signature"):
    return server.request("POST", "/webhook/pay", content=body, headers={header: signature})


def test_timestamped_signatures_refuse_stale_replayed_and_tampered_requests(server):
    server.cli("webhook", "add", "pay", "--secret", SECRET)
    body = json.dumps({"type": "invoice.paid"}).encode()
    now = int(time.time())
    fresh = timestamped(body, now)

    ok = post(server, body, fresh)
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["verified"] is True

    refusals = [
        (body, fresh, "REPLAYED_SIGNATURE"),  # the same signed request again
        (body, timestamped(body, now - 600), "STALE_SIGNATURE"),
        (body, timestamped(body, now + 600), "STALE_SIGNATURE"),
        (body + b" ", fresh, "INVALID_SIGNATURE"),  # tampered body
        (body, fresh.replace(f"t={now}", f"t={now - 1}"), "INVALID_SIGNATURE"),
        (body, timestamped(body, now, "the-wrong-secret-entirely"), "INVALID_SIGNATURE"),
    ]
    for sent, signature, code in refusals:
        r = post(server, sent, signature)
        assert r.status_code == 401, (code, r.text)
        assert r.json()["error"]["code"] == code
    # The legacy header keeps working (without replay protection: it has no timestamp).
    legacy = post(server, b'{"type": "legacy"}', sign(SECRET, b'{"type": "legacy"}'))
    assert legacy.status_code == 200
    github = post(server, b'{"type": "gh"}', sign(SECRET, b'{"type": "gh"}'), "x-hub-signature-256")
    assert github.status_code == 200
    # A new delivery of the same body, signed afresh, is not a replay.
    later = post(server, body, timestamped(body, now + 1))
    assert later.status_code == 200, later.text
    assert [e["event"] for e in events(server, "pay")] == [
        "invoice.paid",
        "gh",
        "legacy",
        "invoice.paid",
    ]
