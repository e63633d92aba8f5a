"""Online, verified, atomically written snapshots of the live database, and restores.

How a snapshot stays consistent without blocking the writer: the source connection opens
a read transaction first and keeps it open while sqlite3's backup API copies the pages in
steps. In WAL mode a reader never blocks the writer (and the writer never blocks it), so
serving and writing continue; the copy is exactly the database as of the moment that read
transaction started. Row counts for the manifest are taken inside the same transaction.

A backup is `<name>.db` (journal_mode=DELETE: one self-contained file) with
`<name>.db.json` beside it: fazt version, schema version, UTC time, size, sha256, row
counts. Both are written to a temporary file in the same folder, fsynced, then renamed.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fazt import __version__
from fazt.backup import offloaded
from fazt.db import migrations
from fazt.db.clock import stamp
from fazt.db.connection import BUSY_TIMEOUT_MS
from fazt.paths import fazt_home

MANIFEST_SUFFIX = ".json"
STEP_PAGES = 4096  # 16 MB per step with 4 KB pages
# The tables a restore report names; any other table is counted too, under its own name.
MAIN_TABLES = {
    "sites": "apps",
    "deployments": "deployments",
    "api_keys": "API keys",
    "blobs": "blobs",
    "domains": "domains",
    "users": "users",
}
_NAME = re.compile(r"^fazt-(\d{8}T\d{6}(?:\d{6})?Z)-([a-z0-9-]+)\.db$")

Progress = Callable[[int, int], None]  # (pages copied, total pages)


class BackupError(RuntimeError):
    """A backup could not be made, verified or restored; nothing was changed."""


def default_backup_dir() -> Path:
    return fazt_home() / "backups"


def _utc_stamp() -> tuple[str, str]:
    now = datetime.now(UTC)
    return stamp(now), now.strftime("%Y%m%dT%H%M%S%fZ")  # stored, and for file names


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, value: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(value, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


@dataclass
class Verification:
    path: Path
    ok: bool
    problems: list[str] = field(default_factory=list)
    schema_version: int | None = None
    integrity: str | None = None
    sha256: str | None = None
    sha256_matches: bool | None = None  # None: no manifest to compare with
    counts: dict[str, int] = field(default_factory=dict)
    manifest: dict | None = None
    objects: dict | None = None  # blobs in object storage, checked (fazt.backup.offloaded)

    def as_dict(self) -> dict:
        return {
            "file": str(self.path),
            "ok": self.ok,
            "problems": self.problems,
            "schema_version": self.schema_version,
            "latest_schema_version": migrations.latest_version(),
            "integrity": self.integrity,
            "sha256": self.sha256,
            "sha256_matches_manifest": self.sha256_matches,
            "counts": self.counts,
            "manifest": self.manifest,
            "objects": self.objects,
        }


# -- create ----------------------------------------------------------------------------


def _compact(conn: sqlite3.Connection) -> None:
    """VACUUM the private copy when a quarter of it is free pages (blob bytes moved to
    object storage leave them behind): the backup then holds only what is in use."""
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    if free > conn.execute("PRAGMA page_count").fetchone()[0] // 4:
        conn.execute("VACUUM")


def create_snapshot(
    db_path: Path,
    to: Path | None = None,
    *,
    folder: Path | None = None,
    reason: str = "manual",
    progress: Progress | None = None,
    step_pages: int = STEP_PAGES,
) -> dict:
    """Snapshot db_path into `to` (a file, or an existing folder), else into `folder`
    (default $FAZT_HOME/backups/) under a name with the UTC time and the reason.

    Returns the manifest. Raises BackupError (leaving no partial file) on any failure.
    Safe to call while a server writes to the database; never holds a write lock.
    """
    db_path = Path(db_path).expanduser()
    if not db_path.exists():
        raise BackupError(f"no database at {db_path}")
    created_at, stamp = _utc_stamp()
    reason = re.sub(r"[^a-z0-9-]+", "-", reason.lower()).strip("-") or "manual"
    if to is None or Path(to).is_dir() or str(to).endswith("/"):
        folder = Path(to if to is not None else folder or default_backup_dir()).expanduser()
        target = folder / f"fazt-{stamp}-{reason}.db"
    else:
        target = Path(to).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise BackupError(f"{target} already exists")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    started = time.monotonic()
    try:
        src = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        try:
            src.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            src.execute("BEGIN")  # a read transaction: the snapshot point for every step
            counts = table_counts(src)  # starts the read; the copy sees exactly this state
            blobs = offloaded.describe(src)
            schema = migrations.current_version(src)
            dst = sqlite3.connect(tmp, isolation_level=None)
            try:
                src.backup(
                    dst,
                    pages=step_pages,
                    progress=(lambda _s, left, total: progress(total - left, total))
                    if progress
                    else None,
                )
                dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                _compact(dst)
            finally:
                dst.close()
            src.execute("COMMIT")
        finally:
            src.close()
        os.chmod(tmp, 0o600)
        _fsync_file(tmp)
        check = _check_database(tmp)
        if check.ok and check.counts != counts:
            check.problems.append("row counts of the copy differ from the source snapshot")
        if check.problems:
            raise BackupError("the new backup failed verification: " + "; ".join(check.problems))
        digest = sha256_file(tmp)
        manifest = {
            "file": target.name,
            "fazt_version": __version__,
            "schema_version": schema,
            "created_at": created_at,
            "reason": reason,
            "source": str(db_path),
            "size": tmp.stat().st_size,
            "sha256": digest,
            "counts": counts,
            "blobs": blobs,
            "seconds": round(time.monotonic() - started, 3),
        }
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        _write_json_atomic(manifest_path(target), manifest)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {db_path}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    manifest["path"] = str(target)
    return manifest


def backup_before(reason: str, db_path: Path, to: Path | None = None) -> dict | None:
    """A snapshot taken before something risky (an upgrade, a migration, a restore).

    Returns None for a database that does not exist or has no tables yet (nothing to
    lose). Raises BackupError when there is something to lose and it cannot be saved.
    """
    db_path = Path(db_path).expanduser()
    if not db_path.exists() or db_path.stat().st_size == 0:
        return None
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if migrations.current_version(conn) == 0:
            return None
    finally:
        conn.close()
    return create_snapshot(db_path, to, reason=f"before-{reason}")


def backup_if_migrations_pending(db_path: Path) -> dict | None:
    """Before `Database.open` migrates an existing database, snapshot it first."""
    db_path = Path(db_path).expanduser()
    if not db_path.exists() or db_path.stat().st_size == 0:
        return None
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        current = migrations.current_version(conn)
    finally:
        conn.close()
    if current == 0 or current >= migrations.latest_version():
        return None
    return create_snapshot(db_path, reason=f"before-migration-{current}")


# -- verify ----------------------------------------------------------------------------


def _check_database(path: Path) -> Verification:
    """Open read-only and check schema version, integrity and counts (no manifest)."""
    result = Verification(path=path, ok=False)
    try:
        with open(path, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                result.problems.append("not an SQLite database")
                return result
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            result.schema_version = migrations.current_version(conn)
            latest = migrations.latest_version()
            if result.schema_version == 0:
                result.problems.append("not a fazt database (no schema_migrations table)")
            elif result.schema_version > latest:
                result.problems.append(
                    f"schema version {result.schema_version} is newer than this fazt's "
                    f"({latest}): it was made by a newer fazt; upgrade fazt to restore it"
                )
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            result.integrity = "ok" if rows == ["ok"] else "; ".join(rows[:5])
            if result.integrity != "ok":
                result.problems.append(f"integrity check failed: {result.integrity}")
            result.counts = table_counts(conn)
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        result.problems.append(f"cannot read the database: {exc}")
    result.ok = not result.problems
    return result


def verify_snapshot(path: Path) -> Verification:
    """Integrity, schema version and sha256/row counts against the manifest beside it."""
    path = Path(path).expanduser()
    if not path.is_file():
        return Verification(path=path, ok=False, problems=[f"no file at {path}"])
    manifest = None
    mpath = manifest_path(path)
    manifest_problem = None
    if mpath.exists():
        try:
            manifest = json.loads(mpath.read_text())
        except (OSError, ValueError) as exc:
            manifest_problem = f"unreadable manifest {mpath.name}: {exc}"
    digest = sha256_file(path)
    # Check the hash before opening: SQLite must not even read a file that was altered.
    if manifest is not None and manifest.get("sha256") != digest:
        result = Verification(path=path, ok=False, sha256=digest, manifest=manifest)
        result.sha256_matches = False
        result.problems.append(
            "sha256 does not match the manifest: the file was changed or damaged after the "
            "backup was made"
        )
        check = _check_database(path)
        result.schema_version, result.integrity = check.schema_version, check.integrity
        result.problems.extend(p for p in check.problems if p not in result.problems)
        result.problems.sort(key=lambda p: not p.startswith("schema version"))
        return result
    result = _check_database(path)
    result.sha256, result.manifest = digest, manifest
    if manifest_problem:
        result.problems.append(manifest_problem)
    if manifest is not None:
        result.sha256_matches = True
        if result.integrity == "ok" and manifest.get("counts") not in (None, result.counts):
            result.problems.append("row counts differ from the manifest")
    if result.integrity == "ok":
        result.objects, missing = offloaded.check_objects(path)
        result.problems.extend(missing)
    result.ok = not result.problems
    return result


# -- list ------------------------------------------------------------------------------


def list_backups(folder: Path | None = None) -> list[dict]:
    """Backups in `folder` (default $FAZT_HOME/backups/), newest first, from manifests."""
    folder = Path(folder).expanduser() if folder else default_backup_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.db"):
        entry = {"path": str(path), "file": path.name, "size": path.stat().st_size}
        try:
            entry.update(json.loads(manifest_path(path).read_text()))
            entry["path"] = str(path)
        except (OSError, ValueError):
            match = _NAME.match(path.name)
            entry["reason"] = match.group(2) if match else None
            entry["created_at"] = stamp(datetime.fromtimestamp(path.stat().st_mtime, UTC))
            entry["manifest"] = False
        found.append(entry)
    found.sort(key=lambda e: e.get("created_at") or "", reverse=True)
    return found


def prune(folder: Path | None, keep: int, reason: str = "scheduled") -> list[Path]:
    """Delete all but the newest `keep` backups with this reason; returns what was deleted."""
    doomed = [e for e in list_backups(folder) if e.get("reason") == reason][keep:]
    removed = []
    for entry in doomed:
        path = Path(entry["path"])
        for p in (path, manifest_path(path)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        removed.append(path)
    return removed


# -- restore ---------------------------------------------------------------------------


def restore_snapshot(backup: Path, db_path: Path) -> dict:
    """Replace db_path with a verified copy of `backup`; the old file is kept aside.

    Order: verify (refuse: nothing changed) -> checkpoint the live WAL into the main file
    so the aside copy is complete -> copy the backup to a temp file beside the database,
    fsync -> hard-link the live file to `<db>.before-restore-<time>` -> remove the old
    -wal/-shm (a stale WAL must never be replayed onto the new file) -> atomic rename.
    """
    backup, db_path = Path(backup).expanduser(), Path(db_path).expanduser()
    check = verify_snapshot(backup)
    if not check.ok:
        raise BackupError(f"refusing to restore {backup}: " + "; ".join(check.problems))
    db_path.parent.mkdir(parents=True, exist_ok=True)
    aside = None
    _, stamp = _utc_stamp()
    wal, shm = Path(f"{db_path}-wal"), Path(f"{db_path}-shm")
    if db_path.exists():
        conn = sqlite3.connect(db_path, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        if busy:
            raise BackupError(
                f"{db_path} is busy (another process is writing to it): stop the server and "
                "try again"
            )
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{db_path.name}.", suffix=".restore", dir=db_path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(backup, tmp)
        os.chmod(tmp, 0o600)
        _fsync_file(tmp)
        if sha256_file(tmp) != check.sha256:
            raise BackupError("the copy of the backup does not match it (disk error?)")
        if db_path.exists():
            aside = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
            try:
                os.link(db_path, aside)
            except OSError:
                shutil.copy2(db_path, aside)
            if wal.exists() and wal.stat().st_size:
                raise BackupError(f"{wal} is not empty after a checkpoint: is a server writing?")
        for sidecar in (wal, shm):
            with contextlib.suppress(FileNotFoundError):
                sidecar.unlink()
        os.replace(tmp, db_path)
        _fsync_dir(db_path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if aside is not None and db_path.exists() and os.path.samefile(aside, db_path):
            with contextlib.suppress(OSError):
                aside.unlink()  # nothing was swapped: do not leave a pointless link
        raise
    return {
        "restored": str(backup),
        "database": str(db_path),
        "previous_database": str(aside) if aside else None,
        "schema_version": check.schema_version,
        "created_at": (check.manifest or {}).get("created_at"),
        "counts": check.counts,
        "summary": summarise_counts(check.counts),
    }


def summarise_counts(counts: dict[str, int]) -> dict[str, int]:
    """Named counts for people: apps, deployments, API keys, blobs, plus other tables."""
    summary = {label: counts[t] for t, label in MAIN_TABLES.items() if t in counts}
    skip = {*MAIN_TABLES, "schema_migrations", "settings", "deployment_files", "blob_variants"}
    skip.add("blob_chunks")  # pieces of big blobs: counted as their blobs
    summary.update({t: n for t, n in counts.items() if t not in skip})
    return summary
