"""/api/system and /api/sessions: what the dashboard's Overview and Settings pages show,
for scripts (admin scope)."""

import contextlib
import json
import os
import shutil
import sqlite3
import time

from fazt.auth import sessions
from fazt.auth.tokens import ApiKey
from fazt.backup import replicate
from fazt.db import settings
from fazt.hosting import deployments
from fazt.state import ServerState
from fazt.web.http import Request, Response, json_response

RECENT_DEPLOYS = 10


def https_status(conn: sqlite3.Connection, values: dict[str, str]) -> dict:
    """The HTTPS settings and the certificate being served (names and dates only)."""
    status = {
        "enabled": values.get("https_enabled") == "1",
        "email": values.get("https_email", ""),
        "directory": values.get("https_directory", "") or "Let's Encrypt",
        "hsts": values.get("https_hsts") == "1",
        "certificate": None,
    }
    try:
        row = conn.execute(
            "SELECT names, not_before, not_after, issued_at FROM certificates"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
    except sqlite3.Error:  # a build without HTTPS support
        row = None
    if row is not None:
        cert = dict(row)
        with contextlib.suppress(ValueError, TypeError):  # shown raw if not a JSON list
            cert["names"] = ", ".join(json.loads(cert["names"]))
        status["certificate"] = cert
    return status


def system_info(conn: sqlite3.Connection, state: ServerState) -> dict:
    """Version, uptime, database and disk sizes, recent deploys, settings (no secrets)."""
    path = state.db.path
    disk = shutil.disk_usage(path.parent)
    values = settings.all_settings(conn)
    recent = conn.execute(
        "SELECT id, site, file_count, size_bytes, deployed_by, finalized_at FROM deployments"
        " WHERE state = 'ready' ORDER BY id DESC LIMIT ?",
        (RECENT_DEPLOYS,),
    ).fetchall()
    return {
        "version": state.version,
        "uptime_seconds": int(time.time() - state.started),
        "database": str(path),
        "database_bytes": sum(
            os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p)
        ),
        "disk_free_bytes": disk.free,
        "disk_total_bytes": disk.total,
        "sites": len(deployments.list_sites(conn)),
        "recent_deploys": [dict(r) for r in recent],
        "domain": values["domain"],
        "port": int(values["port"]),
        "dashboard_url": state.dashboard_url(),
        "session_ttl_seconds": int(values["session_ttl_seconds"]),
        "trusted_proxies": values["trusted_proxies"],
        "https": https_status(conn, values),
        "replication": replicate.describe(path, values),  # local files only: cheap
    }


async def system(state: ServerState, req: Request, key: ApiKey) -> Response:
    return json_response(await state.db.read(system_info, state))


async def list_sessions(state: ServerState, req: Request, key: ApiKey) -> Response:
    return json_response(await state.db.read(sessions.list_active))


async def end_sessions(state: ServerState, req: Request, key: ApiKey) -> Response:
    """Log out everywhere: every dashboard session of every user ends now."""
    return json_response({"ended": await state.db.write(sessions.revoke_all)})
