"""fazt.storage.s3: per-app (or per-visitor) binary objects by path, stored inline in SQLite.

Paths are normalised: leading slashes are dropped and repeated slashes collapsed, so
`/a//b.txt` and `a/b.txt` name the same object. `..` has no special meaning (paths are
keys, scoped to the app). `list(prefix)` is a literal, case-sensitive prefix match over
normalised paths, sorted by path, at most MAX_LIST_ENTRIES entries.
"""

import hashlib
import re
import sqlite3

from fazt.db import settings
from fazt.hosting import blob_remote
from fazt.storage.common import check_text, now, prefix_clause
from fazt.storage.errors import StorageError
from fazt.storage.scope import Owner, rows

MAX_PATH_CHARS = 1024
MAX_OBJECT_BYTES = 10 * 1024 * 1024  # the default of the setting below
LIMIT_SETTING = "storage_max_object_bytes"
MAX_MIME_CHARS = 255
MAX_LIST_ENTRIES = 1000
DEFAULT_MIME = "application/octet-stream"

# type/subtype with optional parameters; no control characters (the value may become a
# Content-Type header when an app serves the object).
_MIME = re.compile(r"^[A-Za-z0-9][\w!#$&^.+-]*/[\w!#$&^.+-]+(\s*;[\x20-\x7e]*)?$", re.ASCII)
_SLASHES = re.compile(r"/{2,}")


def normalise_path(path: object, *, allow_empty: bool = False) -> str:
    check_text("path", path, MAX_PATH_CHARS, allow_empty=allow_empty)
    assert isinstance(path, str)
    clean = _SLASHES.sub("/", path).lstrip("/")
    if not clean and not allow_empty:
        raise StorageError("path must not be empty")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in clean):
        raise StorageError("path must not contain control characters")
    return clean


def check_mime(mime: object) -> str:
    if mime is None or mime == "":
        return DEFAULT_MIME
    if not isinstance(mime, str) or len(mime) > MAX_MIME_CHARS or not _MIME.match(mime):
        raise StorageError("mime must be a media type like 'image/png'")
    return mime


def max_bytes(conn: sqlite3.Connection) -> int:
    """The most one object may hold (setting storage_max_object_bytes)."""
    return settings.get_int(conn, "storage_max_object_bytes")


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise StorageError(
            f"object is {size} bytes; the limit is {limit} bytes "
            f"(setting {LIMIT_SETTING}, docs/configuration.md)"
        )


def put(conn: sqlite3.Connection, app: Owner, path: str, data: bytes, mime: str | None) -> dict:
    """Upsert the object; {path, size, mime, sha256}."""
    path = normalise_path(path)
    mime = check_mime(mime)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise StorageError("s3.put data must be a string or binary data")
    data = bytes(data)
    check_size(len(data), max_bytes(conn))
    sha = hashlib.sha256(data).hexdigest()
    stamp = now()
    at = rows(app, "objects")
    conn.execute(
        f"INSERT INTO {at.table} ({at.columns}, path, data, mime, size, sha256, created_at, "
        f"updated_at) VALUES ({at.marks}, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT({at.columns}, path) "
        "DO UPDATE SET data = excluded.data, mime = excluded.mime, size = excluded.size, "
        "sha256 = excluded.sha256, updated_at = excluded.updated_at, location = NULL",
        (*at.args, path, data, mime, len(data), sha, stamp, stamp),
    )
    return {"path": path, "size": len(data), "mime": mime, "sha256": sha}


def get(conn: sqlite3.Connection, app: Owner, path: str) -> dict | None:
    """{path, data (bytes), mime, size, sha256, updatedAt}, or None."""
    path = normalise_path(path)
    at = rows(app, "objects")
    row = conn.execute(
        f"SELECT path, data, mime, size, sha256, updated_at, location FROM {at.table} "
        f"WHERE {at.match()} AND path = ?",
        (*at.args, path),
    ).fetchone()
    if row is None:
        return None
    if row["location"] is None:
        data = bytes(row["data"])
    else:  # offloaded to the bucket (fazt.offload)
        data = blob_remote.read_whole(conn, row["sha256"], row["size"])
    return {
        "path": row["path"],
        "data": data,
        "mime": row["mime"],
        "size": row["size"],
        "sha256": row["sha256"],
        "updatedAt": row["updated_at"],
    }


def stat(conn: sqlite3.Connection, app: str, path: str) -> dict | None:
    """{path, mime, size, sha256, updatedAt} without the bytes (read them with read_part)."""
    path = normalise_path(path)
    row = conn.execute(
        "SELECT path, mime, size, sha256, updated_at FROM app_objects INDEXED BY app_objects_meta "
        "WHERE app = ? AND path = ?",
        (app, path),
    ).fetchone()
    if row is None:
        return None
    keys = ("path", "mime", "size", "sha256", "updatedAt")
    return dict(zip(keys, tuple(row), strict=True))


# substr() reads the whole value however little it returns: bigger objects are read
# through one BLOB handle per piece (as fazt.hosting.blob_read does for site blobs).
SUBSTR_MAX = 8 * 1024 * 1024


def read_part(
    conn: sqlite3.Connection, app: str, path: str, sha256: str, start: int, end: int
) -> bytes:
    """Bytes [start, end) of the object if it still has this sha256; b"" once it changed
    or went (a download in pieces never mixes two versions)."""
    row = conn.execute(
        "SELECT rowid, size, location FROM app_objects INDEXED BY app_objects_meta "
        "WHERE app = ? AND path = ? AND sha256 = ?",
        (app, normalise_path(path), sha256),
    ).fetchone()
    if row is None or start >= end:
        return b""
    rowid, size, location = row
    if location is not None:  # offloaded to the bucket (fazt.offload)
        return b"".join(blob_remote.read(conn, sha256, size, start, end, end - start))
    if size <= SUBSTR_MAX:
        found = conn.execute(
            "SELECT substr(data, ?, ?) FROM app_objects WHERE rowid = ?",
            (start + 1, end - start, rowid),
        ).fetchone()
        return bytes(found[0]) if found and found[0] is not None else b""
    with conn.blobopen("app_objects", "data", rowid, readonly=True) as blob:
        blob.seek(start)
        return blob.read(end - start)


def delete(conn: sqlite3.Connection, app: Owner, path: str) -> bool:
    path = normalise_path(path)
    at = rows(app, "objects")
    cur = conn.execute(f"DELETE FROM {at.table} WHERE {at.match()} AND path = ?", (*at.args, path))
    return cur.rowcount == 1


def list_objects(conn: sqlite3.Connection, app: Owner, prefix: str = "") -> list[dict]:
    """[{path, size, mime, sha256, updatedAt}] for paths starting with prefix."""
    prefix = normalise_path(prefix or "", allow_empty=True)
    match, margs = prefix_clause("path", prefix)
    at = rows(app, "objects")
    found = conn.execute(
        f"SELECT path, size, mime, sha256, updated_at FROM {at.table} "
        f"WHERE {at.match()} AND {match} ORDER BY path LIMIT ?",
        (*at.args, *margs, MAX_LIST_ENTRIES),
    ).fetchall()
    return [
        {
            "path": r["path"],
            "size": r["size"],
            "mime": r["mime"],
            "sha256": r["sha256"],
            "updatedAt": r["updated_at"],
        }
        for r in found
    ]


def totals(conn: sqlite3.Connection, app: Owner) -> dict:
    at = rows(app, "objects")
    row = conn.execute(
        f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM {at.table} WHERE {at.match()}", at.args
    ).fetchone()
    return {"count": row[0], "bytes": row[1]}
