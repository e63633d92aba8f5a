"""Reading a blob's bytes: the one place that knows where they are.

A blob is either one value (`blobs.data`), or, above one chunk (fazt.hosting.blob_chunks),
pieces in `blob_chunks` keyed by their byte offset, or (`location` 'bucket') an object in
the configured object store (fazt.hosting.blob_remote). Either way a reader gets the bytes in
pieces of at most `chunk`, so no caller needs to hold a whole big file.
"""

import sqlite3
from collections.abc import Iterator

from fazt.hosting import blob_remote

READ_CHUNK = 1024 * 1024
# A one-value blob up to this size is read with substr(): CPython 3.11's sqlite3 keeps a
# weak reference per blobopen() on the connection until it closes (~90 B each, measured),
# which a long-lived reader connection would pile up with every cache miss. Bigger ones
# (stored before blobs were chunked) are streamed through blobopen, not loaded whole.
SUBSTR_MAX = 8 * 1024 * 1024


def blob_size(conn: sqlite3.Connection, sha256: str) -> int | None:
    """The blob's size in bytes, None when it is not stored."""
    row = conn.execute("SELECT size FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
    return row[0] if row else None


def iter_blob(
    conn: sqlite3.Connection,
    sha256: str,
    start: int = 0,
    end: int | None = None,
    chunk: int = READ_CHUNK,
) -> Iterator[bytes]:
    """Bytes [start, end) of the blob in pieces of at most `chunk` (nothing if it is
    not stored). Runs on the caller's connection: keep it inside one read."""
    row = conn.execute(
        "SELECT rowid, size, chunk_set, location FROM blobs INDEXED BY blobs_meta WHERE sha256 = ?",
        (sha256,),
    ).fetchone()
    if row is None:
        return
    rowid, size, chunk_set, location = row
    end = size if end is None else min(end, size)
    if start >= end:
        return
    if location is not None:
        yield from blob_remote.read(conn, sha256, size, start, end, chunk)
    elif chunk_set is None:
        yield from _inline(conn, rowid, size, start, end, chunk)
    else:
        yield from chunk_range(conn, chunk_set, start, end, chunk)


def read_blob(conn: sqlite3.Connection, sha256: str) -> bytes | None:
    """The whole blob (small files only: manifests, sources, cached pages)."""
    if blob_size(conn, sha256) is None:
        return None
    return b"".join(iter_blob(conn, sha256))


def _inline(
    conn: sqlite3.Connection, rowid: int, size: int, start: int, end: int, chunk: int
) -> Iterator[bytes]:
    if size <= SUBSTR_MAX:  # substr() reads the whole value, however little it returns
        row = conn.execute(
            "SELECT substr(data, ?, ?) FROM blobs WHERE rowid = ?", (start + 1, end - start, rowid)
        ).fetchone()
        data = bytes(row[0]) if row and row[0] is not None else b""
        for offset in range(0, len(data), chunk):
            yield data[offset : offset + chunk]
        return
    with conn.blobopen("blobs", "data", rowid, readonly=True) as blob:
        blob.seek(start)
        while start < end:
            piece = blob.read(min(chunk, end - start))
            if not piece:
                return
            start += len(piece)
            yield piece


def chunk_range(
    conn: sqlite3.Connection, chunk_set: int, start: int, end: int, chunk: int = READ_CHUNK
) -> Iterator[bytes]:
    """Bytes [start, end) of a set of stored pieces (a blob's, or an upload's so far)."""
    first = conn.execute(
        "SELECT MAX(start) FROM blob_chunks WHERE chunk_set = ? AND start <= ?",
        (chunk_set, start),
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT rowid, start, length(data) FROM blob_chunks WHERE chunk_set = ? AND start >= ?"
        " AND start < ? ORDER BY start",
        (chunk_set, first or 0, end),
    ).fetchall()
    for rowid, piece_start, length in rows:
        lo, hi = max(start, piece_start), min(end, piece_start + length)
        if lo >= hi:
            continue
        with conn.blobopen("blob_chunks", "data", rowid, readonly=True) as blob:
            blob.seek(lo - piece_start)
            while lo < hi:
                data = blob.read(min(chunk, hi - lo))
                if not data:
                    return
                lo += len(data)
                yield data
