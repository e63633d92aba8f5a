"""Offloaded blobs fetched for the static server without holding a database reader.

A blob whose bytes are in the bucket (fazt.hosting.blob_remote) is copied into the disk
cache, or streamed to a first reader, by threads of this module's own pool: one short
reader call finds where the bytes are, then the network wait happens here, so the four
readers stay free for the requests the caches cannot answer. A stream is one GET (the
range asked for), not one per chunk.
"""

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fazt.hosting import blob_remote

FETCH_THREADS = 8  # concurrent cold reads from the bucket; more wait their turn
_pool = ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="fazt-fetch")


def offloaded(conn: sqlite3.Connection, sha256: str) -> tuple[blob_remote.BlobStore, int] | None:
    """(the bucket, the blob's size) when its bytes are there; None when in SQLite or gone.
    Raises BlobStoreUnavailable when no bucket is configured for it."""
    row = conn.execute(
        "SELECT size, location FROM blobs INDEXED BY blobs_meta WHERE sha256 = ?", (sha256,)
    ).fetchone()
    if row is None or row[1] is None:
        return None
    store = blob_remote.configured(conn)
    if store is None:
        raise blob_remote.BlobStoreUnavailable(
            f"blob {sha256} is in object storage but no blob store is configured"
        )
    return store, row[0]


async def copy(store: blob_remote.BlobStore, sha256: str, size: int, path: Path) -> str:
    """Write the whole blob to `path` (checked against its hash while it arrives); its
    sha256."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool, _copy, store, sha256, size, path)


async def stream(
    store: blob_remote.BlobStore, sha256: str, size: int, start: int, end: int, chunk: int
) -> AsyncIterator[bytes]:
    """Bytes [start, end) in pieces of `chunk`, from one GET."""
    loop = asyncio.get_running_loop()
    pieces = store.read(sha256, size, start, end, chunk)
    try:
        while (piece := await loop.run_in_executor(_pool, next, pieces, None)) is not None:
            yield piece
    finally:  # the client went away, or all was sent: the connection goes back
        await loop.run_in_executor(_pool, pieces.close)


def _copy(store: blob_remote.BlobStore, sha256: str, size: int, path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "wb") as out:
        for piece in store.read(sha256, size):
            out.write(piece)
            hasher.update(piece)
    return hasher.hexdigest()
