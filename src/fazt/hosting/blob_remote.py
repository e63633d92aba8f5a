"""Blobs kept in an object store: reading the bytes of a blob whose row says 'bucket'.

`fazt storage offload` (fazt.offload) moves blob bytes out of SQLite into an S3 bucket,
as objects named by their sha256 (`<prefix>/sha256/<hash>`), and sets the row's
`location` to 'bucket'; the metadata stays in SQLite. fazt.hosting.blob_read sends such
reads here. Where the bucket is comes from the settings (`blob_store_url`,
`blob_store_endpoint`, `blob_store_region`); the credentials from
$FAZT_HOME/objectstore-credentials.json (mode 0600), or the environment's
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: never from the database, so backups and logs
never hold them.

Trust: a whole read is hashed while it streams and its last piece is held back until the
hash matches, so a wrong object never reaches a caller whole; a range cannot be checked
(the disk cache, fazt.hosting.blob_cache, checks every copy it makes).
"""

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fazt.db import settings
from fazt.errors import FaztError
from fazt.objectstore import keyfile
from fazt.objectstore.location import Location, NotFound, S3Error
from fazt.paths import fazt_home

if TYPE_CHECKING:
    from fazt.objectstore.client import S3Client

BUCKET = "bucket"  # the value of `location` for a blob whose bytes are in the bucket
READ_CHUNK = 1024 * 1024
SETTINGS = ("blob_store_url", "blob_store_endpoint", "blob_store_region")


class BlobStoreUnavailable(FaztError):
    """The bucket cannot give a blob's bytes now (down, refusing, or missing the object)."""

    def __init__(self, message: str) -> None:
        super().__init__("BLOB_STORE_UNAVAILABLE", message)


class BlobStoreCorrupt(FaztError):
    def __init__(self, message: str) -> None:
        super().__init__("BLOB_STORE_CORRUPT", message)


def credentials_path() -> Path:
    return fazt_home() / "objectstore-credentials.json"


def save_credentials(access_key_id: str | None, secret_access_key: str | None) -> None:
    """Keep the key pair in a 0600 file (removed when both are empty)."""
    keyfile.save_key_pair(credentials_path(), access_key_id, secret_access_key)


def credentials() -> tuple[str, str]:
    """(access key, secret): the 0600 file, else the environment."""
    try:
        saved = json.loads(credentials_path().read_text())
    except (OSError, ValueError):
        saved = {}
    return (
        saved.get("access_key_id") or os.environ.get("AWS_ACCESS_KEY_ID", ""),
        saved.get("secret_access_key") or os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
    )


@dataclass(frozen=True)
class BlobStore:
    """One configured bucket: a client and the folder (prefix) blobs live under."""

    client: "S3Client"
    where: Location
    endpoint: str

    def key(self, sha256: str) -> str:
        return self.where.key(f"sha256/{sha256}")

    def read(
        self,
        sha256: str,
        size: int,
        start: int = 0,
        end: int | None = None,
        chunk: int = READ_CHUNK,
    ) -> Iterator[bytes]:
        """Bytes [start, end) of the blob, verified against its hash when whole."""
        end = size if end is None else min(end, size)
        if start >= end:
            return
        whole = start == 0 and end == size
        pieces = self.client.get(self.key(sha256), None if whole else start, None if whole else end)
        try:
            if not whole:
                yield from _rechunk(pieces, chunk)
                return
            hasher, held, got = hashlib.sha256(), None, 0
            for piece in _rechunk(pieces, chunk):
                hasher.update(piece)
                got += len(piece)
                if held is not None:
                    yield held
                held = piece
            if got != size or hasher.hexdigest() != sha256:
                raise BlobStoreCorrupt(f"blob {sha256} in {self.where} does not match its hash")
            if held is not None:
                yield held
        except NotFound:
            raise BlobStoreUnavailable(f"blob {sha256} is missing from {self.where}") from None
        except S3Error as exc:
            raise BlobStoreUnavailable(f"the blob store {self.endpoint} failed: {exc}") from None

    def read_all(self, sha256: str, size: int) -> bytes:
        return b"".join(self.read(sha256, size))


_lock = threading.Lock()
_stores: dict[tuple, BlobStore] = {}


def store_for(values: dict[str, str]) -> BlobStore | None:
    """The bucket these settings name (one client per configuration and key pair, shared
    by the threads that read); None when blobs are kept in SQLite."""
    url = values.get("blob_store_url", "")
    if not url:
        return None
    access, secret = credentials()
    config = (url, values.get("blob_store_endpoint", ""), values.get("blob_store_region", ""))
    ident = (*config, access, hashlib.sha256(secret.encode()).hexdigest())
    with _lock:
        found = _stores.get(ident)
        if found is None:
            found = _stores[ident] = open_store(*config, access, secret)
        return found


def open_store(url: str, endpoint: str, region: str, access: str, secret: str) -> BlobStore:
    from fazt.objectstore.client import S3Client  # httpx: loaded once a bucket is used

    where = Location.parse(url)
    endpoint = endpoint or "https://s3.amazonaws.com"
    client = S3Client(
        endpoint,
        where.bucket,
        access_key=access,
        secret_key=secret,
        region=region or "us-east-1",
    )
    return BlobStore(client, where, endpoint)


def configured(conn: sqlite3.Connection) -> BlobStore | None:
    """The bucket named by the database's settings (read on the caller's connection)."""
    values = {k: settings.get(conn, k) for k in SETTINGS}
    try:
        return store_for(values)
    except ValueError as exc:
        raise BlobStoreUnavailable(f"the blob store is misconfigured: {exc}") from None


def read(
    conn: sqlite3.Connection, sha256: str, size: int, start: int, end: int, chunk: int
) -> Iterator[bytes]:
    """Bytes [start, end) of a blob kept in the bucket (runs in a reader thread)."""
    store = configured(conn)
    if store is None:
        raise BlobStoreUnavailable(
            f"blob {sha256} is in object storage but no blob store is configured "
            "(fazt storage offload --to s3://...)"
        )
    yield from store.read(sha256, size, start, end, chunk)


def read_whole(conn: sqlite3.Connection, sha256: str, size: int) -> bytes:
    return b"".join(read(conn, sha256, size, 0, size, READ_CHUNK))


def _rechunk(pieces: Iterator[bytes], chunk: int) -> Iterator[bytes]:
    buf = bytearray()
    for piece in pieces:
        buf += piece
        while len(buf) >= chunk:
            yield bytes(buf[:chunk])
            del buf[:chunk]
    if buf:
        yield bytes(buf)
