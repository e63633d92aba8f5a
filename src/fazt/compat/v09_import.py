"""`fazt migrate-v09`: a fazt v0.9 `data.db` imported into a new database, verified.

The old file is only read (compat.v09_source). The new database is built in a temporary
file beside the target, in one transaction, read back and compared with the old one
(compat.v09_verify), and only then linked into place, never over an existing file. On
any failure (bad input, a mismatch, a crash) the temporary file is removed and nothing
else has changed; a dry run does all of it and keeps nothing.
"""

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from fazt.compat import v09_admin, v09_appdata, v09_events, v09_links, v09_sites, v09_source
from fazt.compat.v09_context import Context
from fazt.compat.v09_report import Report
from fazt.compat.v09_verify import verify
from fazt.db import migrations
from fazt.db.connection import open_connection
from fazt.errors import FaztError

# In order: later kinds look up the sites and webhooks the earlier ones imported.
STEPS = (
    ("sites", v09_sites.import_sites),
    ("admin", v09_admin.import_admin),
    ("kv", v09_appdata.import_kv),
    ("documents", v09_appdata.import_documents),
    ("objects", v09_appdata.import_objects),
    ("env_vars", v09_appdata.import_env),
    ("api_keys", v09_admin.import_api_keys),
    ("redirects", v09_links.import_redirects),
    ("webhooks", v09_links.import_webhooks),
    ("events", v09_events.import_events),
)
# v0.9 tables that are not imported, and why (shown in the summary with their counts).
NOT_IMPORTED = {
    "deployments": "v0.9 kept no files per deployment: the import is each site's one deployment",
    "site_logs": "old log lines are not carried over",
    "configurations": "read for the admin login, domain and port (kind `admin`); the "
    "rest (HTTPS, ntfy) is set anew with fazt server set-config",
    "certificates": "this fazt obtains its certificates itself",
    "audit_logs": "v0.9's audit trail stays in the old file",
    "apps": "this fazt's apps are its sites (imported above)",
    "peers": "remote servers are a client's list: `fazt remote add` on your machine",
}


class MigrateError(FaztError):
    """The import cannot be done (the target exists) or did not verify."""


def run(
    source: Path,
    target: Path,
    *,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> Report:
    """Import `source` into a new database at `target`; the report (rep.verified)."""
    source, target = Path(source), Path(target).expanduser()
    if target.exists():
        raise MigrateError(
            "TARGET_EXISTS",
            f"{target} exists: the import makes a new database and never changes one in "
            "use. Pass --db NEW.db, or move the existing file away first.",
        )
    src = v09_source.open_source(source)
    rep = Report(str(source), str(target), dry_run)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.migrate-{os.getpid()}.tmp")
    try:
        _build(src, temp, rep, progress)
        if rep.mismatches:
            raise MigrateError(
                "VERIFY_FAILED",
                "the new database does not match the old one: " + "; ".join(rep.mismatches[:20]),
            )
        if not dry_run:
            _place(temp, target)
    except sqlite3.DatabaseError as exc:
        raise MigrateError("SOURCE_UNREADABLE", f"reading {source} failed: {exc}") from None
    finally:
        src.close()
        for leftover in (temp, *_companions(temp)):
            leftover.unlink(missing_ok=True)
    return rep


def _build(src: sqlite3.Connection, temp: Path, rep: Report, progress) -> None:
    """Import into `temp` in one transaction, then verify what was written to the file."""
    for stale in (temp, *_companions(temp)):  # left by a killed run with this pid
        stale.unlink(missing_ok=True)
    os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    ctx = Context(v09_source.setting(src, "server.domain"))
    dst = open_connection(temp)
    try:
        migrations.migrate(dst)
        dst.execute("BEGIN IMMEDIATE")
        for kind, step in STEPS:
            step(src, dst, rep, ctx)
            tally = rep.tally(kind)
            progress(
                f"{kind}: {tally.found} found, {tally.imported} imported, {tally.skipped} skipped"
            )
        dst.execute("COMMIT")
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        if dst.in_transaction:
            dst.execute("ROLLBACK")
        dst.close()
    _count_not_imported(src, rep)
    written = open_connection(temp, readonly=True)  # what is in the file, read afresh
    try:
        verify(src, written, rep, ctx)
    finally:
        written.close()
    progress("verified" if rep.verified else f"{len(rep.mismatches)} mismatch(es)")
    _fsync(temp)


def _count_not_imported(src: sqlite3.Connection, rep: Report) -> None:
    for table, why in NOT_IMPORTED.items():
        found = v09_source.count(src, table)
        if found:
            tally = rep.tally(table)
            tally.found = found
            tally.reasons[f"not imported: {why}"] = found


def _companions(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _place(temp: Path, target: Path) -> None:
    """Link the finished file into place, never over a file that appeared meanwhile."""
    try:
        os.link(temp, target)
    except FileExistsError:
        raise MigrateError("TARGET_EXISTS", f"{target} appeared during the import") from None
    except OSError:  # a filesystem without hard links
        if target.exists():
            raise MigrateError("TARGET_EXISTS", f"{target} appeared during the import") from None
        os.replace(temp, target)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
