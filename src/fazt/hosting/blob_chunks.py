"""Writing big blobs in pieces (table blob_chunks, migration 013).

A blob above CHUNK_BYTES is stored as pieces of at most that size, keyed by their byte
offset, under a `chunk_set` number: an upload's id (fazt.hosting.uploads), or minus the
blob's own rowid when the whole blob arrived in one request. Small pieces keep each write
transaction short (the single writer is never held for a whole big file) and stay far
under SQLite's ~1 GB value limit. Reads go through fazt.hosting.blob_read.
"""

import sqlite3

from fazt.db.clock import utcnow

# Measured (docs/benchmarks.md, 2026-12-06): 1-64 MiB pieces all write at ~140-200 MB/s;
# 4 MiB keeps the slowest commit near 50 ms, 64 MiB took ~390 ms.
CHUNK_BYTES = 4 * 1024 * 1024


def store_piece(conn: sqlite3.Connection, chunk_set: int, start: int, data: bytes) -> None:
    """One piece at byte offset `start` (pieces are never rewritten: a retry is a no-op)."""
    conn.execute(
        "INSERT INTO blob_chunks (chunk_set, start, data) VALUES (?, ?, ?) "
        "ON CONFLICT(chunk_set, start) DO NOTHING",
        (chunk_set, start, data),
    )


def store_chunked(conn: sqlite3.Connection, sha256: str, data: bytes) -> bool:
    """Insert a big blob as pieces unless present; True if it was new."""
    cur = conn.execute(
        "INSERT INTO blobs (sha256, size, data, created_at) VALUES (?, ?, x'', ?) "
        "ON CONFLICT(sha256) DO NOTHING",
        (sha256, len(data), utcnow()),
    )
    if cur.rowcount != 1:
        return False
    chunk_set = -cur.lastrowid
    conn.execute("UPDATE blobs SET chunk_set = ? WHERE rowid = ?", (chunk_set, cur.lastrowid))
    view = memoryview(data)
    for start in range(0, len(data), CHUNK_BYTES):
        store_piece(conn, chunk_set, start, bytes(view[start : start + CHUNK_BYTES]))
    return True


def adopt(conn: sqlite3.Connection, sha256: str, size: int, chunk_set: int) -> bool:
    """Make stored pieces the blob `sha256` (verified by the caller); False (and the
    pieces dropped) when the blob was already stored."""
    cur = conn.execute(
        "INSERT INTO blobs (sha256, size, data, created_at, chunk_set) VALUES (?, ?, x'', ?, ?)"
        " ON CONFLICT(sha256) DO NOTHING",
        (sha256, size, utcnow(), chunk_set),
    )
    if cur.rowcount != 1:
        drop_set(conn, chunk_set)
        return False
    return True


def drop_set(conn: sqlite3.Connection, chunk_set: int) -> None:
    conn.execute("DELETE FROM blob_chunks WHERE chunk_set = ?", (chunk_set,))
