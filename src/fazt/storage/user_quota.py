"""Per-visitor storage quotas: bytes and rows one signed-in visitor may keep in one app.

`user_storage_usage` (migration 019) is kept exact by triggers on the three user tables.
`within_quota` runs a write and, before its transaction commits, compares the visitor's
use with the limits: a write that grows the use past a limit raises QuotaExceeded, and the
writer rolls the whole write back, so it changes nothing. A write that shrinks the use
(a delete, a smaller value) is always allowed, even for a visitor already over a limit
(the operator lowered it).
"""

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from fazt.db import settings
from fazt.storage.errors import StorageError
from fazt.storage.scope import UserScope

T = TypeVar("T")
BYTES_DEFAULT = settings.DEFAULTS["user_storage_max_bytes"]
ITEMS_DEFAULT = settings.DEFAULTS["user_storage_max_items"]


_LIMITS = (
    "SELECT key, value FROM settings WHERE key IN "
    "('user_storage_max_bytes', 'user_storage_max_items')"
)


class QuotaExceeded(StorageError):
    """A write would take a visitor past their storage quota."""


def usage(conn: sqlite3.Connection, owner: UserScope) -> tuple[int, int]:
    """(bytes, items) the visitor's rows take now."""
    row = conn.execute(
        "SELECT bytes, items FROM user_storage_usage WHERE app = ? AND user_id = ?",
        (owner.app, owner.user),
    ).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def _number(text: str, default: str) -> int:
    try:
        return int(text)
    except ValueError:  # a bad row written by SQL: the default
        return int(default)


def limits(conn: sqlite3.Connection) -> tuple[int, int]:
    """(max bytes, max items) per visitor per app, read live from the settings (one
    statement: this runs in every write of fazt.storage.user)."""
    values = dict(conn.execute(_LIMITS).fetchall())
    return (
        _number(values.get("user_storage_max_bytes", BYTES_DEFAULT), BYTES_DEFAULT),
        _number(values.get("user_storage_max_items", ITEMS_DEFAULT), ITEMS_DEFAULT),
    )


def within_quota(
    conn: sqlite3.Connection, write: Callable[..., T], owner: UserScope, *args: Any
) -> T:
    """write(conn, owner, *args), refused (and so rolled back) if it takes the visitor
    past a limit. Runs on the writer, inside the write's transaction."""
    before = usage(conn, owner)
    result = write(conn, owner, *args)
    after = usage(conn, owner)
    max_bytes, max_items = limits(conn)
    if after[0] > before[0] and after[0] > max_bytes:
        raise QuotaExceeded(
            f"USER_QUOTA_EXCEEDED: this write would make the signed-in user's data "
            f"{after[0]} bytes; the limit is {max_bytes} bytes"
        )
    if after[1] > before[1] and after[1] > max_items:
        raise QuotaExceeded(
            f"USER_QUOTA_EXCEEDED: this write would make the signed-in user's data "
            f"{after[1]} items; the limit is {max_items} items"
        )
    return result
