"""A JS worker's storage write whose COMMIT fails does not keep the write lock."""

import sqlite3

import pytest

from fazt.db import Database
from fazt.runtime import worker


def _deferred_orphan(conn: sqlite3.Connection) -> None:
    # A deferred foreign key is checked at COMMIT: the COMMIT itself fails and SQLite
    # leaves the transaction open (a real failed COMMIT, as SQLITE_BUSY would be).
    conn.execute("INSERT INTO child (parent) VALUES (42)")


def test_a_failed_commit_is_rolled_back_and_frees_the_lock(tmp_path):
    path = tmp_path / "data.db"
    with Database.open(path):
        pass
    setup = sqlite3.connect(path)
    setup.executescript(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);"
    )
    setup.close()
    local = worker.LocalDB(str(path))
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        local.write_sync(_deferred_orphan)
    assert not local.conn.in_transaction  # rolled back, not left holding the lock
    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # "database is locked" while the lock is kept
        other.execute("INSERT INTO parent (id) VALUES (1)")
        other.execute("COMMIT")
    finally:
        other.close()
    assert local.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM child").fetchone()[0]) == 0
    # ...and the worker's own next write works.
    local.write_sync(lambda c: c.execute("INSERT INTO child (parent) VALUES (1)"))
    assert local.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM child").fetchone()[0]) == 1
