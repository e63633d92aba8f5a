"""The `bucket_objects` table (migration 020): what fazt put in the bucket, by sha256.

The protocol that keeps the blob GC from deleting an object someone still needs:

- an upload first `claim`s the hash (state 'pending'), and only then uploads; `stored`
  (after the object is read back and verified) flips the rows that use the hash to
  `location = 'bucket'` and drops their bytes from SQLite, in one transaction;
- the GC marks a 'stored' hash no row uses 'unused' (a hash used again goes back to
  'stored'); one unused for `keep` (`blob_store_keep_days`: backups taken before still
  name it) or a 'pending' one abandoned for a day it `doom`s ('deleting'), deletes its
  object from the bucket outside any transaction, then `forget`s it. A claim refuses a
  hash being deleted, so an upload never races a delete.
"""

import sqlite3
from datetime import UTC, datetime, timedelta

from fazt.db.clock import stamp, utcnow
from fazt.hosting.blob_remote import BUCKET

ABANDONED = timedelta(days=1)  # a 'pending' claim this old was left by a killed upload
# Rows that hold bytes by sha256: site files, and apps' and visitors' objects.
TABLES = ("blobs", "app_objects", "user_objects")
OBJECT_TABLES = TABLES[1:]


def _union(where: str) -> str:
    """(sha256, size) of the rows of every table matching `where`, each hash once."""
    return " UNION ".join(f"SELECT sha256, size FROM {t} WHERE {where}" for t in TABLES)


def claim(conn: sqlite3.Connection, sha256: str, size: int) -> bool:
    """Mark the hash as being uploaded; False while its object is being deleted."""
    cur = conn.execute(
        "INSERT INTO bucket_objects (sha256, size, state, touched_at) VALUES (?, ?, 'pending', ?)"
        " ON CONFLICT(sha256) DO UPDATE SET state = 'pending', touched_at = excluded.touched_at"
        " WHERE state != 'deleting'",
        (sha256, size, utcnow()),
    )
    return cur.rowcount == 1


def stored(conn: sqlite3.Connection, sha256: str) -> int:
    """The object is in the bucket and verified: its rows point there and lose their bytes;
    how many rows changed."""
    conn.execute(
        "UPDATE bucket_objects SET state = 'stored', touched_at = ? WHERE sha256 = ?",
        (utcnow(), sha256),
    )
    old = conn.execute(
        "SELECT chunk_set FROM blobs INDEXED BY blobs_meta WHERE sha256 = ? AND location IS NULL",
        (sha256,),
    ).fetchone()
    changed = conn.execute(
        "UPDATE blobs SET location = ?, data = x'', chunk_set = NULL "
        "WHERE sha256 = ? AND location IS NULL",
        (BUCKET, sha256),
    ).rowcount
    if old is not None and old[0] is not None:
        conn.execute("DELETE FROM blob_chunks WHERE chunk_set = ?", (old[0],))
    for table in OBJECT_TABLES:
        changed += conn.execute(
            f"UPDATE {table} SET location = ?, data = x'' WHERE sha256 = ? AND location IS NULL",
            (BUCKET, sha256),
        ).rowcount
    return changed


_UNUSED = " AND ".join(
    f"NOT EXISTS (SELECT 1 FROM {t} r WHERE r.sha256 = bucket_objects.sha256 "
    "AND r.location IS NOT NULL)"
    for t in TABLES
)


def doom(conn: sqlite3.Connection, keep: timedelta) -> list[str]:
    """Mark objects no row uses; those unused for `keep` (or abandoned uploads) are to be
    deleted: every hash now marked 'deleting' (earlier ones included)."""
    now = datetime.now(UTC)
    conn.execute(
        f"UPDATE bucket_objects SET state = 'stored' WHERE state = 'unused' AND NOT ({_UNUSED})"
    )
    conn.execute(
        "UPDATE bucket_objects SET state = 'unused', touched_at = ? "
        f"WHERE state = 'stored' AND {_UNUSED}",
        (stamp(now),),
    )
    conn.execute(
        "UPDATE bucket_objects SET state = 'deleting', touched_at = ? "
        "WHERE ((state = 'unused' AND touched_at <= ?) "
        f"OR (state = 'pending' AND touched_at < ?)) AND {_UNUSED}",
        (stamp(now), stamp(now - keep), stamp(now - ABANDONED)),
    )
    rows = conn.execute("SELECT sha256 FROM bucket_objects WHERE state = 'deleting'")
    return [r[0] for r in rows]


def forget(conn: sqlite3.Connection, hashes: list[str]) -> None:
    conn.executemany(
        "DELETE FROM bucket_objects WHERE sha256 = ? AND state = 'deleting'",
        [(h,) for h in hashes],
    )


def local_hashes(conn: sqlite3.Connection, limit: int = -1) -> list[tuple[str, int]]:
    """(sha256, size) of blobs whose bytes are still in SQLite."""
    rows = conn.execute(f"{_union('location IS NULL')} ORDER BY 1 LIMIT ?", (limit,))
    return [(r[0], r[1]) for r in rows]


def bucket_hashes(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(sha256, size) of blobs whose bytes are in the bucket."""
    rows = conn.execute(f"{_union('location IS NOT NULL')} ORDER BY 1")
    return [(r[0], r[1]) for r in rows]


def counts(conn: sqlite3.Connection) -> dict:
    """Blobs and bytes on each side, for status and progress."""
    out = {}
    for side, where in (("local", "location IS NULL"), ("bucket", "location IS NOT NULL")):
        row = conn.execute(
            f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM ({_union(where)})"
        ).fetchone()
        out[side] = {"blobs": row[0], "bytes": row[1]}
    return out
