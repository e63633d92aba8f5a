"""Dashboard login sessions, stored in the database so they survive restarts.

The cookie carries a random token; the database keeps only its SHA-256, so reading the
database file does not let anyone log in. Expiry slides: each use pushes it forward
(written at most once a minute per session, see `needs_touch`).
"""

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fazt.db.connection import utcnow

COOKIE_NAME = "fazt_session"
TOUCH_INTERVAL = timedelta(seconds=60)
_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class Session:
    id: int
    user_id: int
    username: str
    csrf_token: str
    created_at: str
    last_seen_at: str
    expires_at: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.strftime(_FORMAT)


def _parse(text: str) -> datetime:
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)


def create(
    conn: sqlite3.Connection, user_id: int, ttl: int, ip: str = "", user_agent: str = ""
) -> str:
    """Start a session for `user_id`; return its token (the cookie value, never stored)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at,"
        " expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            hash_token(token),
            user_id,
            secrets.token_urlsafe(32),
            _iso(now),
            _iso(now),
            _iso(now + timedelta(seconds=ttl)),
            ip,
            user_agent[:300],
        ),
    )
    return token


def lookup(conn: sqlite3.Connection, token: str) -> Session | None:
    """The live session for a cookie value, or None (unknown, revoked or expired)."""
    if not token:
        return None
    row = conn.execute(
        "SELECT s.id, s.user_id, u.username, s.csrf_token, s.created_at, s.last_seen_at,"
        " s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = ? AND s.expires_at > ?",
        (hash_token(token), utcnow()),
    ).fetchone()
    return Session(*row) if row else None


def needs_touch(session: Session) -> bool:
    """True when the sliding expiry should be written again (at most once a minute)."""
    return datetime.now(UTC) - _parse(session.last_seen_at) >= TOUCH_INTERVAL


def touch(conn: sqlite3.Connection, session_id: int, ttl: int) -> None:
    now = datetime.now(UTC)
    conn.execute(
        "UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ? AND expires_at > ?",
        (_iso(now), _iso(now + timedelta(seconds=ttl)), session_id, _iso(now)),
    )


def revoke(conn: sqlite3.Connection, session_id: int) -> None:
    conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))


def revoke_all(conn: sqlite3.Connection, user_id: int | None = None) -> int:
    """End every session (of one user, or of everyone); return how many ended."""
    if user_id is None:
        return conn.execute("DELETE FROM sessions").rowcount
    return conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount


def prune_expired(conn: sqlite3.Connection) -> int:
    return conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (utcnow(),)).rowcount


def list_active(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute(
        "SELECT s.id, u.username, s.created_at, s.last_seen_at, s.expires_at, s.ip,"
        " s.user_agent FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.expires_at > ? ORDER BY s.last_seen_at DESC",
        (utcnow(),),
    ).fetchall()
    return [dict(r) for r in rows]


def find_user(conn: sqlite3.Connection, username: str) -> tuple[int, str] | None:
    """(id, password_hash) of the user with this name."""
    row = conn.execute(
        "SELECT id, password_hash FROM users WHERE username = ?", (username,)
    ).fetchone()
    return (row[0], row[1]) if row else None
