"""What the dashboard pages show, gathered in one read each (runs on a reader thread)."""

import importlib
import logging
import os
import shutil
import sqlite3
import time
from types import ModuleType
from typing import Any

from fazt.hosting import deployments
from fazt.runtime import store
from fazt.storage import documents, kv, objects

log = logging.getLogger("fazt")
RECENT_DEPLOYS = 10
LOG_LINES = 100
FILE_LIST_MAX = 500


def _analytics() -> ModuleType | None:
    """The analytics queries, when that module is installed (the dashboard works without)."""
    try:
        return importlib.import_module("fazt.analytics.queries")
    except ImportError:
        return None


def _safely(fn, *args) -> Any:
    """Analytics are optional: a missing table or function shows as "no data"."""
    try:
        return fn(*args)
    except (sqlite3.Error, AttributeError, TypeError, ValueError) as exc:
        log.warning("dashboard: analytics query failed: %s", exc)
        return None


def overview(conn: sqlite3.Connection, state) -> dict:
    path = state.db.path
    db_bytes = sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))
    disk = shutil.disk_usage(path.parent)
    recent = conn.execute(
        "SELECT id, site, file_count, size_bytes, deployed_by, finalized_at FROM deployments"
        " WHERE state = 'ready' ORDER BY id DESC LIMIT ?",
        (RECENT_DEPLOYS,),
    ).fetchall()
    queries = _analytics()
    series = _safely(queries.request_series, conn, 24) if queries else None
    return {
        "version": state.version,
        "uptime": time.time() - state.started,
        "db_path": str(path),
        "db_bytes": db_bytes,
        "disk_free": disk.free,
        "disk_total": disk.total,
        "sites": len(deployments.list_sites(conn)),
        "recent": [dict(r) for r in recent],
        "request_series": series,
    }


def app_details(conn: sqlite3.Connection, name: str) -> dict | None:
    site = deployments.site_info(conn, name)
    if site is None:
        return None
    live = site["live_deployment_id"]
    files = deployments.list_files(conn, live) if live else []
    return {
        "site": site,
        "history": deployments.history(conn, name),
        "files": files[:FILE_LIST_MAX],
        "file_total": len(files),
        "env": store.env_names(conn, name),
        "logs": store.read_logs(conn, name, 0, LOG_LINES),
        "storage": {
            "kv_keys": kv.count_keys(conn, name),
            "collections": documents.collections(conn, name),
            "objects": objects.totals(conn, name),
        },
    }


def analytics(conn: sqlite3.Connection, site: str | None, days: int) -> dict | None:
    queries = _analytics()
    if queries is None:
        return None
    return {
        "overview": _safely(queries.overview, conn, site, days),
        "redirects": _safely(queries.redirect_clicks, conn),
        "webhooks": _safely(queries.webhook_events, conn, 20),
    }
