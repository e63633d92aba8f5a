"""Keys and passwords imported from v0.9: bcrypt checked once, then this fazt's own hash."""

import hashlib
import sqlite3

import bcrypt
import pytest

from fazt.auth import legacy_keys, passwords, tokens
from fazt.db import migrations

TOKEN = hashlib.sha256(b"a v0.9 token").hexdigest()


def v09_hash(secret: str, cost: int = 4) -> str:
    return bcrypt.hashpw(secret.encode(), bcrypt.gensalt(cost)).decode().replace("$2b$", "$2a$")


@pytest.fixture
def conn():
    c = sqlite3.connect(":memory:", isolation_level=None)
    c.row_factory = sqlite3.Row
    c.execute("PRAGMA foreign_keys = ON")
    migrations.migrate(c)
    yield c
    c.close()


def test_an_imported_key_is_found_only_after_conversion(conn):
    key_id = legacy_keys.store(conn, "laptop", v09_hash(TOKEN), "2026-01-01T00:00:00Z")
    assert tokens.lookup(conn, TOKEN) is None  # the placeholder matches no token
    [(found_id, found_hash)] = legacy_keys.candidates(conn)
    assert found_id == key_id and passwords.verify_password(found_hash, TOKEN)
    legacy_keys.convert(conn, key_id, TOKEN)
    key = tokens.lookup(conn, TOKEN)
    assert key is not None and key.id == key_id and key.allows("admin")
    assert legacy_keys.candidates(conn) == []


def test_revoked_keys_are_not_candidates(conn):
    key_id = legacy_keys.store(conn, "old", v09_hash(TOKEN), "2026-01-01T00:00:00Z")
    tokens.revoke(conn, key_id)
    assert legacy_keys.candidates(conn) == []


def test_a_hash_that_is_not_bcrypt_is_refused_and_nothing_stored(conn):
    for bad in ("", "plain", "$argon2id$v=19$m=65536,t=3,p=4$abc$def", "$2a$99$" + "a" * 53):
        with pytest.raises(legacy_keys.NotABcryptHash):
            legacy_keys.store(conn, "x", bad, "2026-01-01T00:00:00Z")
    assert conn.execute("SELECT COUNT(*) FROM api_keys").fetchone()[0] == 0


def test_only_v09_shaped_tokens_are_checked_against_bcrypt():
    assert legacy_keys.could_be_v09(TOKEN)
    for other in (TOKEN.upper(), TOKEN[:-1], TOKEN + "0", "fazt_" + TOKEN[:52], ""):
        assert not legacy_keys.could_be_v09(other)


def test_bcrypt_passwords_verify_and_ask_for_a_rehash():
    stored = v09_hash("correct horse")
    assert passwords.verify_password(stored, "correct horse")
    assert not passwords.verify_password(stored, "correct horsf")
    assert not passwords.verify_password(stored, "x" * 73)  # beyond bcrypt's 72 bytes
    assert not passwords.verify_password(stored, "correct\0horse")
    assert passwords.needs_rehash(stored)
    fresh = passwords.rehash("short")  # v0.9 had no length rule: an accepted one is kept
    assert fresh.startswith("$argon2id$") and not passwords.needs_rehash(fresh)
    assert passwords.verify_password(fresh, "short")


def test_replace_hash_keeps_a_password_changed_meanwhile(conn):
    passwords.set_credentials(conn, "owner", v09_hash("pw"))
    user_id, old = conn.execute("SELECT id, password_hash FROM users").fetchone()
    passwords.set_credentials(conn, "owner", passwords.hash_password("a new one!"))
    passwords.replace_hash(conn, user_id, old, passwords.rehash("pw"))
    (now,) = conn.execute("SELECT password_hash FROM users").fetchone()
    assert passwords.verify_password(now, "a new one!")
