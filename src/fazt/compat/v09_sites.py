"""v0.9's sites (the rows of its `files` table) as sites with one live deployment each.

A file that cannot be imported as it is (bytes that do not match their stored hash, no
content, an unsafe path, a file this fazt never publishes) is skipped with its reason in
the report, never guessed at.
"""

import sqlite3

from fazt.compat.v09_context import Context
from fazt.compat.v09_report import Report
from fazt.hosting import deployments, mime
from fazt.hosting import manifest as manifests
from fazt.hosting.names import InvalidSiteName, validate_site_name
from fazt.hosting.paths import UnsafePath, deployment_path
from fazt.hosting.publishing_policy import PublishingPolicy

DEPLOYER = "migrate-v09"  # deployed_by of every imported deployment
# v0.9's seeded sites: its dashboard is replaced by this fazt's; root and 404 are kept
# as this fazt's system sites, deployed by the import (so seeding leaves them alone).
V09_DASHBOARD = "admin"
KEPT_SYSTEM_SITES = ("root", "404")

# -- sites and files --------------------------------------------------------------------------


def import_sites(
    src: sqlite3.Connection, dst: sqlite3.Connection, rep: Report, ctx: Context
) -> None:
    """Each v0.9 site (its rows in `files`) becomes a site with one live deployment."""
    sites, files = rep.tally("sites"), rep.tally("files")
    old_ids = [r[0] for r in src.execute("SELECT DISTINCT site_id FROM files ORDER BY site_id")]
    for old in old_ids:
        count = src.execute("SELECT COUNT(*) FROM files WHERE site_id IS ?", (old,)).fetchone()[0]
        sites.found += 1
        files.found += count
        name, kind, why = _site_name(old, ctx)
        if why:
            sites.skip(str(old), why)
            for (path,) in src.execute("SELECT path FROM files WHERE site_id IS ?", (old,)):
                files.skip(f"{old}/{path}", f"its site is not imported: {why}")
                ctx.skipped_files.add((old, path))
            continue
        entries, manifest_bytes = _import_files(src, dst, old, rep, ctx)
        if not entries:
            sites.skip(old, "no file of it can be published")
            continue
        manifest = _manifest(manifest_bytes, name, rep)
        deployments.publish(dst, name, entries, manifest, DEPLOYER, True, kind)
        ctx.sites[old] = name
        sites.imported += 1
        files.imported += len(entries)


def _site_name(old: object, ctx: Context) -> tuple[str, str, str | None]:
    """(new name, kind, None) or (_, _, why it is skipped)."""
    if not isinstance(old, str):
        return "", "", "the site id is not text (corrupt row)"
    name = old.lower()  # v0.9 stored names as typed but routed lower-cased hosts
    if name == V09_DASHBOARD:
        return "", "", "v0.9's dashboard: this fazt has its own"
    if name in ctx.sites.values():
        return "", "", f"same name as another v0.9 site once lower-cased ('{name}')"
    if name in KEPT_SYSTEM_SITES:
        return name, "system", None
    try:
        validate_site_name(name)
    except InvalidSiteName as exc:
        return "", "", f"not a valid site name here: {exc}"
    return name, "user", None


def _import_files(
    src, dst, old: str, rep: Report, ctx: Context
) -> tuple[list[deployments.FileEntry], bytes | None]:
    """Store the site's publishable files' blobs; their entries and manifest.json's bytes."""
    files, policy = rep.tally("files"), PublishingPolicy()
    entries: dict[str, deployments.FileEntry] = {}
    manifest_bytes = None
    rows = src.execute(
        "SELECT path, content, hash FROM files WHERE site_id = ? ORDER BY path", (old,)
    )
    for raw_path, content, stored_hash in rows:
        item = f"{old}/{raw_path}"
        path, why = _file_path(raw_path, content, stored_hash, policy)
        if why is None and path in entries:
            why = "another file has the same path once normalised (Unicode NFC)"
        if why:
            files.skip(item, why)
            ctx.skipped_files.add((old, raw_path))
            continue
        data = content.encode() if isinstance(content, str) else bytes(content)
        sha = deployments.sha256_hex(data)
        deployments.store_blob(dst, sha, data)
        entries[path] = deployments.FileEntry(path, sha, len(data), mime.guess(path))
        if path == "manifest.json":
            manifest_bytes = data
    return list(entries.values()), manifest_bytes


def _file_path(
    raw_path: object, content: object, stored_hash: object, policy: PublishingPolicy
) -> tuple[str | None, str | None]:
    """(deployment path, None) or (None, why the file is skipped)."""
    if not isinstance(raw_path, str):
        return None, "the path is not text (corrupt row)"
    if not isinstance(content, bytes | str):
        return None, "no content (corrupt row)"
    data = content.encode() if isinstance(content, str) else content
    if not isinstance(stored_hash, str) or deployments.sha256_hex(data) != stored_hash.lower():
        return None, "the bytes do not match their stored sha256 (corrupt row)"
    try:
        path = deployment_path(raw_path)
    except UnsafePath as exc:
        return None, f"unsafe path: {exc}"
    refusal = policy.refusal(path)
    if refusal is not None:
        return None, f"not published by this fazt ({refusal}); deploy it on purpose if needed"
    return path, None


def _manifest(raw: bytes | None, site: str, rep: Report) -> manifests.Manifest:
    try:
        return manifests.parse(raw)
    except manifests.InvalidManifest as exc:
        # v0.9 never read manifest.json: serve the file, without its settings.
        rep.notes.append(f"site {site}: manifest.json not applied ({exc})")
        return manifests.Manifest()
