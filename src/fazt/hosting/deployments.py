"""Sites and their immutable deployments, stored as content-addressed blobs.

A deploy writes blobs (once per sha256), then a deployment row listing path -> blob,
then flips the site's live pointer, all in one writer transaction. Nothing a reader sees
is ever half a deployment. Every function takes the connection it runs on; callers pick
the writer (for changes) or a reader.
"""

import hashlib
import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fazt.db import settings
from fazt.db.clock import stamp, utcnow
from fazt.errors import FaztError
from fazt.hosting import blob_chunks, blob_read, uploads
from fazt.hosting.manifest import Manifest


class DeployError(FaztError):
    """A deploy request that cannot be carried out."""


@dataclass(frozen=True)
class FileEntry:
    path: str
    sha256: str
    size: int
    mime: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- sites --------------------------------------------------------------------------------


def ensure_site(conn: sqlite3.Connection, name: str, kind: str = "user") -> None:
    now = utcnow()
    conn.execute(
        "INSERT INTO sites (name, kind, created_at, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(name) DO NOTHING",
        (name, kind, now, now),
    )


def site_row(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM sites WHERE name = ?", (name,)).fetchone()


def delete_site(conn: sqlite3.Connection, name: str) -> bool:
    hashes = {
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT f.sha256 FROM deployment_files f JOIN deployments d "
            "ON d.id = f.deployment_id WHERE d.site = ?",
            (name,),
        )
    }
    cur = conn.execute("DELETE FROM sites WHERE name = ?", (name,))
    if cur.rowcount:
        # The site's own blobs go now (unless another deployment shares them); older
        # orphans after their grace period.
        gc_referenced_by(conn, hashes)
        gc_blobs(conn)
    return cur.rowcount == 1


# -- blobs --------------------------------------------------------------------------------


def store_blob(conn: sqlite3.Connection, sha256: str, data: bytes) -> bool:
    """Insert a blob unless present; return True if it was new."""
    if len(data) > blob_chunks.CHUNK_BYTES:
        return blob_chunks.store_chunked(conn, sha256, data)
    cur = conn.execute(
        "INSERT INTO blobs (sha256, size, data, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(sha256) DO NOTHING",
        (sha256, len(data), data, utcnow()),
    )
    return cur.rowcount == 1


def store_blobs(conn: sqlite3.Connection, blobs: list[tuple[str, bytes]]) -> None:
    for sha256, data in blobs:
        store_blob(conn, sha256, data)


def missing_blobs(conn: sqlite3.Connection, hashes: list[str]) -> list[str]:
    missing = []
    for sha in dict.fromkeys(hashes):
        if conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha,)).fetchone() is None:
            missing.append(sha)
    return missing


def read_blob(conn: sqlite3.Connection, sha256: str) -> bytes | None:
    """A whole blob (small files: a big one is read in pieces with blob_read.iter_blob)."""
    return blob_read.read_blob(conn, sha256)


def read_variant(conn: sqlite3.Connection, sha256: str, encoding: str) -> bytes | None:
    row = conn.execute(
        "SELECT data FROM blob_variants WHERE sha256 = ? AND encoding = ?", (sha256, encoding)
    ).fetchone()
    return row[0] if row else None


def store_variant(conn: sqlite3.Connection, sha256: str, encoding: str, data: bytes) -> None:
    conn.execute(
        "INSERT INTO blob_variants (sha256, encoding, data) SELECT ?, ?, ? "
        "WHERE EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?) "
        "ON CONFLICT(sha256, encoding) DO NOTHING",
        (sha256, encoding, data, sha256),
    )


def gc_blobs(conn: sqlite3.Connection) -> int:
    """Delete blobs no deployment refers to (after a grace period for uploads in flight:
    a ZIP deploy stores its blobs before it creates its deployment)."""
    # Orphans are found in the sha256 index alone: reading `created_at` of every row
    # would read every blob's bytes too (the column comes after them in the row), the
    # whole database each time. Only the few orphans' rows are read.
    orphans = conn.execute(
        "SELECT sha256 FROM blobs WHERE NOT EXISTS "
        "(SELECT 1 FROM deployment_files f WHERE f.sha256 = blobs.sha256)"
    ).fetchall()
    cutoff = _seconds_ago(pending_ttl(conn))
    deleted = 0
    for (sha,) in orphans:
        cur = conn.execute("DELETE FROM blobs WHERE sha256 = ? AND created_at < ?", (sha, cutoff))
        deleted += cur.rowcount
    return deleted


def gc_referenced_by(conn: sqlite3.Connection, hashes: set[str]) -> None:
    """Delete these blobs at once if nothing refers to them any more (no grace)."""
    for sha in hashes:
        conn.execute(
            "DELETE FROM blobs WHERE sha256 = ? AND NOT EXISTS "
            "(SELECT 1 FROM deployment_files f WHERE f.sha256 = ?)",
            (sha, sha),
        )


# -- deployments --------------------------------------------------------------------------


def create_pending(
    conn: sqlite3.Connection,
    site: str,
    files: list[FileEntry],
    manifest: Manifest,
    deployed_by: str,
    kind: str = "user",
) -> int:
    ensure_site(conn, site, kind)
    cur = conn.execute(
        "INSERT INTO deployments (site, state, file_count, size_bytes, manifest, deployed_by,"
        " created_at, preview_id) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?)",
        (
            site,
            len(files),
            sum(f.size for f in files),
            manifest.to_json(),
            deployed_by,
            utcnow(),
            new_preview_id(),
        ),
    )
    deployment_id = cur.lastrowid
    conn.executemany(
        "INSERT INTO deployment_files (deployment_id, path, sha256, size, mime) "
        "VALUES (?, ?, ?, ?, ?)",
        [(deployment_id, f.path, f.sha256, f.size, f.mime) for f in files],
    )
    return deployment_id


def new_preview_id() -> str:
    """80 random bits in lower-case hex: a DNS-safe label part nobody can guess."""
    return secrets.token_hex(10)


def finalize(conn: sqlite3.Connection, deployment_id: int, *, live: bool) -> dict:
    """Mark a pending deployment ready (all its blobs must be present) and maybe go live."""
    dep = conn.execute("SELECT * FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
    if dep is None:
        raise DeployError("DEPLOYMENT_NOT_FOUND", f"no deployment {deployment_id}")
    if dep["state"] != "pending":
        return _finalized_again(conn, deployment_id, live=live)
    lacking = conn.execute(
        "SELECT COUNT(*) FROM deployment_files f WHERE f.deployment_id = ? AND NOT EXISTS "
        "(SELECT 1 FROM blobs b WHERE b.sha256 = f.sha256)",
        (deployment_id,),
    ).fetchone()[0]
    if lacking:
        raise DeployError(
            "BLOBS_MISSING", f"{lacking} file(s) of this deployment were not uploaded"
        )
    _check_sizes(conn, deployment_id)
    conn.execute(
        "UPDATE deployments SET state = 'ready', finalized_at = ? WHERE id = ?",
        (utcnow(), deployment_id),
    )
    if live:
        make_live(conn, dep["site"], deployment_id)
    return deployment_info(conn, deployment_id)


def _finalized_again(conn: sqlite3.Connection, deployment_id: int, *, live: bool) -> dict:
    """A repeated finalize (a client whose answer was lost retries it) gets the same success
    when the deployment is as asked (live, or a preview); otherwise it changes nothing."""
    info = deployment_info(conn, deployment_id)
    if info["live"] == live:
        return info
    if info["live"]:
        raise DeployError("CONFLICT", f"deployment {deployment_id} is already live")
    raise DeployError(
        "CONFLICT",
        f"deployment {deployment_id} is already finalized and is not live; make it live "
        f"with `fazt app promote {info['site']} {deployment_id}`",
    )


def _check_sizes(conn: sqlite3.Connection, deployment_id: int) -> None:
    """Every file's size must be its blob's: the blob's is measured by the server when the
    bytes are stored; the file's was declared by the client. A wrong declaration would
    cut what is served short and slip past the per-deploy size limit."""
    wrong = conn.execute(
        "SELECT f.path, f.size, b.size AS real FROM deployment_files f JOIN blobs b "
        "ON b.sha256 = f.sha256 WHERE f.deployment_id = ? AND f.size != b.size "
        "ORDER BY f.path LIMIT 1",
        (deployment_id,),
    ).fetchone()
    if wrong is not None:
        raise DeployError(
            "SIZE_MISMATCH",
            f"'{wrong['path']}' was declared as {wrong['size']} bytes but its content is "
            f"{wrong['real']} bytes; nothing was published",
        )


def make_live(conn: sqlite3.Connection, site: str, deployment_id: int) -> None:
    """Flip the site's live pointer, then prune history beyond the configured limit."""
    now = utcnow()
    conn.execute(
        "UPDATE sites SET live_deployment_id = ?, updated_at = ? WHERE name = ?",
        (deployment_id, now, site),
    )
    conn.execute("UPDATE deployments SET live_at = ? WHERE id = ?", (now, deployment_id))
    prune_history(conn, site, settings.get_int(conn, "history_limit"))


def prune_history(conn: sqlite3.Connection, site: str, keep: int) -> list[int]:
    """Keep the newest `keep` ready deployments (and always the live one)."""
    live = conn.execute("SELECT live_deployment_id FROM sites WHERE name = ?", (site,)).fetchone()
    live_id = live[0] if live else None
    rows = conn.execute(
        "SELECT id FROM deployments WHERE site = ? AND state = 'ready' ORDER BY id DESC",
        (site,),
    ).fetchall()
    doomed = [r[0] for r in rows[keep:] if r[0] != live_id]
    _delete_deployments(conn, doomed)
    return doomed + expire_pending(conn)


def pending_ttl(conn: sqlite3.Connection) -> int:
    """Seconds an unfinished upload may sit idle (setting deploy_pending_ttl_seconds)."""
    return settings.get_int(conn, "deploy_pending_ttl_seconds")


def expire_pending(conn: sqlite3.Connection) -> list[int]:
    """Delete abandoned uploads: pending deployments with no blob uploaded for the TTL,
    their blobs, blobs nobody claimed as long, and sites nothing was ever finalized for.
    Run by a periodic job of the server and after each deploy."""
    cutoff = _seconds_ago(pending_ttl(conn))
    # Idle, not old: a big deploy on a slow link keeps its deployment while blobs arrive.
    expired = [
        r[0]
        for r in conn.execute(
            "SELECT d.id FROM deployments d WHERE d.state = 'pending' AND d.created_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM deployment_files f JOIN blobs b"
            " ON b.sha256 = f.sha256 WHERE f.deployment_id = d.id AND b.created_at >= ?)"
            # nor a big file of its site still streaming in (fazt.hosting.uploads)
            " AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.site = d.site"
            " AND u.updated_at >= ?)",
            (cutoff, cutoff, cutoff),
        )
    ]
    _delete_deployments(conn, expired)
    uploads.expire_idle(conn, cutoff)
    conn.execute(
        "DELETE FROM sites WHERE live_deployment_id IS NULL AND kind = 'user' AND NOT EXISTS "
        "(SELECT 1 FROM deployments d WHERE d.site = sites.name)"
    )
    gc_blobs(conn)
    return expired


def _delete_deployments(conn: sqlite3.Connection, ids: list[int]) -> None:
    """Delete these deployments, and at once their blobs no other deployment refers to."""
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    hashes = {
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT sha256 FROM deployment_files WHERE deployment_id IN ({marks})", ids
        )
    }
    conn.execute(f"DELETE FROM deployments WHERE id IN ({marks})", ids)
    gc_referenced_by(conn, hashes)


def rollback(conn: sqlite3.Connection, site: str, to_id: int | None = None) -> dict:
    row = site_row(conn, site)
    if row is None:
        raise DeployError("APP_NOT_FOUND", f"no app named '{site}'")
    live_id = row["live_deployment_id"]
    if to_id is None:
        prev = conn.execute(
            "SELECT id FROM deployments WHERE site = ? AND state = 'ready' AND live_at IS NOT NULL"
            " AND id < ? ORDER BY id DESC LIMIT 1",
            (site, live_id or 0),
        ).fetchone()
        if prev is None:
            raise DeployError("NO_PREVIOUS_DEPLOYMENT", f"'{site}' has nothing to roll back to")
        to_id = prev[0]
    return promote(conn, site, to_id)


def promote(conn: sqlite3.Connection, site: str, deployment_id: int) -> dict:
    dep = conn.execute(
        "SELECT site, state FROM deployments WHERE id = ?", (deployment_id,)
    ).fetchone()
    if dep is None or dep["site"] != site:
        raise DeployError("DEPLOYMENT_NOT_FOUND", f"'{site}' has no deployment {deployment_id}")
    if dep["state"] != "ready":
        raise DeployError("CONFLICT", f"deployment {deployment_id} is not finalized")
    make_live(conn, site, deployment_id)
    return deployment_info(conn, deployment_id)


def publish(
    conn: sqlite3.Connection,
    site: str,
    files: list[FileEntry],
    manifest: Manifest,
    deployed_by: str,
    live: bool = True,
    kind: str = "user",
) -> dict:
    """Create and finalize a deployment whose blobs are stored, in this one transaction."""
    dep_id = create_pending(conn, site, files, manifest, deployed_by, kind)
    return finalize(conn, dep_id, live=live)


def store_and_publish(
    conn: sqlite3.Connection,
    site: str,
    files: list[tuple[FileEntry, bytes]],
    manifest: Manifest,
    deployed_by: str,
    *,
    live: bool = True,
    kind: str = "user",
) -> dict:
    """A whole deploy in one transaction: blobs, deployment, pointer flip."""
    store_blobs(conn, [(entry.sha256, data) for entry, data in files])
    return publish(conn, site, [e for e, _ in files], manifest, deployed_by, live, kind)


# -- reads --------------------------------------------------------------------------------


def deployment_info(conn: sqlite3.Connection, deployment_id: int) -> dict:
    row = conn.execute(
        "SELECT d.*, s.live_deployment_id FROM deployments d JOIN sites s ON s.name = d.site "
        "WHERE d.id = ?",
        (deployment_id,),
    ).fetchone()
    return _deployment_dict(row)


def _deployment_dict(row: sqlite3.Row) -> dict:
    return {
        "id": row["id"],
        "site": row["site"],
        "state": row["state"],
        "live": row["live_deployment_id"] == row["id"],
        "file_count": row["file_count"],
        "size_bytes": row["size_bytes"],
        "manifest": json.loads(row["manifest"]),
        "deployed_by": row["deployed_by"],
        "created_at": row["created_at"],
        "finalized_at": row["finalized_at"],
        "live_at": row["live_at"],
        "preview_id": row["preview_id"],
    }


def history(conn: sqlite3.Connection, site: str) -> list[dict]:
    rows = conn.execute(
        "SELECT d.*, s.live_deployment_id FROM deployments d JOIN sites s ON s.name = d.site "
        "WHERE d.site = ? AND d.state = 'ready' ORDER BY d.id DESC",
        (site,),
    ).fetchall()
    return [_deployment_dict(r) for r in rows]


# Sites with their live deployment's numbers. A site whose first deploy is still uploading
# (or was abandoned) has no ready deployment and is not an app yet.
_SITES = (
    "SELECT s.name, s.kind, s.live_deployment_id, s.created_at, s.updated_at, s.previews,"
    " d.file_count, d.size_bytes, d.live_at FROM sites s"
    " LEFT JOIN deployments d ON d.id = s.live_deployment_id"
    " WHERE EXISTS (SELECT 1 FROM deployments r WHERE r.site = s.name AND r.state = 'ready')"
)


def list_sites(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute(_SITES + " ORDER BY s.name").fetchall()
    return [_site_dict(r) for r in rows]


def site_info(conn: sqlite3.Connection, name: str) -> dict | None:
    row = conn.execute(_SITES + " AND s.name = ?", (name,)).fetchone()
    return _site_dict(row) if row else None


def _site_dict(row: sqlite3.Row) -> dict:
    return {
        "name": row["name"],
        "kind": row["kind"],
        "live_deployment_id": row["live_deployment_id"],
        "file_count": row["file_count"] or 0,
        "size_bytes": row["size_bytes"] or 0,
        "last_deploy_at": row["live_at"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "previews": bool(row["previews"]),
    }


def set_previews(conn: sqlite3.Connection, name: str, enabled: bool) -> None:
    """Turn the site's deployment URLs (<site>--<preview id>) on or off."""
    conn.execute("UPDATE sites SET previews = ? WHERE name = ?", (int(enabled), name))


def list_files(conn: sqlite3.Connection, deployment_id: int) -> list[dict]:
    rows = conn.execute(
        "SELECT path, sha256, size, mime FROM deployment_files WHERE deployment_id = ? "
        "ORDER BY path",
        (deployment_id,),
    ).fetchall()
    return [dict(r) for r in rows]


def lookup_file(conn: sqlite3.Connection, deployment_id: int, path: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT path, sha256, size, mime FROM deployment_files "
        "WHERE deployment_id = ? AND path = ?",
        (deployment_id, path),
    ).fetchone()


def _seconds_ago(seconds: int) -> str:
    return stamp(datetime.now(UTC) - timedelta(seconds=seconds))
