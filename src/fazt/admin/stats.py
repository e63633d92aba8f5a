"""What the dashboard pages show, gathered in one read each (runs on a reader thread)."""

import importlib
import logging
import sqlite3
from types import ModuleType
from typing import Any

from fazt.admin import event_counts
from fazt.api import system
from fazt.db import disk, settings
from fazt.db.clock import utcnow
from fazt.hosting import deployments
from fazt.runtime import store
from fazt.state import ServerState
from fazt.storage import documents, kv, objects

log = logging.getLogger("fazt")
LOG_LINES = 100
FILE_LIST_MAX = 500
STORAGE_SAMPLE = 50  # kv keys / blobs listed on the app page
SAMPLE_CHARS = 120


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


def overview(conn: sqlite3.Connection, state: ServerState) -> dict:
    """/api/system's facts, plus requests and errors per hour when analytics exist."""
    info = system.system_info(conn, state)
    warn_mb = settings.get_int(conn, "disk_free_warn_mb")
    info["disk_warning"] = disk.free_space_warning(state.db.path, warn_mb)
    queries = _analytics()
    info["request_series"] = _safely(queries.request_series, conn, 24) if queries else None
    return info


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
            "kv_sample": _kv_sample(conn, name),
            "collections": documents.collections(conn, name),
            "objects": objects.totals(conn, name),
            "object_sample": _object_sample(conn, name),
        },
    }


def _kv_sample(conn: sqlite3.Connection, app: str) -> list[dict]:
    """The first keys with the start of their (JSON) values: a glance, not an export."""
    rows = conn.execute(
        "SELECT key, substr(value, 1, ?) AS value, length(value) AS size, expires_at"
        " FROM app_kv WHERE app = ? AND (expires_at IS NULL OR expires_at > ?)"
        " ORDER BY key LIMIT ?",
        (SAMPLE_CHARS, app, utcnow(), STORAGE_SAMPLE),
    ).fetchall()
    return [dict(r) for r in rows]


def _object_sample(conn: sqlite3.Connection, app: str) -> list[dict]:
    rows = conn.execute(
        "SELECT path, size, mime, updated_at FROM app_objects WHERE app = ? ORDER BY path LIMIT ?",
        (app, STORAGE_SAMPLE),
    ).fetchall()
    return [dict(r) for r in rows]


def analytics(conn: sqlite3.Connection, site: str | None, days: int) -> dict | None:
    queries = _analytics()
    if queries is None:
        return None
    return {
        "overview": _safely(queries.overview, conn, site, days),
        "redirects": _safely(queries.redirect_clicks, conn),
        "webhooks": _safely(queries.webhook_events, conn, 20),
        "events": _safely(event_counts.event_series, conn, site, days),
    }
