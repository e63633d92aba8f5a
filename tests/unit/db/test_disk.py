"""SQLite's disk errors become one clear error each (fazt.db.disk), and the writer survives
them (issue 23, item 2)."""

import os
import re
import sqlite3

import pytest

from fazt.db import Database, disk
from fazt.errors import FaztError
from tests.tmpfs import fill, small_tmpfs

MB = 1024 * 1024


def test_a_full_disk_is_insufficient_storage_and_the_writer_goes_on():
    with small_tmpfs(16) as where, Database.open(where / "data.db") as db:
        db.write_sync(lambda c: c.execute("CREATE TABLE t (x BLOB)"))
        filler = fill(where, leave_bytes=3 * MB)
        stored = 0
        with pytest.raises(disk.DiskError) as refused:
            for _ in range(20):
                db.write_sync(lambda c: c.execute("INSERT INTO t VALUES (?)", (os.urandom(MB),)))
                stored += 1
        error = refused.value
        # Not "cannot rollback - no transaction is active": the real cause, in words.
        assert error.code == "INSUFFICIENT_STORAGE"
        assert re.match(r"the disk holding the database is full \(\d+ MB free\)", error.message)
        assert isinstance(error, FaztError) and isinstance(error, sqlite3.OperationalError)
        assert stored < 20
        filler.unlink()
        # The writer still works, and nothing of the failed write is there.
        db.write_sync(lambda c: c.execute("INSERT INTO t VALUES (x'00')"))
        count = db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM t").fetchone()[0])
        assert count == stored + 1
        check = db.read_sync(lambda c: c.execute("PRAGMA integrity_check").fetchone()[0])
        assert check == "ok"


def test_a_read_only_database_is_read_only_storage(tmp_path):
    path = tmp_path / "data.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as raised:
        ro.execute("INSERT INTO t VALUES (1)")
    ro.close()
    error = disk.translate(raised.value, path)
    assert error is not None and error.code == "READ_ONLY_STORAGE"
    assert "mounted read-only" in error.message and error.__cause__ is raised.value


def test_io_errors_and_other_errors():
    io = sqlite3.OperationalError("disk I/O error")
    io.sqlite_errorcode = 10 | (3 << 8)  # SQLITE_IOERR_WRITE, an extended code
    error = disk.translate(io, disk.Path("/nonexistent/data.db"))
    assert error.code == "STORAGE_IO_ERROR" and "dmesg" in error.message
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 5
    assert disk.translate(busy, disk.Path("/x")) is None
    assert disk.translate(sqlite3.IntegrityError("UNIQUE"), disk.Path("/x")) is None
