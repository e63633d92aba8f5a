"""Restoring a backup into the database a running server has open.

`restore_snapshot` swaps the file on disk, which is only safe on a stopped server: a
running one keeps writing to the old file, and when its last connection closes SQLite
deletes `<db>-wal` by name, which by then is the new file's. Here the backup is copied
*into* the open database instead, page by page, with SQLite's backup API on the writer
thread's own connection: one transaction, no other write in between, readers see the old
data until it commits and the restored data after. The caller then hands the server over
to a fresh worker (`web.handover.request_reload`), which migrates the restored schema if
it is older and rebuilds every cache from it.
"""

import sqlite3
from pathlib import Path

from fazt.backup.snapshot import BackupError, summarise_counts, verify_snapshot


def check(backup: Path) -> dict:
    """Verify `backup` for a restore; BackupError (nothing changed) when it may not be."""
    found = verify_snapshot(backup)
    if not found.ok:
        raise BackupError(f"refusing to restore {Path(backup).name}: " + "; ".join(found.problems))
    return {
        "file": Path(backup).name,
        "schema_version": found.schema_version,
        "created_at": (found.manifest or {}).get("created_at"),
        "summary": summarise_counts(found.counts),
    }


def copy_into(conn: sqlite3.Connection, backup: Path) -> None:
    """Replace every page of `conn`'s database with the backup's (a Database.write job).

    The writer loop has opened a transaction, and the backup API needs the destination
    outside one: end it (nothing was written in it), copy, and open one again for the
    loop's COMMIT.
    """
    conn.execute("COMMIT")
    try:
        source = sqlite3.connect(f"{Path(backup).resolve().as_uri()}?mode=ro", uri=True)
        try:
            source.backup(conn)  # all pages in one step: one transaction on the destination
        finally:
            source.close()
    finally:
        conn.execute("BEGIN IMMEDIATE")
