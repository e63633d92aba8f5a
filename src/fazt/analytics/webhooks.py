"""Inbound webhooks: POST /webhook/<name>, HMAC-SHA256 signed, payloads stored.

Two signature schemes, both keyed with the webhook's secret:

- preferred, timestamped (like Stripe's): `X-Fazt-Signature: t=<unix seconds>,v1=<hex
  HMAC-SHA256 of "<t>.<raw body>">`. Refused when t is more than TOLERANCE_SECONDS away
  from our clock, or when the same (t, signature) was already accepted: a captured request
  cannot be replayed. Several v1= values may be given (a sender rotating secrets).
- legacy: `sha256=<hex HMAC-SHA256 of the raw body>` in `X-Fazt-Signature` (or GitHub's
  `X-Hub-Signature-256`). Still accepted for existing senders; it cannot tell a replay
  from a new delivery.
- fazt v0.9's: `X-Webhook-Signature: <hex HMAC-SHA256 of the raw body>` (no prefix, no
  timestamp). Accepted only by a webhook with `legacy_signatures` set (created with v0.9's
  fields, or asked for): like the legacy scheme it cannot tell a replay from a delivery.

The replay memory is in this process only (ReplayGuard): bounded, pruned as timestamps
leave the tolerance window, and empty after a restart or handover, so a request captured
within the 5 minutes before a restart could be replayed once after it.
"""

import hashlib
import heapq
import hmac
import json
import re
import secrets
import sqlite3
import time

from fazt.db.clock import utcnow
from fazt.errors import FaztError

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SIGNATURE_HEADERS = ("x-fazt-signature", "x-hub-signature-256")
V09_SIGNATURE_HEADER = "x-webhook-signature"  # v0.9's; only with legacy_signatures
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
TOLERANCE_SECONDS = 300  # a timestamped signature is valid this long either side of now
REPLAY_CAPACITY = 10_000  # accepted signatures remembered at once (about 3 MB, measured)
MAX_SIGNATURES = 8  # v1= values looked at in one header
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


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


def verify_v09(secret: str, body: bytes, header: str) -> None:
    """fazt v0.9's scheme: the header is the bare hex HMAC-SHA256 of the body; constant-
    time comparison, SignatureError when it does not match."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(expected, header.strip().lower().encode()):
        raise SignatureError("INVALID_SIGNATURE", "the signature does not match the body")


def sign_timestamped(secret: str, body: bytes, timestamp: int) -> str:
    """The timestamped header value a sender computes: `t=<unix>,v1=<hex>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class SignatureError(FaztError):
    """A delivery whose signature is refused."""


class ReplayGuard:
    """The timestamped signatures accepted within the tolerance window (this process only).

    Only verified signatures are recorded, so a sender without the secret cannot fill it.
    When it is full of unexpired entries, new deliveries are refused (503, retry later)
    rather than forgetting one that could then be replayed."""

    def __init__(self, capacity: int = REPLAY_CAPACITY) -> None:
        self.capacity = capacity
        self._seen: set[tuple[int, int, bytes]] = set()
        self._expiry: list[tuple[int, tuple[int, int, bytes]]] = []  # heap

    def __len__(self) -> int:
        return len(self._seen)

    def accept(self, webhook_id: int, timestamp: int, mac: str, now: float) -> None:
        """Record (webhook, t, mac); SignatureError if it was seen or there is no room."""
        while self._expiry and self._expiry[0][0] < now:
            self._seen.discard(heapq.heappop(self._expiry)[1])
        entry = (webhook_id, timestamp, bytes.fromhex(mac))  # 32 bytes, not 64 characters
        if entry in self._seen:
            raise SignatureError(
                "REPLAYED_SIGNATURE",
                "this signed request was already received; sign each "
                "delivery with a fresh timestamp",
            )
        if len(self._seen) >= self.capacity:
            raise SignatureError(
                "WEBHOOK_BUSY", "too many deliveries in the last minutes; retry later"
            )
        self._seen.add(entry)
        heapq.heappush(self._expiry, (timestamp + TOLERANCE_SECONDS, entry))


REPLAYS = ReplayGuard()  # one per server process (see the module docstring)


def _parse_timestamped(header: str) -> tuple[int, list[str]]:
    timestamp, macs = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and len(macs) < MAX_SIGNATURES:
            macs.append(value.strip().lower())
    if timestamp is None or not macs:
        raise SignatureError("INVALID_SIGNATURE", "expected t=<unix seconds>,v1=<hmac hex>")
    return timestamp, macs


def check_signature(
    secret: str,
    body: bytes,
    header: str,
    webhook_id: int,
    now: float | None = None,
    guard: ReplayGuard = REPLAYS,
) -> str:
    """Verify a delivery's signature header (either scheme); return the scheme used
    ("timestamped" or "legacy"), or raise SignatureError."""
    header = header.strip()
    if not header.startswith("t="):
        if not verify(secret, body, header):
            raise SignatureError("INVALID_SIGNATURE", "the signature does not match the body")
        return "legacy"
    timestamp, macs = _parse_timestamped(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError(
            "STALE_SIGNATURE",
            f"the signature's timestamp is more than {TOLERANCE_SECONDS} s from the server's "
            "clock; sign each delivery when sending it",
        )
    expected = sign_timestamped(secret, body, timestamp).split("v1=")[1].encode()
    # Compare with every value given (no early exit on a match: constant work per value).
    matches = [hmac.compare_digest(expected, m.encode()) for m in macs if _HEX64.match(m)]
    if not any(matches):
        raise SignatureError("INVALID_SIGNATURE", "the signature does not match the body")
    guard.accept(webhook_id, timestamp, expected.decode(), now)
    return "timestamped"


def find(conn: sqlite3.Connection, name: str) -> tuple[int, str | None, bool] | None:
    """(id, secret, legacy_signatures) of the webhook called `name`."""
    row = conn.execute(
        "SELECT id, secret, legacy_signatures FROM webhooks WHERE name = ?", (name,)
    ).fetchone()
    return (row[0], row[1], bool(row[2])) if row else None


def add(
    conn: sqlite3.Connection, name: str, secret: str | None, legacy_signatures: bool = False
) -> dict | None:
    """The new webhook (without its secret), or None if the name is taken."""
    if conn.execute("SELECT 1 FROM webhooks WHERE name = ?", (name,)).fetchone():
        return None
    created = utcnow()
    cur = conn.execute(
        "INSERT INTO webhooks (name, secret, created_at, legacy_signatures) VALUES (?, ?, ?, ?)",
        (name, secret, created, int(legacy_signatures)),
    )
    made = {"id": cur.lastrowid, "name": name, "signed": secret is not None, "created_at": created}
    if legacy_signatures:  # only then: the answer for the usual case stays as it was
        made["legacy_signatures"] = True
    return made


def remove(conn: sqlite3.Connection, name: str) -> str | None:
    """Delete the webhook `name`, else (v0.9's API) the one whose id `name` spells; the
    name deleted, or None."""
    row = conn.execute("DELETE FROM webhooks WHERE name = ? RETURNING name", (name,)).fetchone()
    if row is None and name.isascii() and name.isdigit() and len(name) <= 18:
        row = conn.execute(
            "DELETE FROM webhooks WHERE id = ? RETURNING name", (int(name),)
        ).fetchone()
    return row[0] if row else None


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
