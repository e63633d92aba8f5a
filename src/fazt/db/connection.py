"""Opening SQLite connections with the pragmas fazt relies on."""

import sqlite3
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000


def open_connection(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a connection in autocommit mode; transactions are explicit (BEGIN IMMEDIATE)."""
    if readonly:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn
