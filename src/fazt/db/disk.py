"""The disk holding the database: its free space, and SQLite's disk errors as FaztErrors.

A full disk, a file system remounted read-only or a failing disk reach us as
sqlite3.OperationalError with a terse message ("database or disk is full"). `translate`
turns them into one DiskError per cause, with a code the HTTP layer maps to a status
(fazt.api.errors) and a message that says what to do. DiskError is still a
sqlite3.OperationalError, so code that catches SQLite's errors keeps catching it.
"""

import shutil
import sqlite3
from pathlib import Path

from fazt.errors import FaztError

MB = 1024 * 1024

# SQLite's primary result codes (the low byte of an extended code).
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_FULL = 13


class DiskError(FaztError, sqlite3.OperationalError):
    """The disk holding the database refused a write (full, read-only, failing)."""


def free_bytes(db_path: Path) -> int | None:
    """Bytes free for us on the file system holding the database (None: cannot tell)."""
    try:
        return shutil.disk_usage(Path(db_path).parent).free
    except OSError:
        return None


def free_text(db_path: Path) -> str:
    """ "12 MB free" (or "free space unknown") for messages."""
    free = free_bytes(db_path)
    return "free space unknown" if free is None else f"{free // MB} MB free"


def full(db_path: Path, detail: str = "") -> DiskError:
    """INSUFFICIENT_STORAGE, with the free space now and what to do."""
    return DiskError(
        "INSUFFICIENT_STORAGE",
        f"the disk holding the database is full ({free_text(db_path)}){detail}; free some "
        "space (or delete old apps and deployments) and try again",
    )


def no_room(db_path: Path, needed: int) -> DiskError | None:
    """INSUFFICIENT_STORAGE if fewer than `needed` bytes are free (None: enough, or the
    free space cannot be told)."""
    free = free_bytes(db_path)
    if free is None or free >= needed:
        return None
    return DiskError(
        "INSUFFICIENT_STORAGE",
        f"the disk holding the database is too full for this ({free // MB} MB free, "
        f"{-(-needed // MB)} MB needed); free some space (or delete old apps and "
        "deployments) and try again",
    )


def translate(exc: sqlite3.Error, db_path: Path) -> DiskError | None:
    """The DiskError for a disk-level SQLite error, None for any other error."""
    if isinstance(exc, DiskError):
        return exc
    error = _disk_error(exc, db_path)
    if error is not None:
        error.__cause__ = exc  # the log keeps SQLite's own words
    return error


def _disk_error(exc: sqlite3.Error, db_path: Path) -> DiskError | None:
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code == SQLITE_FULL:
        return full(db_path)
    if code == SQLITE_READONLY:
        return DiskError(
            "READ_ONLY_STORAGE",
            f"the database {db_path} cannot be written ({exc}): is its file system mounted "
            "read-only, or the file not writable by the server's user?",
        )
    if code == SQLITE_IOERR:
        return DiskError(
            "STORAGE_IO_ERROR",
            f"the disk holding the database failed a read or write ({exc}); check the "
            "system log (dmesg) and the disk",
        )
    return None


def free_space_warning(db_path: Path, warn_mb: int) -> str | None:
    """A warning when the disk holding the database has under `warn_mb` MB free (the
    setting disk_free_warn_mb), for `fazt server status` and the dashboard's overview."""
    free = free_bytes(db_path)
    if free is None or free >= warn_mb * MB:
        return None
    return (
        f"only {free // MB} MB free on the disk holding the database (the warning "
        f"starts under {warn_mb} MB, setting disk_free_warn_mb). When it is full, writes "
        "and deploys are refused (507 INSUFFICIENT_STORAGE): free some space, or delete "
        "old apps (fazt app delete) and deployments (history_limit)."
    )
