"""API keys imported from the original v0.9, whose clients keep their tokens.

v0.9 stored only a bcrypt hash of each token (64 lower-case hex characters, no prefix).
`fazt migrate-v09` imports such a key as an ordinary admin key whose token hash is a
placeholder, with the bcrypt hash kept beside it. A presented token that finds no key and
has v0.9's shape is checked against those hashes; on a match the key is converted: its
token's SHA-256 is stored like any other key's and the bcrypt hash is dropped, so every
later request is the usual one indexed lookup. Until then a wrong v0.9-shaped token costs
a bcrypt check per unconverted key, which is why the caller counts the attempt against the
failure limit first and runs the checks through the bounded PasswordChecker.
"""

import re
import secrets
import sqlite3

from fazt.auth.passwords import BCRYPT_HASH
from fazt.auth.tokens import hash_token

V09_TOKEN = re.compile(r"^[0-9a-f]{64}$")
MAX_CHECKED = 20  # unconverted keys tried per token; v0.9 servers hold a handful
_PLACEHOLDER = "v0.9-bcrypt:"  # never a SHA-256 hex digest, so no token finds it


class NotABcryptHash(ValueError):
    """The imported key's hash is not bcrypt's; the key cannot be checked."""


def store(conn: sqlite3.Connection, name: str, bcrypt_hash: str, created_at: str) -> int:
    """Import one v0.9 key (admin scope: v0.9 keys could do everything); its id."""
    if not BCRYPT_HASH.match(bcrypt_hash):
        raise NotABcryptHash("not a bcrypt hash")
    cur = conn.execute(
        "INSERT INTO api_keys (name, token_hash, prefix, scopes, sites, created_at) "
        "VALUES (?, ?, 'v0.9 key', 'admin', NULL, ?)",
        (name, _PLACEHOLDER + secrets.token_hex(16), created_at),
    )
    conn.execute(
        "INSERT INTO legacy_key_hashes (key_id, bcrypt_hash) VALUES (?, ?)",
        (cur.lastrowid, bcrypt_hash),
    )
    return cur.lastrowid


def could_be_v09(token: str) -> bool:
    return bool(V09_TOKEN.match(token))


def candidates(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    """(key id, bcrypt hash) of the unconverted, unrevoked keys, oldest first."""
    return conn.execute(
        "SELECT l.key_id, l.bcrypt_hash FROM legacy_key_hashes l "
        "JOIN api_keys k ON k.id = l.key_id WHERE k.revoked_at IS NULL "
        "ORDER BY l.key_id LIMIT ?",
        (MAX_CHECKED,),
    ).fetchall()


def convert(conn: sqlite3.Connection, key_id: int, token: str) -> None:
    """The token matched this key's bcrypt hash: from now on it is found by its SHA-256."""
    conn.execute(
        "UPDATE api_keys SET token_hash = ? WHERE id = ? AND token_hash LIKE ?",
        (hash_token(token), key_id, _PLACEHOLDER + "%"),
    )
    conn.execute("DELETE FROM legacy_key_hashes WHERE key_id = ?", (key_id,))
