"""After a v0.9 import: the new database read back and compared with the old one.

Every imported file's bytes are hashed again on both sides (the old row's content, the
new blob) and must match path for path; the counts of every other kind must be what the
report says was imported. Any difference is a mismatch, and the import is not kept.
"""

import sqlite3

from fazt.compat.v09_context import Context
from fazt.compat.v09_report import Report
from fazt.hosting import deployments
from fazt.hosting.paths import deployment_path

COUNTS = {
    "sites": "SELECT COUNT(*) FROM sites s JOIN deployments d ON d.id = s.live_deployment_id "
    "WHERE d.deployed_by = 'migrate-v09'",
    "kv": "SELECT COUNT(*) FROM app_kv",
    "documents": "SELECT COUNT(*) FROM app_documents",
    "objects": "SELECT COUNT(*) FROM app_objects",
    "env_vars": "SELECT COUNT(*) FROM app_env",
    "admin": "SELECT COUNT(*) FROM users",
    "api_keys": "SELECT COUNT(*) FROM legacy_key_hashes",
    "redirects": "SELECT COUNT(*) FROM redirects",
    "webhooks": "SELECT COUNT(*) FROM webhooks",
    "events": "SELECT (SELECT COUNT(*) FROM analytics_events)"
    " + (SELECT COUNT(*) FROM webhook_events)",
}


def verify(src: sqlite3.Connection, dst: sqlite3.Connection, rep: Report, ctx: Context) -> None:
    """Fill rep.mismatches (empty when the new database holds what was imported)."""
    for tally in rep.tallies.values():  # every row found is accounted for
        if tally.found != tally.imported + tally.skipped:
            rep.mismatches.append(
                f"{tally.kind}: {tally.found} found but {tally.imported} imported and "
                f"{tally.skipped} skipped"
            )
    for kind, sql in COUNTS.items():
        expected = rep.tallies[kind].imported if kind in rep.tallies else 0
        got = dst.execute(sql).fetchone()[0]
        if got != expected:
            rep.mismatches.append(f"{kind}: {expected} imported but {got} in the new database")
    files = 0
    for old, name in ctx.sites.items():
        files += _compare_site(src, dst, old, name, ctx, rep)
    if files != rep.tally("files").imported:
        rep.mismatches.append(
            f"files: {rep.tally('files').imported} imported but {files} in the new database"
        )
    rep.verified = not rep.mismatches


def _compare_site(
    src: sqlite3.Connection, dst: sqlite3.Connection, old: str, name: str, ctx: Context, rep: Report
) -> int:
    """Compare one site's files; the number found in the new database."""
    live = dst.execute("SELECT live_deployment_id FROM sites WHERE name = ?", (name,)).fetchone()
    new = {
        f["path"]: f["sha256"]
        for f in (deployments.list_files(dst, live[0]) if live and live[0] else [])
    }
    for raw_path, content in src.execute(
        "SELECT path, content FROM files WHERE site_id = ?", (old,)
    ):
        if (old, raw_path) in ctx.skipped_files:
            continue
        path = deployment_path(raw_path)
        data = content.encode() if isinstance(content, str) else bytes(content)
        want = deployments.sha256_hex(data)
        blob = deployments.read_blob(dst, new.get(path, ""))
        if new.get(path) != want or blob is None or deployments.sha256_hex(blob) != want:
            rep.mismatches.append(f"site {name}: {path} differs from v0.9's (sha256 {want})")
    return len(new)
