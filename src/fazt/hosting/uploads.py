"""Resumable uploads of one big blob (POST/PUT/GET /api/uploads, fazt.api.uploads).

An upload declares the blob's sha256 and size and belongs to a site (for keys limited to
sites and for the per-site limit). Its bytes arrive in order, in pieces; each piece is
committed (blob_chunks, under the upload's id) with the upload's new offset in one
transaction, so a killed client or server loses at most the piece in flight, and the
upload resumes at the committed offset. When every byte is in and hashes to the declared
sha256, the pieces become the blob (blob_chunks.adopt) and the upload row goes; the blob
then waits for a deployment's finalize like any uploaded blob. Idle uploads expire with
unfinished deployments (deploy_pending_ttl_seconds).
"""

import sqlite3

from fazt.db import settings
from fazt.db.clock import utcnow
from fazt.errors import FaztError
from fazt.hosting import blob_chunks


class UploadError(FaztError):
    """An upload request that cannot be carried out."""


SITE_SETTING = "deploy_max_site_bytes"


def row(conn: sqlite3.Connection, upload_id: int) -> dict | None:
    found = conn.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
    return dict(found) if found else None


def site_bytes(conn: sqlite3.Connection, site: str) -> int:
    """What a site holds: its deployments' distinct blobs and its uploads in progress
    (their declared sizes)."""
    stored = conn.execute(
        "SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.sha256 IN (SELECT f.sha256 FROM"
        " deployment_files f JOIN deployments d ON d.id = f.deployment_id WHERE d.site = ?)",
        (site,),
    ).fetchone()[0]
    pending = conn.execute(
        "SELECT COALESCE(SUM(size), 0) FROM uploads WHERE site = ?", (site,)
    ).fetchone()[0]
    return stored + pending


def start(
    conn: sqlite3.Connection, site: str, sha256: str, size: int, created_by: str
) -> tuple[dict, bool]:
    """The upload of this blob for this site: the one in progress (to resume), else a new
    one (True). `{"complete": True}` when the blob is already stored: nothing to send."""
    stored = conn.execute("SELECT size FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
    if stored is not None:
        done = {"id": None, "site": site, "sha256": sha256, "size": stored[0]}
        return {**done, "offset": stored[0], "complete": True}, False
    found = conn.execute(
        "SELECT * FROM uploads WHERE site = ? AND sha256 = ? AND size = ?", (site, sha256, size)
    ).fetchone()
    if found is not None:
        return describe(dict(found)), False
    _check_site_limit(conn, site, size)
    now = utcnow()
    cur = conn.execute(
        "INSERT INTO uploads (site, sha256, size, created_by, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (site, sha256, size, created_by, now, now),
    )
    return describe(row(conn, cur.lastrowid)), True


def _check_site_limit(conn: sqlite3.Connection, site: str, size: int) -> None:
    limit = settings.get_int(conn, "deploy_max_site_bytes")
    held = site_bytes(conn, site)
    if held + size > limit:
        raise UploadError(
            "SITE_TOO_LARGE",
            f"'{site}' holds {held:,} bytes (its deployments and uploads in progress); "
            f"{size:,} more would pass the limit per site of {limit:,} bytes "
            f"(setting {SITE_SETTING}, docs/configuration.md)",
        )


def describe(upload: dict) -> dict:
    """The API's view of an upload."""
    return {
        "id": upload["id"],
        "site": upload["site"],
        "sha256": upload["sha256"],
        "size": upload["size"],
        "offset": upload["received"],
        "complete": False,
    }


def append(conn: sqlite3.Connection, upload_id: int, start: int, data: bytes) -> int:
    """Commit one piece at `start` (which must be the committed offset); the new offset."""
    upload = row(conn, upload_id)
    if upload is None:
        raise UploadError("UPLOAD_NOT_FOUND", f"no upload {upload_id} (finished or expired)")
    if upload["received"] != start:
        raise offset_mismatch(upload["received"], start)
    received = start + len(data)
    if received > upload["size"]:
        raise too_many_bytes(upload["size"])
    blob_chunks.store_piece(conn, upload_id, start, data)
    conn.execute(
        "UPDATE uploads SET received = ?, updated_at = ? WHERE id = ?",
        (received, utcnow(), upload_id),
    )
    return received


def offset_mismatch(committed: int, start: int) -> UploadError:
    return UploadError(
        "OFFSET_MISMATCH",
        f"this upload has {committed:,} bytes committed; send the bytes from offset "
        f"{committed} (Content-Range: bytes {committed}-...), not from {start}",
    )


def too_many_bytes(size: int) -> UploadError:
    return UploadError(
        "UPLOAD_TOO_LARGE",
        f"more bytes than the {size:,} declared for this upload; nothing past them was kept",
    )


def finish(conn: sqlite3.Connection, upload_id: int, actual_sha256: str) -> dict | None:
    """Every byte is in and hashes to `actual_sha256`: the pieces become the blob. A hash
    that is not the declared one discards the upload and returns None (the caller
    refuses: raising here would roll the discard back)."""
    upload = row(conn, upload_id)
    if upload is None:
        raise UploadError("UPLOAD_NOT_FOUND", f"no upload {upload_id} (finished or expired)")
    if upload["received"] != upload["size"]:
        raise offset_mismatch(upload["received"], upload["size"])
    if actual_sha256 != upload["sha256"]:
        discard(conn, upload_id)
        return None
    conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
    blob_chunks.adopt(conn, upload["sha256"], upload["size"], upload_id)
    return {**describe(upload), "offset": upload["size"], "complete": True}


def discard(conn: sqlite3.Connection, upload_id: int) -> None:
    conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
    blob_chunks.drop_set(conn, upload_id)


def expire_idle(conn: sqlite3.Connection, cutoff: str) -> int:
    """Delete uploads with no piece since `cutoff`, and their pieces."""
    ids = [r[0] for r in conn.execute("SELECT id FROM uploads WHERE updated_at < ?", (cutoff,))]
    for upload_id in ids:
        discard(conn, upload_id)
    return len(ids)
