"""Scheduled jobs in SQLite (tables of migration 015): each job's next run and its claim,
and the log of its runs.

Every function takes the connection it runs on; the ones that change rows run on the
writer, in its transaction, so that a claim is one compare-and-set: two server workers
(during a handover) or a manual run and a scheduled one never run one job at once.
"""

import sqlite3
from dataclasses import dataclass

ERROR_EXCERPT_CHARS = 500
CLAIMED, RUNNING, SKIPPED, WAITING, SCHEDULED = "claimed", "running", "skipped", "waiting", "new"


@dataclass(frozen=True)
class LiveApp:
    """A site whose live deployment's manifest may declare jobs."""

    site: str
    deployment_id: int
    manifest: str
    live_at: str | None = None  # when this deployment went live (a deploy, a rollback)


def live_apps(conn: sqlite3.Connection) -> list[LiveApp]:
    """Sites whose live deployment's manifest mentions cron (only those jobs ever run)."""
    rows = conn.execute(
        "SELECT s.name, d.id, d.manifest, d.live_at FROM sites s "
        "JOIN deployments d ON d.id = s.live_deployment_id AND d.site = s.name "
        "WHERE d.state = 'ready' AND d.manifest LIKE '%\"cron\"%' ORDER BY s.name"
    ).fetchall()
    return [LiveApp(r[0], r[1], r[2], r[3]) for r in rows]


def live_app(conn: sqlite3.Connection, site: str) -> LiveApp | None:
    row = conn.execute(
        "SELECT s.name, d.id, d.manifest, d.live_at FROM sites s "
        "JOIN deployments d ON d.id = s.live_deployment_id AND d.site = s.name "
        "WHERE s.name = ? AND d.state = 'ready'",
        (site,),
    ).fetchone()
    return LiveApp(row[0], row[1], row[2] or "", row[3]) if row else None


def states(conn: sqlite3.Connection, site: str | None = None) -> dict[tuple[str, str], dict]:
    """{(site, name): {schedule, next_run, running_since}}, of one site or all."""
    query = "SELECT site, name, schedule, next_run, running_since FROM job_state"
    rows = conn.execute(query + " WHERE site = ?", (site,)) if site else conn.execute(query)
    return {(r["site"], r["name"]): dict(r) for r in rows}


def claim(
    conn: sqlite3.Connection,
    site: str,
    name: str,
    schedule: str,
    now: str,
    next_run: str,
    stale_before: str,
    manual: bool = False,
    first_run: str | None = None,
) -> str:
    """Decide one job's turn at `now`: SCHEDULED (first seen, or its schedule changed:
    its next run set to `first_run`, the first fire time after it went live; nothing
    runs yet), WAITING (not due), CLAIMED (it runs now, marked
    running, next run set), SKIPPED (due while a run older than `stale_before` is not
    over: logged, next run set) or RUNNING (a manual run while one runs). A due job's
    next run is the first one after `now`, so runs missed while the server was down
    come back as one run at most."""
    row = conn.execute(
        "SELECT schedule, next_run, running_since FROM job_state WHERE site = ? AND name = ?",
        (site, name),
    ).fetchone()
    if row is None or row["schedule"] != schedule:
        conn.execute(
            "INSERT INTO job_state (site, name, schedule, next_run) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(site, name) DO UPDATE SET schedule = excluded.schedule, "
            "next_run = excluded.next_run",
            (site, name, schedule, first_run or next_run),
        )
        if not manual:
            return SCHEDULED
        row = {"next_run": first_run or next_run, "running_since": None}
    if not manual and row["next_run"] > now:
        return WAITING
    busy = row["running_since"] is not None and row["running_since"] >= stale_before
    if busy and manual:
        return RUNNING
    new_next = row["next_run"] if manual else next_run
    if busy:
        conn.execute(
            "UPDATE job_state SET next_run = ? WHERE site = ? AND name = ?",
            (new_next, site, name),
        )
        _add_run(
            conn, site, name, "schedule", now, 0, "skipped", None, "the previous run is not over"
        )
        return SKIPPED
    conn.execute(
        "UPDATE job_state SET next_run = ?, running_since = ? WHERE site = ? AND name = ?",
        (new_next, now, site, name),
    )
    return CLAIMED


def finish(
    conn: sqlite3.Connection,
    site: str,
    name: str,
    trigger: str,
    started: str,
    duration_ms: int,
    status: str,
    http_status: int | None,
    error: str | None,
    keep: int,
) -> None:
    """Store a run and release the job's claim (if it is still this run's)."""
    conn.execute(
        "UPDATE job_state SET running_since = NULL WHERE site = ? AND name = ? "
        "AND running_since = ?",
        (site, name, started),
    )
    if conn.execute("SELECT 1 FROM sites WHERE name = ?", (site,)).fetchone() is None:
        return  # the app was deleted while its job ran
    _add_run(conn, site, name, trigger, started, duration_ms, status, http_status, error)
    conn.execute(
        "DELETE FROM job_runs WHERE site = ? AND name = ? AND id <= (SELECT id FROM job_runs "
        "WHERE site = ? AND name = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (site, name, site, name, keep),
    )


def _add_run(
    conn: sqlite3.Connection,
    site: str,
    name: str,
    trigger: str,
    started: str,
    duration_ms: int,
    status: str,
    http_status: int | None,
    error: str | None,
) -> None:
    conn.execute(
        "INSERT INTO job_runs (site, name, trigger, started_at, duration_ms, status, "
        "http_status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (site, name, trigger, started, duration_ms, status, http_status, _excerpt(error)),
    )


def _excerpt(error: str | None) -> str | None:
    if error is None or len(error) <= ERROR_EXCERPT_CHARS:
        return error
    return error[: ERROR_EXCERPT_CHARS - 3] + "..."


def forget_others(
    conn: sqlite3.Connection, keep: list[tuple[str, str]], stale_before: str = ""
) -> int:
    """Drop the state of jobs no live deployment declares any more (their runs stay),
    once they do not run (or their claim is older than `stale_before`)."""
    gone = [key for key, row in states(conn).items() if key not in set(keep)]
    dropped = 0
    for site, name in gone:
        dropped += conn.execute(
            "DELETE FROM job_state WHERE site = ? AND name = ? "
            "AND (running_since IS NULL OR running_since < ?)",
            (site, name, stale_before),
        ).rowcount
    return dropped


def runs(conn: sqlite3.Connection, site: str, name: str | None = None, limit: int = 20) -> list:
    """The newest runs of a site's jobs (of one job with `name`), newest first."""
    where, args = ("site = ? AND name = ?", (site, name)) if name else ("site = ?", (site,))
    rows = conn.execute(
        "SELECT id, name, trigger, started_at, duration_ms, status, http_status, error "
        f"FROM job_runs WHERE {where} ORDER BY id DESC LIMIT ?",
        (*args, limit),
    )
    return [dict(r) for r in rows]
