"""Admin users with argon2id password hashes (bcrypt ones imported from the original v0.9
are checked too, and replaced by argon2id at the first login: see `needs_rehash`)."""

import asyncio
import re
import secrets
import sqlite3

from fazt.db.clock import utcnow

MIN_PASSWORD_LENGTH = 8
_HASHER = None


def _hasher():
    """argon2id with the library's current recommended parameters; imported at the first
    login or password change (an idle worker does not pay for it)."""
    from argon2 import PasswordHasher

    global _HASHER
    if _HASHER is None:
        _HASHER = PasswordHasher()
    return _HASHER


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher().hash(password)


# v0.9's bcrypt hashes: $2a$/$2b$/$2y$, a two-digit cost, 53 characters of salt and hash.
BCRYPT_HASH = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")


def verify_password(password_hash: str, password: str) -> bool:
    if BCRYPT_HASH.match(password_hash):
        return _verify_bcrypt(password_hash, password)

    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_bcrypt(password_hash: str, password: str) -> bool:
    import bcrypt  # only imported v0.9 hashes need it

    secret = password.encode()
    if len(secret) > 72 or b"\0" in secret:
        return False  # bcrypt reads at most 72 bytes; a longer secret was never set by v0.9
    return bcrypt.checkpw(secret, password_hash.encode())


def needs_rehash(password_hash: str) -> bool:
    """An imported bcrypt hash (replaced by argon2id once its password is known)."""
    return bool(BCRYPT_HASH.match(password_hash))


def rehash(password: str) -> str:
    """argon2id of a password already accepted (no length rule: v0.9 had none)."""
    return _hasher().hash(password)


def replace_hash(conn: sqlite3.Connection, user_id: int, old: str, new: str) -> None:
    """Store `new` for the user unless their hash changed meanwhile (a password reset)."""
    conn.execute(
        "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
        (new, user_id, old),
    )


class Busy(Exception):
    """No hashing slot freed up in time: answer 503 with Retry-After, do not queue."""


class PasswordChecker:
    """Verifies passwords in threads, at most `slots` at once. Each argon2 check costs
    ~50 ms of CPU and 64 MiB, so a burst of logins (from many addresses: each address is
    held to 5 attempts) is bounded instead of starving the server; a request that finds
    no free slot within `wait` seconds raises Busy."""

    def __init__(self, slots: int = 2, wait: float = 3.0) -> None:
        self._slots = asyncio.Semaphore(slots)
        self.wait = wait

    async def verify(self, password_hash: str, password: str) -> bool:
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait)
        except TimeoutError:
            raise Busy from None
        try:
            return await asyncio.to_thread(verify_password, password_hash, password)
        finally:
            self._slots.release()


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
