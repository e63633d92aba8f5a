"""Inbound webhooks: POST /webhook/<name>, HMAC-SHA256 signed, payloads stored.

The signature is `sha256=<hex HMAC-SHA256 of the raw body keyed with the secret>` in
`X-Fazt-Signature` (or GitHub's `X-Hub-Signature-256`, same format).
"""

import hashlib
import hmac
import json
import re
import secrets
import sqlite3

from fazt.db.connection import utcnow

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SIGNATURE_HEADERS = ("x-fazt-signature", "x-hub-signature-256")
# Headers worth keeping with a payload (what sent it, which event, which delivery).
KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-github-event",
    "x-github-delivery",
    "x-gitlab-event",
    "x-event-type",
    "x-request-id",
)
KEEP_EVENTS = 1000  # per webhook; older payloads are deleted as new ones arrive


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            f"invalid webhook name {name!r}: use 1-64 lower-case letters, digits, '_' or '-'"
        )
    return name


def validate_secret(secret: str) -> str:
    if not 16 <= len(secret) <= 256 or not secret.isprintable():
        raise ValueError("a webhook secret must be 16 to 256 printable characters")
    return secret


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def sign(secret: str, body: bytes) -> str:
    """The signature header value a sender computes for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Constant-time comparison of a `sha256=<hex>` header with our own HMAC."""
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().lower().encode())


def find(conn: sqlite3.Connection, name: str) -> tuple[int, str | None] | None:
    """(id, secret) of the webhook called `name`."""
    row = conn.execute("SELECT id, secret FROM webhooks WHERE name = ?", (name,)).fetchone()
    return (row[0], row[1]) if row else None


def add(conn: sqlite3.Connection, name: str, secret: str | None) -> dict | None:
    """The new webhook (without its secret), or None if the name is taken."""
    if conn.execute("SELECT 1 FROM webhooks WHERE name = ?", (name,)).fetchone():
        return None
    created = utcnow()
    cur = conn.execute(
        "INSERT INTO webhooks (name, secret, created_at) VALUES (?, ?, ?)",
        (name, secret, created),
    )
    return {"id": cur.lastrowid, "name": name, "signed": secret is not None, "created_at": created}


def remove(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("DELETE FROM webhooks WHERE name = ?", (name,)).rowcount > 0


def store_event(
    conn: sqlite3.Connection,
    webhook_id: int,
    verified: bool,
    event: str,
    headers: dict[str, str],
    payload: str,
) -> int:
    cur = conn.execute(
        "INSERT INTO webhook_events (webhook_id, received_at, verified, event, headers, payload) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (webhook_id, utcnow(), int(verified), event, json.dumps(headers), payload),
    )
    conn.execute(
        "DELETE FROM webhook_events WHERE webhook_id = ? AND id <= (SELECT id FROM "
        "webhook_events WHERE webhook_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (webhook_id, webhook_id, KEEP_EVENTS),
    )
    return cur.lastrowid


def event_name(payload: str, headers: dict[str, str]) -> str:
    """What happened, from the payload's "event"/"type" or the sender's event header."""
    try:
        data = json.loads(payload)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("event", "type", "action"):
            if isinstance(data.get(key), str):
                return data[key][:100]
    for key in ("x-github-event", "x-gitlab-event", "x-event-type"):
        if key in headers:
            return headers[key][:100]
    return ""
