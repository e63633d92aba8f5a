"""The CLI's own list of servers ("peers") with their tokens, in $FAZT_HOME/client.db.

The file is created mode 0600: it holds tokens in the clear, because a client must be
able to present them. The server side never stores a token, only its hash.
"""

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from fazt.db.connection import utcnow
from fazt.paths import client_db_path

LOCAL_PEER = "local"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS peers (
  name       TEXT PRIMARY KEY,
  url        TEXT NOT NULL,
  token      TEXT NOT NULL,
  is_default INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Peer:
    name: str
    url: str
    token: str


def _connect(path: Path | None = None) -> sqlite3.Connection:
    path = path or client_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute(_SCHEMA)
    return conn


def save(name: str, url: str, token: str, *, make_default: bool = False) -> None:
    with _connect() as conn:
        has_default = conn.execute("SELECT 1 FROM peers WHERE is_default = 1").fetchone()
        if make_default or not has_default:
            conn.execute("UPDATE peers SET is_default = 0")
            make_default = True
        conn.execute(
            "INSERT INTO peers (name, url, token, is_default, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET url = excluded.url, token = excluded.token,"
            " is_default = MAX(peers.is_default, excluded.is_default)",
            (name, url.rstrip("/"), token, int(make_default), utcnow()),
        )
    conn.close()


def _one(query: str, args: tuple) -> Peer | None:
    if not client_db_path().exists():
        return None
    conn = _connect()
    try:
        row = conn.execute(query, args).fetchone()
    finally:
        conn.close()
    return Peer(row["name"], row["url"], row["token"]) if row else None


def find(name: str | None = None) -> Peer | None:
    """The named peer, or the default one."""
    if name:
        return _one("SELECT * FROM peers WHERE name = ?", (name,))
    return _one(
        "SELECT * FROM peers ORDER BY is_default DESC, name = ? DESC LIMIT 1", (LOCAL_PEER,)
    )


def find_by_url(url: str) -> Peer | None:
    return _one("SELECT * FROM peers WHERE url = ?", (url.rstrip("/"),))
