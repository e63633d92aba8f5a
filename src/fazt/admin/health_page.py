"""The server health view: traffic and errors, latency, the JavaScript pool, the database
and its WAL, each process's memory, free disk, certificates and the last backup, with a
warning next to anything that needs attention."""

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from fazt.admin.dashboard import Page, render
from fazt.analytics import queries
from fazt.backup import snapshot
from fazt.backup.service import backup_folder
from fazt.cpu import run_cpu
from fazt.db import settings
from fazt.db.clock import parse
from fazt.https.report import describe
from fazt.web.handover import supervisor_pid
from fazt.web.http import Response

# Thresholds for warnings (documented in docs/dashboard.md, "Health").
DISK_LOW_FRACTION = 0.10
DISK_LOW_BYTES = 1024**3
WAL_LARGE_BYTES = 256 * 1024**2
CERT_SOON_DAYS = 14
BACKUP_OLD_HOURS = 48
ERROR_RATE_HIGH = 0.05
P99_SLOW_SECONDS = 1.0


def rss_bytes(pid: int) -> int | None:
    """A process's resident memory, from /proc (None when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def processes() -> list[dict]:
    """The supervisor (when there is one), this worker and its JavaScript workers."""
    me = os.getpid()
    found = []
    parent = supervisor_pid()
    if parent is not None:
        found.append({"role": "supervisor", "pid": parent, "rss": rss_bytes(parent)})
    found.append({"role": "server worker", "pid": me, "rss": rss_bytes(me)})
    for child in _children(me):
        found.append({"role": "JavaScript worker", "pid": child, "rss": rss_bytes(child)})
    return found


def _files(db_path: Path, backups: Path) -> dict:
    """File facts (runs on the CPU pool: stat calls, a directory listing)."""
    size = lambda p: os.path.getsize(p) if os.path.exists(p) else 0  # noqa: E731
    disk = shutil.disk_usage(db_path.parent)
    latest = snapshot.list_backups(backups)
    return {
        "db_bytes": size(db_path),
        "wal_bytes": size(f"{db_path}-wal"),
        "disk_free": disk.free,
        "disk_total": disk.total,
        "last_backup": latest[0] if latest else None,
        "processes": processes(),
    }


def _db_facts(conn: sqlite3.Connection) -> dict:
    values = settings.all_settings(conn)
    series = queries.request_series(conn, 24)
    return {
        "backups": backup_folder(values),
        "requests": sum(h["requests"] for h in series),
        "errors": sum(h["errors"] for h in series),
        "https": describe(conn),
    }


def _age_hours(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        moment = parse(stamp)
    except ValueError:
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
    return (datetime.now(UTC) - moment).total_seconds() / 3600


def warnings(h: dict) -> list[str]:
    """What needs attention, in plain words."""
    out = []
    if h["disk_free"] < DISK_LOW_BYTES or h["disk_free"] < DISK_LOW_FRACTION * h["disk_total"]:
        out.append("Disk space is low: deploys and backups may fail.")
    if h["wal_bytes"] > WAL_LARGE_BYTES:
        out.append("The write-ahead log is large: a long read may be holding checkpoints.")
    if h["requests"] and h["errors"] / h["requests"] > ERROR_RATE_HIGH:
        out.append(f"More than {ERROR_RATE_HIGH:.0%} of the last 24 h's requests were 5xx errors.")
    if h["p99"] is not None and h["p99"] > P99_SLOW_SECONDS:
        out.append(f"p99 latency is above {P99_SLOW_SECONDS:g} s.")
    cert = h["certificate"]
    if cert is not None:
        names = ", ".join(cert["names"])
        if cert["expired"]:
            out.append(f"The certificate for {names} has expired.")
        elif cert["days_left"] < CERT_SOON_DAYS:
            out.append(f"The certificate for {names} expires in {cert['days_left']} days.")
    age = h["backup_age_hours"]
    if age is None:
        out.append("No backup yet: Backups → Create, or `fazt server backup`.")
    elif age > BACKUP_OLD_HOURS:
        out.append(f"The last backup is {age:.0f} hours old.")
    pool = h["pool"]
    if pool and pool["queued"] > 0 and pool["busy"] >= pool["size"]:
        out.append("Every JavaScript worker is busy and requests are waiting.")
    return out


def _certificate(https: dict) -> dict | None:
    """The served certificate with its days left (None: HTTPS is off or has none yet)."""
    cert = https.get("certificate")
    if not cert:
        return None
    left = (parse(cert["not_after"]) - datetime.now(UTC)).total_seconds()
    return {**cert, "days_left": int(left // 86400)}


async def health_page(page: Page) -> Response:
    state = page.state
    facts = await state.db.read(_db_facts)
    files = await run_cpu(_files, state.db.path, facts["backups"])
    backup = files["last_backup"]
    latency = state.latency
    h = {
        **facts,
        **files,
        "certificate": _certificate(facts["https"]),
        "p50": latency.quantile(0.5),
        "p99": latency.quantile(0.99),
        "measured": latency.total,
        "pool": state.js_pool.usage() if state.js_pool is not None else None,
        "backup_age_hours": _age_hours(backup.get("created_at")) if backup else None,
    }
    h["warnings"] = warnings(h)
    return render(page, "health.html", h=h)
