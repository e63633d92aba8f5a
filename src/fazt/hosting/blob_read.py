"""Reading a stored blob's bytes: the one place that knows how blobs are laid out in SQLite.

Every reader of blob bytes (static serving, the disk blob cache) goes through these two
functions, so that the storage layout (today one `blobs.data` value; later big blobs in
chunks) can change in this module alone. Both take the connection they run on (a reader).
"""

import sqlite3
from collections.abc import Iterator

CHUNK = 1024 * 1024  # bytes per read: large enough that the per-call cost disappears


def blob_size(conn: sqlite3.Connection, sha256: str) -> int | None:
    """The blob's size in bytes, or None if no such blob is stored."""
    row = conn.execute("SELECT size FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
    return None if row is None else int(row[0])


def iter_blob(
    conn: sqlite3.Connection,
    sha256: str,
    start: int = 0,
    end: int | None = None,
    chunk: int = CHUNK,
) -> Iterator[bytes]:
    """Bytes [start, end) of a blob (end None: to its end), `chunk` bytes at a time, without
    loading the rest; nothing if the blob is not stored (e.g. its site was just deleted)."""
    row = conn.execute("SELECT rowid, size FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
    if row is None:
        return
    rowid, size = row
    end = size if end is None else min(end, size)
    # Incremental BLOB I/O reads only the pages asked for (substr() would load the value).
    with conn.blobopen("blobs", "data", rowid, readonly=True) as blob:
        offset = max(0, start)
        while offset < end:
            blob.seek(offset)
            data = blob.read(min(chunk, end - offset))
            if not data:
                return
            yield data
            offset += len(data)


def read_blob(conn: sqlite3.Connection, sha256: str) -> bytes | None:
    """A whole (small) blob in memory, or None if it is not stored."""
    if blob_size(conn, sha256) is None:
        return None
    return b"".join(iter_blob(conn, sha256))
