"""Numbered SQL migrations (migrations/NNN_name.sql), each run in one transaction."""

import re
import sqlite3
from pathlib import Path

from fazt.db.clock import utcnow

_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer fazt than this one."""


def available() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration shipped in the package, in order."""
    found = []
    # beside this file, not through importlib.resources (it imports zipfile: idle memory)
    for entry in (Path(__file__).parent / "migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text("utf-8")))
    return sorted(found)


def latest_version() -> int:
    return available()[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
    ).fetchone()
    if row is None:
        return 0
    return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]


def _applied_versions(conn: sqlite3.Connection) -> set[int]:
    if current_version(conn) == 0:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def migrate(conn: sqlite3.Connection, before: int | None = None) -> list[str]:
    """Apply pending migrations; refuse a database newer than this program. With
    `before`, only those numbered below it (a database as an older fazt left it)."""
    current = current_version(conn)
    newest = latest_version()
    if current > newest:
        raise SchemaTooNewError(
            f"this database has schema version {current}, but this fazt only knows up to "
            f"{newest}: it was written by a newer fazt. Upgrade fazt, or point --db at "
            "another file."
        )
    done = _applied_versions(conn)
    applied = []
    for version, name, sql in available():
        # Any number not applied yet runs, not only those above the newest: migrations
        # written side by side may land in either order.
        if version in done or (before is not None and version >= before):
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, utcnow()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
