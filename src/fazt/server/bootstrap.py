"""First-run initialisation: settings, the admin user and the local CLI's key."""

import sqlite3
from dataclasses import dataclass

from fazt.auth import passwords, tokens
from fazt.db import settings
from fazt.hosting import seeding

LOCAL_KEY_NAME = tokens.LOCAL_KEY_NAME


@dataclass(frozen=True)
class Initialised:
    username: str
    password: str | None  # the generated password, shown once; None if the caller chose it
    local_token: str


def initialise(
    conn: sqlite3.Connection,
    *,
    domain: str,
    port: int,
    username: str = "admin",
    password: str | None = None,
) -> Initialised:
    """Set up an empty database (runs inside one writer transaction)."""
    if settings.is_initialised(conn):
        raise RuntimeError("this database is already initialised")
    generated = password is None
    password = password or passwords.generate_password()
    settings.put(conn, "domain", domain)
    settings.put(conn, "port", str(port))
    passwords.set_credentials(conn, username, passwords.hash_password(password))
    # The local CLI gets an admin key so `fazt deploy` and `fazt app ...` work on this
    # machine with no flags; it is only ever stored hashed here.
    _, token = tokens.create_key(conn, LOCAL_KEY_NAME, frozenset({"admin"}))
    seeding.seed(conn)
    return Initialised(username, password if generated else None, token)
