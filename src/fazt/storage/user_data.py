"""Operators' view of fazt.storage.user: each visitor's use, one visitor's data exported
whole, and one visitor's data deleted (the dashboard, `fazt app users ...`, the API).

The visitor is named by id here (app_users.id); the callers resolve an email first.
Deleting the visitor's account (auth/visitors.delete_user) deletes this data too, by the
foreign keys of migration 019.
"""

import base64
import json
import sqlite3

from fazt.hosting import blob_remote
from fazt.storage.common import now
from fazt.storage.scope import UserScope

TABLES = ("user_kv", "user_documents", "user_objects")


def usage_by_user(conn: sqlite3.Connection, app: str) -> dict[str, dict]:
    """{user id: {bytes, items}} for the app's visitors that have stored something."""
    found = conn.execute(
        "SELECT user_id, bytes, items FROM user_storage_usage WHERE app = ?", (app,)
    ).fetchall()
    return {r[0]: {"bytes": r[1], "items": r[2]} for r in found}


def export(conn: sqlite3.Connection, owner: UserScope) -> dict:
    """Everything the visitor stored in the app: kv (expired keys left out), documents by
    collection, objects with their contents in base64."""
    args = (owner.app, owner.user)
    where = "WHERE app = ? AND user_id = ?"
    kv = [
        {"key": r[0], "value": json.loads(r[1]), "expiresAt": r[2], "updatedAt": r[3]}
        for r in conn.execute(
            f"SELECT key, value, expires_at, updated_at FROM user_kv {where} "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY key",
            (*args, now()),
        )
    ]
    documents: dict[str, list] = {}
    for r in conn.execute(
        f"SELECT collection, id, data, created_at, updated_at FROM user_documents {where} "
        "ORDER BY collection, seq",
        args,
    ):
        doc = {"id": r[1], **json.loads(r[2]), "_createdAt": r[3], "_updatedAt": r[4]}
        documents.setdefault(r[0], []).append(doc)
    objects = [
        {
            "path": r[0],
            "mime": r[1],
            "size": r[2],
            "sha256": r[3],
            "updatedAt": r[4],
            "data_b64": base64.b64encode(_object_bytes(conn, r)).decode("ascii"),
        }
        for r in conn.execute(
            "SELECT path, mime, size, sha256, updated_at, data, location FROM user_objects "
            f"{where} ORDER BY path",
            args,
        )
    ]
    return {
        "app": owner.app,
        "user": owner.user,
        "kv": kv,
        "documents": documents,
        "objects": objects,
    }


def _object_bytes(conn: sqlite3.Connection, row: sqlite3.Row) -> bytes:
    """An object's bytes: in the row, or in the bucket once offloaded (fazt.offload)."""
    if row[6] is None:
        return bytes(row[5])
    return blob_remote.read_whole(conn, row[3], row[2])


def purge(conn: sqlite3.Connection, owner: UserScope) -> dict[str, int]:
    """Delete everything the visitor stored in the app; how many rows of each kind."""
    counts = {}
    for table, name in zip(TABLES, ("kv", "documents", "objects"), strict=True):
        counts[name] = conn.execute(
            f"DELETE FROM {table} WHERE app = ? AND user_id = ?", (owner.app, owner.user)
        ).rowcount
    return counts
