"""Reading an object's or a blob's metadata never reads its bytes.

A row keeps `data` before size, sha256, mime, location...: SQLite reads a row's columns in
order, so a lookup of those walked every overflow page of the bytes (~40 ms for a 9 MiB
object, on every piece of a ranged read). Migration 021's indexes hold the metadata; each
query here must be answered from one of them. The queries are the ones the functions run
(traced), not copies of them."""

import sqlite3

import pytest

from fazt.hosting import blob_fetch, blob_read
from fazt.storage import objects
from fazt.storage.scope import UserScope

TABLES = ("app_objects", "user_objects", "blobs")
BIG = bytes(range(256)) * (2 * 1024 * 1024 // 256)  # 2 MiB: hundreds of overflow pages


def traced(conn: sqlite3.Connection, action) -> list[str]:
    """The SQL `action(conn)` ran, with its parameters in place."""
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        action(conn)
    finally:
        conn.set_trace_callback(None)
    return seen


def metadata_reads(statements: list[str]) -> list[str]:
    """The SELECTs on the tables above that do not ask for the bytes themselves."""
    return [
        sql
        for sql in statements
        if sql.lstrip().upper().startswith("SELECT")
        and any(table in sql for table in TABLES)
        and "data" not in sql.split("FROM", 1)[0]
    ]


def plan(conn: sqlite3.Connection, sql: str) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]


@pytest.fixture
def conn(db):
    db.write_sync(objects.put, "app1", "big.bin", BIG, "application/octet-stream")
    db.write_sync(
        lambda c: c.execute(
            "INSERT INTO app_users (app, id, provider, role, created_at, last_login_at) "
            "VALUES ('app1', 'u1', 'test', 'user', 'now', 'now')"
        )
    )
    db.write_sync(objects.put, UserScope("app1", "u1"), "mine.bin", BIG, None)
    db.write_sync(
        lambda c: c.execute(
            "INSERT INTO blobs (sha256, size, data, created_at) VALUES (?, ?, ?, 'now')",
            ("b" * 64, len(BIG), BIG),
        )
    )
    connection = sqlite3.connect(db.path)
    connection.row_factory = sqlite3.Row
    yield connection
    connection.close()


def test_metadata_lookups_are_answered_from_an_index(conn):
    connection = conn
    sha = connection.execute("SELECT sha256 FROM app_objects WHERE path = 'big.bin'").fetchone()[0]
    user = UserScope("app1", "u1")
    actions = {
        "stat": lambda c: objects.stat(c, "app1", "big.bin"),
        "read_part": lambda c: objects.read_part(c, "app1", "big.bin", sha, 0, 10),
        "list": lambda c: objects.list_objects(c, "app1"),
        "list (visitor)": lambda c: objects.list_objects(c, user),
        "totals": lambda c: objects.totals(c, "app1"),
        "totals (visitor)": lambda c: objects.totals(c, user),
        "a blob's piece": lambda c: list(blob_read.iter_blob(c, "b" * 64, 0, 10)),
        "offloaded?": lambda c: blob_fetch.offloaded(c, "b" * 64),
    }
    for name, action in actions.items():
        reads = metadata_reads(traced(connection, action))
        assert reads, f"{name}: no metadata query seen"
        for sql in reads:
            steps = [s for s in plan(connection, sql) if any(t in s for t in TABLES)]
            assert steps and all("COVERING INDEX" in s for s in steps), (name, sql, steps)
