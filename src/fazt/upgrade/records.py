"""The `upgrades` table: one row per upgrade, with its steps and outcome.

Plain functions on a sqlite3 connection, so that the supervisor (which has no Database
object) can record the outcome of the handover too.
"""

import json
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta

from fazt.db.clock import stamp, utcnow

FINISHED = ("committed", "rolled_back", "failed")
STALE_AFTER = timedelta(minutes=15)  # an unfinished upgrade this old was interrupted


class UpgradeInProgress(Exception):
    pass


def create(conn: sqlite3.Connection, from_version: str, to_version: str) -> str:
    """A new pending upgrade; UpgradeInProgress if another one is running."""
    _expire_stale(conn)
    running = conn.execute(
        "SELECT id FROM upgrades WHERE finished_at IS NULL ORDER BY started_at LIMIT 1"
    ).fetchone()
    if running:
        raise UpgradeInProgress(running[0])
    upgrade_id = "up_" + secrets.token_hex(6)
    conn.execute(
        "INSERT INTO upgrades (id, status, from_version, to_version, started_at)"
        " VALUES (?, 'pending', ?, ?, ?)",
        (upgrade_id, from_version, to_version, utcnow()),
    )
    return upgrade_id


def _expire_stale(conn: sqlite3.Connection) -> None:
    cutoff = stamp(datetime.now(UTC) - STALE_AFTER)  # same precision as the stored times
    conn.execute(
        "UPDATE upgrades SET status = 'failed', finished_at = ?,"
        " message = 'interrupted (the server stopped during the upgrade)'"
        " WHERE finished_at IS NULL AND started_at < ?",
        (utcnow(), cutoff),
    )


def step(conn: sqlite3.Connection, upgrade_id: str, status: str, message: str) -> None:
    """Record progress: the status moves on and the step is appended to the list."""
    row = conn.execute("SELECT steps FROM upgrades WHERE id = ?", (upgrade_id,)).fetchone()
    if row is None:
        return
    steps = json.loads(row[0])
    steps.append({"at": utcnow(), "step": status, "message": message})
    finished = utcnow() if status in FINISHED else None
    conn.execute(
        "UPDATE upgrades SET status = ?, message = ?, steps = ?,"
        " finished_at = COALESCE(finished_at, ?) WHERE id = ?",
        (status, message, json.dumps(steps), finished, upgrade_id),
    )


def get(conn: sqlite3.Connection, upgrade_id: str) -> dict | None:
    row = conn.execute("SELECT * FROM upgrades WHERE id = ?", (upgrade_id,)).fetchone()
    if row is None:
        return None
    return {
        "id": row["id"],
        "status": row["status"],
        "from_version": row["from_version"],
        "to_version": row["to_version"],
        "message": row["message"],
        "finished": row["finished_at"] is not None,
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "steps": json.loads(row["steps"]),
    }


def step_standalone(db_path: str, upgrade_id: str, status: str, message: str) -> None:
    """Record a step from a process without a Database (the supervisor)."""
    conn = sqlite3.connect(db_path, timeout=10, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("BEGIN IMMEDIATE")
        step(conn, upgrade_id, status, message)
        conn.execute("COMMIT")
    finally:
        conn.close()


def latest(conn: sqlite3.Connection) -> dict | None:
    """The most recent upgrade (the dashboard's upgrade page follows it)."""
    row = conn.execute("SELECT id FROM upgrades ORDER BY started_at DESC LIMIT 1").fetchone()
    return get(conn, row[0]) if row else None
