"""Reading a fazt v0.9 `data.db` (reference/server.md §7) read-only, as it is.

The file is opened with SQLite's `mode=ro`, so nothing can write to it, inside one read
transaction, so every table is read from one consistent snapshot even if an old server
still runs on it. Before anything is imported, the file must look like v0.9's: a SQLite
file with v0.9's tables and the columns the import reads.
"""

import sqlite3
from pathlib import Path

from fazt.errors import FaztError

SQLITE_MAGIC = b"SQLite format 3\x00"

# The tables the import reads and the columns it needs of each (v0.9 migrations 1-4).
REQUIRED = {
    "files": ("site_id", "path", "content", "hash"),
    "kv_store": ("site_id", "key", "value"),
    "env_vars": ("site_id", "name", "value"),
    "api_keys": ("id", "name", "key_hash"),
    "redirects": ("id", "slug", "destination", "tags", "click_count", "created_at"),
    "webhooks": ("id", "name", "endpoint", "secret", "is_active", "created_at"),
    "events": (
        "id",
        "domain",
        "tags",
        "source_type",
        "event_type",
        "path",
        "referrer",
        "user_agent",
        "ip_address",
        "query_params",
        "created_at",
    ),
}
# Later v0.9 tables (migration 10, fazt.storage): read when present.
OPTIONAL = {
    "app_kv": ("app_id", "key", "value", "expires_at"),
    "app_docs": ("app_id", "collection", "id", "data"),
    "app_blobs": ("app_id", "path", "data", "mime_type"),
    "configurations": ("key", "value"),
}
# Tables of this fazt: a file with these is a new database, not v0.9's.
THIS_FAZT = ("schema_migrations", "deployments", "blobs", "sites")


class SourceError(FaztError):
    """The old file cannot be read as a fazt v0.9 database."""


def open_source(path: Path) -> sqlite3.Connection:
    """A read-only connection on `path`, in a read transaction, its schema checked."""
    _check_header(path)
    uri = f"{path.resolve().as_uri()}?mode=ro"
    if not path.with_name(path.name + "-wal").exists():
        # No write-ahead log: no server has the file open in WAL mode, and every row is
        # in the file itself. Read it as immutable, or SQLite would create -wal and -shm
        # files beside it.
        uri += "&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("BEGIN")  # one snapshot for every table
        tables = _tables(conn)
    except sqlite3.DatabaseError as exc:
        raise SourceError("NOT_SQLITE", f"{path} cannot be read as SQLite: {exc}") from None
    try:
        _check_schema(path, conn, tables)
    except BaseException:
        conn.close()
        raise
    return conn


def _check_header(path: Path) -> None:
    if not path.is_file():
        raise SourceError("SOURCE_NOT_FOUND", f"{path} does not exist or is not a file")
    with path.open("rb") as f:
        magic = f.read(len(SQLITE_MAGIC))
    if magic != SQLITE_MAGIC:
        raise SourceError("NOT_SQLITE", f"{path} is not a SQLite database file")


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def _check_schema(path: Path, conn: sqlite3.Connection, tables: set[str]) -> None:
    if all(t in tables for t in THIS_FAZT):
        raise SourceError(
            "NOT_V09", f"{path} is a database of this fazt, not of v0.9: nothing to migrate"
        )
    missing = sorted(set(REQUIRED) - tables)
    if missing:
        raise SourceError(
            "NOT_V09",
            f"{path} is not a fazt v0.9 database: table(s) {', '.join(missing)} missing",
        )
    for table, columns in {**REQUIRED, **OPTIONAL}.items():
        if table not in tables:
            continue
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        lacking = [c for c in columns if c not in have]
        if lacking:
            raise SourceError(
                "NOT_V09",
                f"{path} is not a fazt v0.9 database: {table} has no column(s) "
                f"{', '.join(lacking)}",
            )


def has_table(conn: sqlite3.Connection, table: str) -> bool:
    return table in _tables(conn)


def count(conn: sqlite3.Connection, table: str) -> int:
    """Rows of an optional table (0 when it is absent)."""
    if not has_table(conn, table):
        return 0
    return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def setting(conn: sqlite3.Connection, key: str) -> str | None:
    """A value of v0.9's `configurations` table (server.domain, ...), if any."""
    if not has_table(conn, "configurations"):
        return None
    row = conn.execute("SELECT value FROM configurations WHERE key = ?", (key,)).fetchone()
    return row[0] if row and isinstance(row[0], str) else None
