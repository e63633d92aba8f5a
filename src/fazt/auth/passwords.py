"""Admin users with argon2id password hashes."""

import secrets
import sqlite3

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fazt.db.connection import utcnow

MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_credentials(conn: sqlite3.Connection, username: str, password_hash: str) -> None:
    """Create or replace the single admin user."""
    now = utcnow()
    row = conn.execute("SELECT id FROM users ORDER BY id LIMIT 1").fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO users (username, password_hash, created_at, updated_at) "
            "VALUES (?, ?, ?, ?)",
            (username, password_hash, now, now),
        )
    else:
        conn.execute(
            "UPDATE users SET username = ?, password_hash = ?, updated_at = ? WHERE id = ?",
            (username, password_hash, now, row[0]),
        )


def admin_username(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT username FROM users ORDER BY id LIMIT 1").fetchone()
    return row[0] if row else None
