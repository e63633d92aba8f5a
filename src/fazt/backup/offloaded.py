"""Backups of a server whose blobs live in object storage (docs/object-storage.md).

Such a backup is the database only: the rows of offloaded blobs hold their metadata, the
bytes stay in the bucket. The manifest says so (`blobs`: how many are in the file and how
many only in the bucket, and which bucket), and verifying or restoring the backup checks
that every object it names is in the bucket, listing the missing ones.
"""

import sqlite3
from pathlib import Path

from fazt.hosting import blob_remote
from fazt.objectstore.location import S3Error

MISSING_SHOWN = 5  # missing hashes named in a problem (all are in `objects.missing`)


def describe(conn: sqlite3.Connection) -> dict:
    """For the manifest: blobs in the file, blobs only in the bucket, and the bucket."""
    try:
        local, remote = conn.execute(
            "SELECT COUNT(*) FILTER (WHERE location IS NULL), "
            "COUNT(*) FILTER (WHERE location IS NOT NULL) FROM "
            "(SELECT sha256, location FROM blobs UNION SELECT sha256, location FROM app_objects "
            "UNION SELECT sha256, location FROM user_objects)"
        ).fetchone()
        row = conn.execute("SELECT value FROM settings WHERE key = 'blob_store_url'").fetchone()
    except sqlite3.OperationalError:  # a database from before migration 020
        return {"in_database": None, "in_object_store": 0, "object_store": None}
    out = {"in_database": local, "in_object_store": remote, "object_store": row[0] if row else None}
    if remote:
        out["note"] = "metadata only for blobs in the object store: their bytes are in the bucket"
    return out


def check_objects(path: Path) -> tuple[dict | None, list[str]]:
    """(what was checked, problems) for every object the database at `path` names; (None,
    []) when it names none."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        if describe(conn)["in_object_store"] == 0:
            return None, []
        wanted = {
            sha: size
            for sha, size in conn.execute(
                "SELECT sha256, size FROM blobs WHERE location IS NOT NULL "
                "UNION SELECT sha256, size FROM app_objects WHERE location IS NOT NULL "
                "UNION SELECT sha256, size FROM user_objects WHERE location IS NOT NULL"
            )
        }
        values = {k: v for k, v in conn.execute("SELECT key, value FROM settings")}
    finally:
        conn.close()
    try:
        store = blob_remote.store_for({k: values.get(k, "") for k in blob_remote.SETTINGS})
    except ValueError as exc:
        return {"referenced": len(wanted)}, [f"the blob store is misconfigured: {exc}"]
    if store is None:
        return {"referenced": len(wanted)}, [
            f"{len(wanted)} blobs are in object storage but the backup names no blob store"
        ]
    try:
        listed = dict(store.client.list_objects(store.where.key("sha256/")))
    except S3Error as exc:
        return {"referenced": len(wanted), "store": str(store.where)}, [
            f"cannot list {store.where} to check its {len(wanted)} objects: {exc}"
        ]
    missing = sorted(sha for sha, size in wanted.items() if listed.get(store.key(sha)) != size)
    checked = {"referenced": len(wanted), "store": str(store.where), "missing": missing}
    if not missing:
        return checked, []
    shown = ", ".join(missing[:MISSING_SHOWN]) + (" ..." if len(missing) > MISSING_SHOWN else "")
    return checked, [
        f"{len(missing)} of {len(wanted)} blobs are missing from {store.where}: {shown}"
    ]
