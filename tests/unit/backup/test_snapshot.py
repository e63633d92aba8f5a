"""Online snapshots, verification, restore and pruning, against real database files."""

import hashlib
import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from fazt.backup import snapshot
from fazt.backup.service import parse_every, run_scheduled_if_due
from fazt.cli.common import open_db
from fazt.db import Database, migrations


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_db(path: Path, rows: int = 0, blob_kb: int = 0) -> Path:
    with Database.open(path) as db:
        db.write_sync(lambda c: c.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, v BLOB)"))
        if rows:
            payload = b"x" * (blob_kb * 1024)
            db.write_sync(
                lambda c: c.executemany(
                    "INSERT INTO probe (v) VALUES (?)", [(payload,) for _ in range(rows)]
                )
            )
    return path


def probe_ids(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM probe ORDER BY id")]
    finally:
        conn.close()


def test_snapshot_manifest_and_verify(tmp_path):
    db = make_db(tmp_path / "data.db", rows=10, blob_kb=1)
    m = snapshot.create_snapshot(db, folder=tmp_path / "backups", reason="manual")
    path = Path(m["path"])
    assert path.parent == tmp_path / "backups" and path.name.endswith("-manual.db")
    assert m["sha256"] == sha(path) and m["size"] == path.stat().st_size
    assert m["schema_version"] == migrations.latest_version()
    assert m["counts"]["probe"] == 10 and m["counts"]["schema_migrations"] >= 1
    assert json.loads(snapshot.manifest_path(path).read_text())["sha256"] == m["sha256"]
    assert path.stat().st_mode & 0o777 == 0o600
    # Self-contained: no WAL sidecars beside the backup, no temp files left.
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".json"]
    result = snapshot.verify_snapshot(path)
    assert result.ok and result.integrity == "ok" and result.sha256_matches is True
    assert [e["path"] for e in snapshot.list_backups(tmp_path / "backups")] == [str(path)]


def test_snapshot_during_writes_is_consistent_and_does_not_block_the_writer(tmp_path):
    path = make_db(tmp_path / "data.db", rows=400, blob_kb=32)  # ~13 MB: many backup steps
    db = Database.open(path)
    acked: list[int] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            acked.append(
                db.write_sync(lambda c: c.execute("INSERT INTO probe (v) VALUES (x'01')").lastrowid)
            )

    writer = threading.Thread(target=load)
    writer.start()
    try:
        snapshot_points: dict[str, int] = {}

        def progress(done: int, total: int) -> None:
            if "start" not in snapshot_points:
                snapshot_points["start"] = len(acked)
                # The writer must keep committing while the copy is in progress.
                deadline = time.monotonic() + 10
                while len(acked) < snapshot_points["start"] + 20:
                    assert time.monotonic() < deadline, "writer blocked by the backup"
                    time.sleep(0.001)
            snapshot_points["end"] = len(acked)

        before = len(acked)
        m = snapshot.create_snapshot(path, folder=tmp_path / "b", progress=progress, step_pages=64)
    finally:
        stop.set()
        writer.join()
        db.close()
    ids = probe_ids(Path(m["path"]))
    assert ids == list(range(1, len(ids) + 1))  # a prefix of the commits: no holes
    assert len(ids) == m["counts"]["probe"]
    assert len(ids) >= 400 + before  # everything acknowledged before the backup began
    assert len(ids) < 400 + snapshot_points["end"]  # nothing committed during the copy
    assert snapshot.verify_snapshot(Path(m["path"])).ok


def test_restore_brings_back_exactly_the_snapshot(tmp_path):
    path = make_db(tmp_path / "data.db", rows=5, blob_kb=1)
    m = snapshot.create_snapshot(path, folder=tmp_path / "b")
    with Database.open(path) as db:
        db.write_sync(lambda c: c.execute("INSERT INTO probe (v) VALUES ('later')"))
    assert len(probe_ids(path)) == 6
    report = snapshot.restore_snapshot(Path(m["path"]), path)
    assert probe_ids(path) == [1, 2, 3, 4, 5]
    assert report["counts"]["probe"] == 5 and report["summary"]["probe"] == 5
    aside = Path(report["previous_database"])
    assert aside.name.startswith("data.db.before-restore-") and len(probe_ids(aside)) == 6
    with Database.open(path) as db:  # the restored file opens and migrates cleanly
        assert db.read_sync(migrations.current_version) == migrations.latest_version()


def _refused_unchanged(tmp_path, bad: Path, expect: str) -> None:
    live = tmp_path / "data.db"
    before = sha(live)
    files_before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(snapshot.BackupError, match=expect):
        snapshot.restore_snapshot(bad, live)
    assert sha(live) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before


def test_corrupt_backup_is_refused_and_nothing_changes(tmp_path):
    live = make_db(tmp_path / "data.db", rows=50, blob_kb=4)
    m = snapshot.create_snapshot(live, folder=tmp_path / "b")
    bad = Path(m["path"])
    data = bytearray(bad.read_bytes())
    for offset in range(20_000, 20_064):
        data[offset] ^= 0xFF
    bad.write_bytes(bytes(data))
    result = snapshot.verify_snapshot(bad)
    assert not result.ok and result.sha256_matches is False
    _refused_unchanged(tmp_path, bad, "sha256 does not match")
    # Without its manifest, the damage is still caught by SQLite's integrity check.
    snapshot.manifest_path(bad).unlink()
    wrecked = bytearray(bad.read_bytes())
    wrecked[4096 : 4096 * 3] = b"\xff" * 8192  # trash b-tree pages outright
    bad.write_bytes(bytes(wrecked))
    assert not snapshot.verify_snapshot(bad).ok
    _refused_unchanged(tmp_path, bad, "refusing")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    _refused_unchanged(tmp_path, junk, "not an SQLite database")


def test_newer_schema_backup_is_refused_and_nothing_changes(tmp_path):
    live = make_db(tmp_path / "data.db", rows=3)
    m = snapshot.create_snapshot(live, folder=tmp_path / "b")
    newer = tmp_path / "b" / "newer.db"
    shutil.copyfile(m["path"], newer)
    conn = sqlite3.connect(newer)
    with conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'x', 'now')"
        )
    conn.close()
    # A matching manifest, so only the schema version is wrong.
    manifest = {**m, "sha256": sha(newer), "schema_version": 999, "counts": None}
    snapshot.manifest_path(newer).write_text(json.dumps(manifest))
    result = snapshot.verify_snapshot(newer)
    assert not result.ok and result.schema_version == 999
    _refused_unchanged(tmp_path, newer, "newer than this fazt")


def test_restore_handles_wal_and_removes_stale_sidecars(tmp_path):
    """The live DB has commits only in its -wal (as after a crash): the restore checkpoints
    them into the copy kept aside, and no stale -wal/-shm is left to be replayed onto the
    restored file."""
    src = make_db(tmp_path / "src.db", rows=2)
    m = snapshot.create_snapshot(src, folder=tmp_path / "b")
    crashed = tmp_path / "crash"
    crashed.mkdir()
    conn = sqlite3.connect(src, isolation_level=None)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.executemany("INSERT INTO probe (v) VALUES (?)", [(b"w" * 2000,) for _ in range(30)])
    assert Path(f"{src}-wal").stat().st_size > 0
    for suffix in ("", "-wal"):  # copy while open: the commits live only in the WAL
        shutil.copyfile(f"{src}{suffix}", crashed / f"data.db{suffix}")
    conn.close()
    live = crashed / "data.db"
    report = snapshot.restore_snapshot(Path(m["path"]), live)
    assert not Path(f"{live}-wal").exists() and not Path(f"{live}-shm").exists()
    assert probe_ids(live) == [1, 2]
    aside = Path(report["previous_database"])
    assert not Path(f"{aside}-wal").exists()  # its WAL was checkpointed in, not left behind
    assert len(probe_ids(aside)) == 32
    ok = sqlite3.connect(live)
    assert ok.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ok.close()


def test_backup_before_and_migration_backup(tmp_path, monkeypatch):
    monkeypatch.setenv("FAZT_HOME", str(tmp_path / "home"))
    assert snapshot.backup_before("upgrade", tmp_path / "missing.db") is None
    live = make_db(tmp_path / "data.db", rows=1)
    m = snapshot.backup_before("upgrade", live)
    assert m["reason"] == "before-upgrade"
    assert Path(m["path"]).parent == tmp_path / "home" / "backups"
    assert snapshot.backup_if_migrations_pending(live) is None  # up to date
    conn = sqlite3.connect(live)
    with conn:
        conn.execute("DELETE FROM schema_migrations WHERE version > 1")
    conn.close()
    if migrations.latest_version() > 1:
        pending = snapshot.backup_if_migrations_pending(live)
        assert pending["reason"] == "before-migration-1"


def test_schedule_and_prune(tmp_path):
    live = make_db(tmp_path / "data.db")
    values = {"backup_every": "", "backup_keep": "2", "backup_dir": str(tmp_path / "s")}
    assert run_scheduled_if_due(live, values) is None  # off
    values["backup_every"] = "1h"
    first = run_scheduled_if_due(live, values)
    assert first is not None
    assert run_scheduled_if_due(live, values) is None  # not due again for an hour
    values["backup_every"] = "1s"
    made = [first]
    deadline = time.monotonic() + 10
    while len(made) < 4 and time.monotonic() < deadline:
        m = run_scheduled_if_due(live, values)
        if m:
            made.append(m)
        time.sleep(0.05)
    assert len(made) == 4
    kept = snapshot.list_backups(tmp_path / "s")
    assert [e["path"] for e in kept] == [made[3]["path"], made[2]["path"]]
    manual = snapshot.create_snapshot(live, folder=tmp_path / "s")
    assert snapshot.prune(tmp_path / "s", 2) == []  # manual backups are never pruned
    assert Path(manual["path"]).exists()


def test_parse_every():
    assert (
        parse_every("24h") == 86400 and parse_every("30m") == 1800 and parse_every("7d") == 604800
    )
    for bad in ("", "0h", "h", "1w", "-1h"):
        with pytest.raises(ValueError):
            parse_every(bad)


def test_opening_backs_up_before_migrating(tmp_path, monkeypatch):
    if migrations.latest_version() < 2:
        pytest.skip("only one migration exists: nothing to migrate from")
    monkeypatch.setenv("FAZT_HOME", str(tmp_path / "home"))
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old, isolation_level=None)
    version, name, sql = migrations.available()[0]  # a database from a fazt at schema 1
    conn.executescript(sql)
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 'then')",
        (version, name),
    )
    conn.close()
    with open_db(old) as db:  # what every CLI command uses
        assert db.read_sync(migrations.current_version) == migrations.latest_version()
    saved = snapshot.list_backups(tmp_path / "home" / "backups")
    assert [e["reason"] for e in saved] == [f"before-migration-{version}"]
    assert saved[0]["schema_version"] == version
    with open_db(old):  # up to date now: no second backup
        pass
    assert len(snapshot.list_backups(tmp_path / "home" / "backups")) == 1
