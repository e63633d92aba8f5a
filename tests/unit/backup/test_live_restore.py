"""Restoring into an open database: the backup's pages copied on the writer thread."""

from pathlib import Path

import pytest

from fazt.backup import live_restore, snapshot
from fazt.backup.snapshot import BackupError
from fazt.db import Database, settings


def history_limit(conn) -> str:
    return settings.get(conn, "history_limit")


def test_copy_into_replaces_the_data_readers_see_and_writes_go_on(tmp_path: Path):
    with Database.open(tmp_path / "data.db") as db:
        db.write_sync(settings.put, "history_limit", "5")
        made = snapshot.create_snapshot(db.path, folder=tmp_path / "backups")
        db.write_sync(settings.put, "history_limit", "9")
        assert db.read_sync(history_limit) == "9"  # a reader connection, opened before

        report = live_restore.check(Path(made["path"]))
        assert report["file"] == Path(made["path"]).name and report["schema_version"]
        db.write_sync(live_restore.copy_into, Path(made["path"]))

        assert db.read_sync(history_limit) == "5"
        db.write_sync(settings.put, "history_limit", "7")  # the writer still works
        assert db.read_sync(history_limit) == "7"
    assert snapshot.verify_snapshot(tmp_path / "data.db").ok


def test_a_damaged_backup_is_refused_before_anything_changes(tmp_path: Path):
    with Database.open(tmp_path / "data.db") as db:
        made = snapshot.create_snapshot(db.path, folder=tmp_path / "backups")
        with open(made["path"], "r+b") as f:
            f.seek(200)
            f.write(b"\xff" * 32)
        with pytest.raises(BackupError, match="refusing to restore"):
            live_restore.check(Path(made["path"]))
