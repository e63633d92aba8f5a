"""The CLI's own list of servers ("peers") with their tokens, in $FAZT_HOME/client.db.

The file is created mode 0600: it holds tokens in the clear, because a client must be
able to present them. The server side never stores a token, only its hash.
"""

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fazt.db.clock import utcnow
from fazt.paths import client_db_path

LOCAL_PEER = "local"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS peers (
  name       TEXT PRIMARY KEY,
  url        TEXT NOT NULL,
  token      TEXT NOT NULL,
  is_default INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
)
"""


class PeerError(ValueError):
    """A peer name, URL or lookup that cannot be used; the message says why."""


@dataclass(frozen=True)
class Peer:
    name: str
    url: str
    token: str
    is_default: bool = False
    created_at: str | None = None

    def public(self) -> dict:
        """The peer without its token, for listings."""
        return {
            "name": self.name,
            "url": self.url,
            "default": self.is_default,
            "created_at": self.created_at,
        }


def validate_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise PeerError(
            f"invalid peer name {name!r}: use 1-63 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def normalise_url(raw: str) -> str:
    """`https://Admin.Example.com/` -> `https://admin.example.com`; no scheme means https."""
    text = (raw or "").strip()
    if not text:
        raise PeerError("the URL is empty")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise PeerError(f"invalid URL {raw!r}: only http:// and https:// are supported")
    try:
        port = parts.port
    except ValueError:
        raise PeerError(f"invalid URL {raw!r}: bad port") from None
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        raise PeerError(f"invalid URL {raw!r}: expected scheme://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise PeerError(
            f"invalid URL {raw!r}: give the server's root (e.g. https://admin.example.com), "
            "without a path"
        )
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def _connect(path: Path | None = None) -> sqlite3.Connection:
    path = path or client_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute(_SCHEMA)
    return conn


def _peer(row: sqlite3.Row) -> Peer:
    return Peer(row["name"], row["url"], row["token"], bool(row["is_default"]), row["created_at"])


def save(name: str, url: str, token: str, *, make_default: bool = False) -> None:
    """Insert or update a peer; the first peer saved becomes the default."""
    conn = _connect()
    try:
        with conn:
            has_default = conn.execute("SELECT 1 FROM peers WHERE is_default = 1").fetchone()
            if make_default or not has_default:
                conn.execute("UPDATE peers SET is_default = 0")
                make_default = True
            conn.execute(
                "INSERT INTO peers (name, url, token, is_default, created_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET url = excluded.url, token = excluded.token,"
                " is_default = MAX(peers.is_default, excluded.is_default)",
                (name, url.rstrip("/"), token, int(make_default), utcnow()),
            )
    finally:
        conn.close()


def _query(query: str, args: tuple = ()) -> list[Peer]:
    if not client_db_path().exists():
        return []
    conn = _connect()
    try:
        return [_peer(row) for row in conn.execute(query, args)]
    finally:
        conn.close()


def _one(query: str, args: tuple) -> Peer | None:
    found = _query(query, args)
    return found[0] if found else None


def find(name: str | None = None) -> Peer | None:
    """The named peer, or the default one (else `local`, else the first by name)."""
    if name:
        return _one("SELECT * FROM peers WHERE name = ?", (name,))
    return _one(
        "SELECT * FROM peers ORDER BY is_default DESC, name = ? DESC, name LIMIT 1",
        (LOCAL_PEER,),
    )


def find_by_url(url: str) -> Peer | None:
    return _one("SELECT * FROM peers WHERE url = ?", (url.rstrip("/"),))


def list_all() -> list[Peer]:
    return _query("SELECT * FROM peers ORDER BY name")


def resolve(name: str | None) -> Peer:
    """The peer a `fazt remote` command means: the named one, or the default one."""
    if name:
        peer = find(name)
        if peer is None:
            known = ", ".join(p.name for p in list_all()) or "none"
            raise PeerError(f"no peer named '{name}' (known peers: {known})")
        return peer
    peer = find()
    if peer is None:
        raise PeerError(
            "no peers configured: add one with `fazt remote add NAME --url URL --token T` "
            "(or start a local server with `fazt server start`)"
        )
    return peer


def remove(name: str) -> bool:
    """Delete a peer; False if there was none by that name."""
    conn = _connect()
    try:
        with conn:
            return conn.execute("DELETE FROM peers WHERE name = ?", (name,)).rowcount > 0
    finally:
        conn.close()


def set_default(name: str) -> bool:
    """Make `name` the default peer (in one transaction); False if it does not exist."""
    conn = _connect()
    try:
        with conn:
            if not conn.execute("SELECT 1 FROM peers WHERE name = ?", (name,)).fetchone():
                return False
            conn.execute("UPDATE peers SET is_default = (name = ?)", (name,))
            return True
    finally:
        conn.close()
