"""API keys: random tokens stored only as SHA-256, with enforced scopes.

A token is `fazt_` + 32 random bytes (base32). Lookup is one indexed query on the hash, so
checking a key costs the same however many keys exist.
"""

import base64
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

from fazt.db.connection import utcnow

SCOPES = ("deploy", "admin")
TOKEN_PREFIX = "fazt_"


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """`admin` can do everything; other scopes only what they name."""
        return "admin" in self.scopes or scope in self.scopes


def parse_scopes(text: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = scopes - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(
            f"unknown scope(s): {', '.join(sorted(unknown)) or '(none given)'}; "
            f"choose from {', '.join(SCOPES)}"
        )
    return scopes


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(conn: sqlite3.Connection, name: str, scopes: frozenset[str]) -> tuple[int, str]:
    """Store a new key; return (id, token). The token is never stored."""
    if not name.strip():
        raise ValueError("a key needs a name")
    raw = base64.b32encode(secrets.token_bytes(32)).decode().rstrip("=").lower()
    token = TOKEN_PREFIX + raw
    cur = conn.execute(
        "INSERT INTO api_keys (name, token_hash, prefix, scopes, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (name.strip(), hash_token(token), token[:10], ",".join(sorted(scopes)), utcnow()),
    )
    return cur.lastrowid, token


def lookup(conn: sqlite3.Connection, token: str) -> ApiKey | None:
    row = conn.execute(
        "SELECT id, name, scopes FROM api_keys WHERE token_hash = ? AND revoked_at IS NULL",
        (hash_token(token),),
    ).fetchone()
    if row is None:
        return None
    return ApiKey(row["id"], row["name"], frozenset(row["scopes"].split(",")))


def touch(conn: sqlite3.Connection, key_id: int) -> None:
    conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (utcnow(), key_id))


def list_keys(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute(
        "SELECT id, name, prefix, scopes, created_at, last_used_at, revoked_at "
        "FROM api_keys ORDER BY id"
    ).fetchall()
    return [dict(r) for r in rows]


def revoke(conn: sqlite3.Connection, key_id: int) -> bool:
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        (utcnow(), key_id),
    )
    return cur.rowcount == 1
