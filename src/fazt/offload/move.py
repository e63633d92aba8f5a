"""Moving blob bytes to the bucket and back, one hash at a time.

Safe to kill at any point and to run again: a blob's bytes leave SQLite only in the
transaction that points its rows at an object already uploaded and read back whole
(its sha256 checked), and come back only after the object is read and checked. An
object already in the bucket (an earlier, killed run) is not uploaded again, but it is
read back and checked before it is trusted. Synchronous: the CLI runs it, and the
server's job (fazt.offload.service) runs it on a thread of its own.
"""

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from fazt.backoff import Backoff
from fazt.db import Database
from fazt.errors import FaztError
from fazt.hosting import blob_chunks, blob_read
from fazt.hosting.blob_remote import BlobStore, BlobStoreCorrupt, BlobStoreUnavailable
from fazt.objectstore.location import S3Error, Unavailable
from fazt.offload import ledger

PROBE = "fazt-probe"
ATTEMPTS = 5  # per blob, when the store answers 5xx or not at all
RETRY = Backoff(base=0.5, cap=8.0)


class OffloadError(FaztError):
    def __init__(self, message: str) -> None:
        super().__init__("OFFLOAD_FAILED", message)


@dataclass
class Report:
    direction: str  # "bucket" or "local"
    total: int = 0  # hashes to move when the run started
    moved: int = 0
    bytes: int = 0
    uploaded: int = 0  # objects sent (the others were there from an earlier run)
    busy: int = 0  # hashes the GC was deleting: moved by a later run
    gone: int = 0  # deleted while the run went on
    seconds: float = 0.0
    started: float = field(default_factory=time.monotonic, repr=False)

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("started")
        out["seconds"] = round(time.monotonic() - self.started, 3)
        return out


Progress = Callable[[Report], None]


def probe(store: BlobStore) -> None:
    """Write, read and delete a small object: the bucket is there and the keys work."""
    key = store.where.key(PROBE)
    try:
        store.client.put(key, b"fazt")
        if store.client.read(key) != b"fazt":
            raise OffloadError(f"{store.where} gave back other bytes than it was given")
        store.client.delete(key)
    except S3Error as exc:
        raise OffloadError(f"cannot use {store.where} at {store.endpoint}: {exc}") from None


def to_bucket(
    db: Database, store: BlobStore, progress: Progress | None = None, limit: int = -1
) -> Report:
    """Move every blob still in SQLite (at most `limit` hashes) to the bucket."""
    todo = db.read_sync(ledger.local_hashes, limit)
    report = Report("bucket", total=len(todo))
    for sha, size in todo:
        if not db.write_sync(ledger.claim, sha, size):
            report.busy += 1
            continue
        if not _retrying(_upload_verified, db, store, sha, size, report):
            report.gone += 1
            continue
        if db.write_sync(ledger.stored, sha):
            report.moved += 1
            report.bytes += size
        if progress:
            progress(report)
    return report


def to_local(db: Database, store: BlobStore, progress: Progress | None = None) -> Report:
    """Bring every blob kept in the bucket back into SQLite (objects are left there)."""
    todo = db.read_sync(ledger.bucket_hashes)
    report = Report("local", total=len(todo))
    for sha, size in todo:
        try:
            changed = _retrying(_bring_back, db, store, sha, size)
        except S3Error as exc:
            raise OffloadError(f"cannot read {sha} from {store.where}: {exc}") from None
        if changed:
            report.moved += 1
            report.bytes += size
        if progress:
            progress(report)
    return report


def collect(db: Database, store: BlobStore, keep: timedelta) -> int:
    """Delete objects no blob has used for `keep`; how many were deleted."""
    doomed = db.write_sync(ledger.doom, keep)
    done = []
    for sha in doomed:
        try:
            store.client.delete(store.key(sha))
        except S3Error:
            continue  # tried again next time (still 'deleting')
        done.append(sha)
    if done:
        db.write_sync(ledger.forget, done)
    return len(done)


def _retrying(fn: Callable[..., bool], *args: object) -> bool:
    """fn(*args), again after a pause when the store is unavailable (SeaweedFS answers an
    occasional 500 under load); the last failure is raised."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return fn(*args)
        except (Unavailable, BlobStoreUnavailable, OffloadError) as exc:
            cause = exc.__context__ if isinstance(exc, OffloadError) else exc
            if attempt == ATTEMPTS or not isinstance(cause, Unavailable | BlobStoreUnavailable):
                raise
        time.sleep(RETRY.delay(attempt))
    return False


# -- to the bucket ------------------------------------------------------------------------


def _upload_verified(db: Database, store: BlobStore, sha: str, size: int, report: Report) -> bool:
    """Make sure the bucket holds the right bytes for `sha`; False if the blob is gone."""
    key = store.key(sha)
    try:
        head = store.client.head(key)
        fresh = head is None or head.size != size
        if fresh:
            if not db.read_sync(_upload, store, sha, size):
                return False
            report.uploaded += 1
        try:
            _check(store, sha, size)
        except BlobStoreCorrupt:
            if not fresh:  # a bad copy from before: replaced once
                return _upload_verified_again(db, store, sha, size, report)
            raise
    except S3Error as exc:
        raise OffloadError(f"cannot upload {sha} to {store.where}: {exc}") from None
    return True


def _upload_verified_again(
    db: Database, store: BlobStore, sha: str, size: int, report: Report
) -> bool:
    if not db.read_sync(_upload, store, sha, size):
        return False
    report.uploaded += 1
    _check(store, sha, size)
    return True


def _check(store: BlobStore, sha: str, size: int) -> None:
    """Read the object back whole; raises BlobStoreCorrupt unless it hashes to `sha`."""
    for _ in store.read(sha, size):
        pass


def _upload(conn: sqlite3.Connection, store: BlobStore, sha: str, size: int) -> bool:
    """Stream the bytes from SQLite to the bucket (one reader call: one BLOB handle)."""
    chunks = _source(conn, sha)
    if chunks is None:
        return False
    digest = store.client.put_stream(store.key(sha), chunks, size, metadata={"sha256": sha})
    if digest != sha:
        raise OffloadError(f"the bytes stored for {sha} hash to {digest}")
    return True


def _source(conn: sqlite3.Connection, sha: str) -> Iterator[bytes] | None:
    row = conn.execute(
        "SELECT 1 FROM blobs INDEXED BY blobs_meta WHERE sha256 = ? AND location IS NULL", (sha,)
    ).fetchone()
    if row is not None:
        return blob_read.iter_blob(conn, sha)
    for table in ledger.OBJECT_TABLES:
        row = conn.execute(
            f"SELECT data FROM {table} WHERE sha256 = ? AND location IS NULL LIMIT 1", (sha,)
        ).fetchone()
        if row is not None:
            return iter([bytes(row[0])])
    return None


# -- back home ----------------------------------------------------------------------------


def _bring_back(db: Database, store: BlobStore, sha: str, size: int) -> bool:
    rowid = db.read_sync(_bucket_blob_rowid, sha)
    if rowid is not None and size > blob_chunks.CHUNK_BYTES:
        _bring_back_in_pieces(db, store, sha, size, rowid)
        data = None
    else:
        data = store.read_all(sha, size)
        db.write_sync(_restore_blob, sha, data)
    if db.read_sync(_has_bucket_objects, sha):
        db.write_sync(
            _restore_objects, sha, data if data is not None else store.read_all(sha, size)
        )
    return True


def _bring_back_in_pieces(db: Database, store: BlobStore, sha: str, size: int, rowid: int) -> None:
    """A big blob back as pieces (fazt.hosting.blob_chunks), one short write each; the
    row points at them only once every byte arrived and the whole hashed right."""
    chunk_set = -rowid
    db.write_sync(blob_chunks.drop_set, chunk_set)  # a killed run's pieces
    start = 0
    try:
        for piece in store.read(sha, size, chunk=blob_chunks.CHUNK_BYTES):
            db.write_sync(blob_chunks.store_piece, chunk_set, start, piece)
            start += len(piece)
    except BaseException:
        db.write_sync(blob_chunks.drop_set, chunk_set)
        raise
    db.write_sync(_point_at_pieces, rowid, chunk_set)


def _bucket_blob_rowid(conn: sqlite3.Connection, sha: str) -> int | None:
    row = conn.execute(
        "SELECT rowid FROM blobs INDEXED BY blobs_meta WHERE sha256 = ? AND location IS NOT NULL",
        (sha,),
    ).fetchone()
    return row[0] if row else None


def _has_bucket_objects(conn: sqlite3.Connection, sha: str) -> bool:
    return any(
        conn.execute(
            f"SELECT 1 FROM {table} WHERE sha256 = ? AND location IS NOT NULL LIMIT 1", (sha,)
        ).fetchone()
        for table in ledger.OBJECT_TABLES
    )


def _restore_blob(conn: sqlite3.Connection, sha: str, data: bytes) -> None:
    conn.execute(
        "UPDATE blobs SET data = ?, chunk_set = NULL, location = NULL "
        "WHERE sha256 = ? AND location IS NOT NULL",
        (data, sha),
    )


def _restore_objects(conn: sqlite3.Connection, sha: str, data: bytes) -> None:
    for table in ledger.OBJECT_TABLES:
        conn.execute(
            f"UPDATE {table} SET data = ?, location = NULL "
            "WHERE sha256 = ? AND location IS NOT NULL",
            (data, sha),
        )


def _point_at_pieces(conn: sqlite3.Connection, rowid: int, chunk_set: int) -> None:
    conn.execute(
        "UPDATE blobs SET chunk_set = ?, location = NULL WHERE rowid = ? AND location IS NOT NULL",
        (chunk_set, rowid),
    )
