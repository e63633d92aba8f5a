"""System sites (`root`, `404`, `admin`) shipped inside the package.

On every start, a system site whose live deployment was made by the system is refreshed
when the package's files differ, so upgrading fazt updates its pages. A site an admin
deployed over (say, a custom `root` landing page) is left alone.
"""

import sqlite3
from pathlib import Path

from fazt.hosting import deployments, mime
from fazt.hosting.deployments import FileEntry, sha256_hex
from fazt.hosting.manifest import Manifest
from fazt.hosting.names import SYSTEM_SITES

SYSTEM_DEPLOYER = "system"


def packaged_files(site: str) -> list[tuple[FileEntry, bytes]]:
    # beside this file, not through importlib.resources (it imports zipfile: idle memory)
    root = Path(__file__).parent / "system_site_files" / site
    files = []
    for path, entry in _walk(root, ""):
        data = entry.read_bytes()
        files.append((FileEntry(path, sha256_hex(data), len(data), mime.guess(path)), data))
    return sorted(files, key=lambda f: f[0].path)


def _walk(node, prefix: str):
    for child in node.iterdir():
        path = f"{prefix}{child.name}"
        if child.is_dir():
            yield from _walk(child, path + "/")
        else:
            yield path, child


def seed(conn: sqlite3.Connection) -> list[str]:
    """Create or refresh system sites; return the names that changed."""
    changed = []
    for site in SYSTEM_SITES:
        files = packaged_files(site)
        row = deployments.site_row(conn, site)
        live_id = row["live_deployment_id"] if row else None
        if live_id is not None:
            dep = conn.execute(
                "SELECT deployed_by FROM deployments WHERE id = ?", (live_id,)
            ).fetchone()
            if dep["deployed_by"] != SYSTEM_DEPLOYER:
                continue  # an admin replaced it on purpose
            current = {(f["path"], f["sha256"]) for f in deployments.list_files(conn, live_id)}
            if current == {(e.path, e.sha256) for e, _ in files}:
                continue
        deployments.store_and_publish(
            conn, site, files, Manifest(), SYSTEM_DEPLOYER, live=True, kind="system"
        )
        changed.append(site)
    return changed
