"""Dashboard login sessions, stored in the database so they survive restarts.

The cookie carries a random token; the database keeps only its SHA-256, so reading the
database file does not let anyone log in. Expiry slides: each use pushes it forward
(written at most once a minute per session, see `needs_touch`), but never past the
absolute limit `max_age` after the login: a stolen cookie kept busy still dies then.
"""

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fazt.db.clock import parse, stamp, utcnow

COOKIE_NAME = "fazt_session"
# Over HTTPS: browsers accept a `__Host-` cookie only with Secure, Path=/ and no Domain,
# so a sibling subdomain can neither plant nor overwrite one for the dashboard's host.
SECURE_COOKIE_NAME = "__Host-fazt_session"
TOUCH_INTERVAL = timedelta(seconds=60)


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


def cookie_name(https: bool) -> str:
    return SECURE_COOKIE_NAME if https else COOKIE_NAME


def set_cookie(token: str, max_age: int, https: bool) -> str:
    """The Set-Cookie value: host-only, HttpOnly, SameSite=Lax; Secure and `__Host-` named
    over HTTPS. An empty token with max_age 0 logs out."""
    parts = [
        f"{cookie_name(https)}={token}",
        "Path=/",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Lax",
    ]
    if https:
        parts.append("Secure")
    return "; ".join(parts)


def create(
    conn: sqlite3.Connection,
    user_id: int,
    ttl: int,
    ip: str = "",
    user_agent: str = "",
    max_age: int | None = None,
) -> str:
    """Start a session for `user_id`; return its token (the cookie value, never stored)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    ttl = ttl if max_age is None else min(ttl, max_age)
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at,"
        " expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            hash_token(token),
            user_id,
            secrets.token_urlsafe(32),
            stamp(now),
            stamp(now),
            stamp(now + timedelta(seconds=ttl)),
            ip,
            user_agent[:300],
        ),
    )
    return token


def lookup(conn: sqlite3.Connection, token: str, max_age: int | None = None) -> Session | None:
    """The live session for a cookie value, or None (unknown, revoked or expired)."""
    found = lookup_first(conn, [token], max_age)
    return found[0] if found else None


def lookup_first(
    conn: sqlite3.Connection, tokens: list[str], max_age: int | None = None
) -> tuple[Session, str] | None:
    """The first of `tokens` that names a live session (one query), with that token.
    With `max_age`, sessions created longer ago than that many seconds are dead too."""
    by_hash = {hash_token(t): t for t in tokens if t}
    if not by_hash:
        return None
    now = datetime.now(UTC)
    born_after = stamp(now - timedelta(seconds=max_age)) if max_age is not None else ""
    marks = ",".join("?" * len(by_hash))
    rows = conn.execute(
        "SELECT s.token_hash, s.id, s.user_id, u.username, s.csrf_token, s.created_at,"
        " s.last_seen_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id"
        f" WHERE s.token_hash IN ({marks}) AND s.expires_at > ? AND s.created_at > ?",
        (*by_hash, stamp(now), born_after),
    ).fetchall()
    if not rows:
        return None
    order = {t: i for i, t in enumerate(tokens)}
    row = min(rows, key=lambda r: order[by_hash[r[0]]])
    return Session(*row[1:]), by_hash[row[0]]


def needs_touch(session: Session) -> bool:
    """True when the sliding expiry should be written again (at most once a minute)."""
    return datetime.now(UTC) - parse(session.last_seen_at) >= TOUCH_INTERVAL


def seconds_left(session: Session, ttl: int, max_age: int) -> int:
    """What the cookie's Max-Age should be after this use: the idle lifetime, cut short by
    the absolute one."""
    deadline = parse(session.created_at) + timedelta(seconds=max_age)
    left = int((deadline - datetime.now(UTC)).total_seconds())
    return max(0, min(ttl, left))


def touch(conn: sqlite3.Connection, session_id: int, ttl: int, max_age: int | None = None) -> None:
    """Slide the expiry `ttl` seconds past now, but not beyond `max_age` after creation."""
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=ttl)
    if max_age is not None:
        row = conn.execute("SELECT created_at FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return
        expires = min(expires, parse(row[0]) + timedelta(seconds=max_age))
    conn.execute(
        "UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ? AND expires_at > ?",
        (stamp(now), stamp(expires), session_id, stamp(now)),
    )


def revoke(conn: sqlite3.Connection, session_id: int) -> None:
    conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))


def revoke_all(conn: sqlite3.Connection, user_id: int | None = None) -> int:
    """End every session (of one user, or of everyone); return how many ended."""
    if user_id is None:
        return conn.execute("DELETE FROM sessions").rowcount
    return conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount


def revoke_of_user(conn: sqlite3.Connection, user_id: int, session_id: int) -> int:
    """End one session of this user (the dashboard's Sessions page); how many ended."""
    return conn.execute(
        "DELETE FROM sessions WHERE id = ? AND user_id = ?", (session_id, user_id)
    ).rowcount


def revoke_others(conn: sqlite3.Connection, user_id: int, keep_id: int) -> int:
    """End every session of this user except `keep_id` (log out other sessions)."""
    return conn.execute(
        "DELETE FROM sessions WHERE user_id = ? AND id != ?", (user_id, keep_id)
    ).rowcount


def prune_expired(conn: sqlite3.Connection, max_age: int | None = None) -> int:
    """Delete the sessions `lookup` no longer accepts; return how many.

    Dead are those idle past their sliding expiry (the idle ttl is written into
    `expires_at` at each use) and, with `max_age`, those created more than that many
    seconds ago however busy: the same two tests as `lookup_first`, so nothing it would
    still accept is deleted.
    """
    now = datetime.now(UTC)
    born_by = stamp(now - timedelta(seconds=max_age)) if max_age is not None else ""
    return conn.execute(
        "DELETE FROM sessions WHERE expires_at <= ? OR created_at <= ?", (stamp(now), born_by)
    ).rowcount


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
