"""The scheduler of apps' jobs (`manifest.json` "cron"): one periodic task per server
worker that runs each due job of each site's live deployment.

A job's run is an internal request, `POST <path>` with the header `x-fazt-cron: <name>`
(service.CRON_HEADER, which no outside request can carry: it is dropped from theirs),
through the same JS workers, limits and per-app fairness queues as a visitor's request.

- Times are UTC. A job first seen (a deploy, a changed schedule) runs at its next fire
  time after that; a due job's next run is the first fire time after now, so after the
  server was down the runs it missed come back as ONE run, at once, never as a pile.
- One run at a time per job: the claim is a compare-and-set in SQLite (job_store.claim),
  so a second server worker during a handover does not run it too. A job due while its
  previous run is still going is skipped, and the skip is logged. A claim older than
  the longest a run can last (the server's maximum timeout and a margin) is a run lost
  with a crashed server, and no longer holds the job.
- The run log (job_runs) keeps the newest `jobs_runs_kept` runs of each job.

Tests can make the scheduler's minute shorter with the environment variable
FAZT_TEST_CRON_TICK_SECONDS (not a setting: nothing else should ever use it): schedules
are then read on a clock running 60/N times faster, and stored times stay real.
"""

import asyncio
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from fazt import cron
from fazt.db import Database, settings
from fazt.db.clock import parse as parse_stamp
from fazt.db.clock import stamp
from fazt.hosting.manifest import CronJob, InvalidManifest
from fazt.hosting.manifest import parse as parse_manifest
from fazt.runtime import job_store
from fazt.runtime.service import Runtime
from fazt.web.http import HTTPError, Response

log = logging.getLogger("fazt.runtime.jobs")
TEST_TICK_ENV = "FAZT_TEST_CRON_TICK_SECONDS"
CHECK_EVERY_MINUTES = 1 / 6  # a new or changed job is seen within 10 s (scaled in tests)
STALE_MARGIN_SECONDS = 60.0
ERROR_BODY_CHARS = 300
MANIFESTS_KEPT = 1024  # parsed job lists, one per deployment id
CLOSE_GRACE_SECONDS = 5.0  # a stopping server lets runs in progress end this long


class JobError(Exception):
    """A manual run refused: `code` is JOB_NOT_FOUND or JOB_RUNNING."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class InternalRequest:
    """The request a job run sends to its app (POST, no body, the cron header)."""

    method = "POST"
    client_ip = ""  # not from the network

    def __init__(self, path: str, job: str) -> None:
        self.path = path
        self.cron = job  # read by service._request_json, which sets CRON_HEADER from it
        self.scope = SimpleNamespace(headers={}, query_string="")

    async def body(self, limit: int) -> bytes:
        return b""


class Clock:
    """Real UTC time, and the time schedules are read on (faster in tests)."""

    def __init__(self, minute_seconds: float = 60.0, now: Callable[[], float] = time.time) -> None:
        self.scale = 60.0 / minute_seconds
        self._now = now

    def real(self) -> datetime:
        return datetime.fromtimestamp(self._now(), UTC)

    def to_schedule(self, moment: datetime) -> datetime:
        return datetime.fromtimestamp(moment.timestamp() * self.scale, UTC)

    def to_real(self, moment: datetime) -> datetime:
        return datetime.fromtimestamp(moment.timestamp() / self.scale, UTC)

    def next_run(self, schedule: cron.Schedule, after: datetime) -> datetime:
        """The real time of the schedule's first fire after the real time `after`."""
        return self.to_real(schedule.next_after(self.to_schedule(after)))


def scheduler_minute_seconds() -> float:
    """The scheduler's minute: 60 s, or FAZT_TEST_CRON_TICK_SECONDS (0.5 to 60) in tests."""
    raw = os.environ.get(TEST_TICK_ENV, "")
    try:
        value = float(raw) if raw else 60.0
    except ValueError:
        return 60.0
    return min(60.0, max(0.5, value))


Runner = Callable[[str, int, CronJob], Any]  # (site, deployment id, job) -> awaitable Response


class Scheduler:
    def __init__(
        self,
        db: Database,
        runner: Runner,
        clock: Clock | None = None,
        stale_seconds: float = 90.0,
    ) -> None:
        """`runner(site, deployment_id, job)` sends the job's request and returns the
        Response (or None: no such route); HTTPError for a failed function."""
        self.db = db
        self.runner = runner
        self.clock = clock or Clock()
        self.stale_seconds = stale_seconds
        self.tasks: set[asyncio.Task] = set()
        self._manifests: dict[int, tuple[CronJob, ...]] = {}  # deployment id -> its jobs

    @classmethod
    def for_runtime(cls, db: Database, runtime: Runtime) -> "Scheduler":
        def runner(site: str, deployment_id: int, job: CronJob) -> Any:
            req = InternalRequest(job.path, job.name)
            if job.path == "/api" or job.path.startswith("/api/"):
                return runtime.handle(req, site, deployment_id)  # type: ignore[arg-type]
            return runtime.handle_legacy(req, site, deployment_id)  # type: ignore[arg-type]

        stale = runtime.config.max_timeout_ms / 1000 + STALE_MARGIN_SECONDS
        return cls(db, runner, Clock(scheduler_minute_seconds()), stale)

    def jobs_of(self, app: job_store.LiveApp) -> tuple[CronJob, ...]:
        found = self._manifests.get(app.deployment_id)
        if found is None:
            try:
                found = parse_manifest(app.manifest).cron
            except InvalidManifest:  # refused at deploy; an old row written by hand
                found = ()
            if len(self._manifests) >= MANIFESTS_KEPT:  # deployments come and go
                self._manifests.clear()
            self._manifests[app.deployment_id] = found
        return found

    async def tick(self) -> float:
        """Start every due job; the seconds until the next check. Writes only for jobs
        that are due or new (a claim), and for state left by jobs no longer declared."""
        now = self.clock.real()
        now_text = stamp(now)  # stored stamps have one width: text order is time order
        apps = await self.db.read(job_store.live_apps)
        known = await self.db.read(job_store.states)
        declared: set[tuple[str, str]] = set()
        changed = False
        for app in apps:
            for job in self.jobs_of(app):
                declared.add((app.site, job.name))
                row = known.get((app.site, job.name))
                if row and row["schedule"] == job.schedule and row["next_run"] > now_text:
                    continue  # not due: nothing to write
                changed = True
                turn = await self._claim(app.site, job, now, manual=False, live_at=app.live_at)
                if turn == job_store.CLAIMED:
                    self._start(app, job, "schedule", now)
                elif turn == job_store.SKIPPED:
                    log.warning(
                        "job %s/%s skipped: its previous run is not over", app.site, job.name
                    )
        if set(known) - declared:
            changed = True
            stale = stamp(now - timedelta(seconds=self.stale_seconds))
            await self.db.write(job_store.forget_others, sorted(declared), stale)
        if changed:
            known = await self.db.read(job_store.states)
        return self._until_next(now, [s["next_run"] for s in known.values()])

    def _until_next(self, now: datetime, next_runs: list[str]) -> float:
        """Until the earliest next run, at most CHECK_EVERY_MINUTES of the schedule clock
        (so a new deploy's jobs are seen soon)."""
        wait = 60.0 / self.clock.scale * CHECK_EVERY_MINUTES
        if next_runs:
            wait = min(wait, (parse_stamp(min(next_runs)) - now).total_seconds())
        return max(0.05, wait + 0.01)

    async def _claim(
        self, site: str, job: CronJob, now: datetime, manual: bool, live_at: str | None = None
    ) -> str:
        """job_store.claim at `now`; a job first seen gets its first fire time after its
        deployment went live (seen up to CHECK_EVERY_MINUTES later)."""
        schedule = cron.parse(job.schedule)
        first = self.clock.next_run(schedule, parse_stamp(live_at)) if live_at else None
        return await self.db.write(
            job_store.claim,
            site,
            job.name,
            job.schedule,
            stamp(now),
            stamp(self.clock.next_run(schedule, now)),
            stamp(now - timedelta(seconds=self.stale_seconds)),
            manual,
            stamp(first) if first else None,
        )

    def _start(self, app: job_store.LiveApp, job: CronJob, trigger: str, now: datetime) -> None:
        task = asyncio.ensure_future(self._run(app, job, trigger, now))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run_now(self, site: str, name: str) -> dict:
        """Run a job of the site's live deployment now and wait for it: its run record."""
        app = await self.db.read(job_store.live_app, site)
        jobs = self.jobs_of(app) if app else ()
        job = next((j for j in jobs if j.name == name), None)
        if app is None or job is None:
            raise JobError("JOB_NOT_FOUND", f"the live deployment of '{site}' has no job '{name}'")
        now = self.clock.real()
        if await self._claim(site, job, now, manual=True) == job_store.RUNNING:
            raise JobError("JOB_RUNNING", f"job '{name}' of '{site}' is running; try again later")
        return await self._run(app, job, "manual", now)

    async def _run(self, app: job_store.LiveApp, job: CronJob, trigger: str, now: datetime) -> dict:
        started = time.monotonic()
        status, http_status, error = "error", None, None
        try:
            response = await self.runner(app.site, app.deployment_id, job)
            status, http_status, error = _result(response)
        except HTTPError as exc:
            http_status, error = exc.status, f"{exc.code}: {exc.message}"
        except asyncio.CancelledError:
            error = "the server stopped during the run"
            raise
        except Exception as exc:  # the run must be recorded and the claim released
            log.exception("job %s/%s failed", app.site, job.name)
            error = f"INTERNAL_ERROR: {type(exc).__name__}"
        finally:
            record = {
                "name": job.name,
                "trigger": trigger,
                "started_at": stamp(now),
                "duration_ms": int((time.monotonic() - started) * 1000),
                "status": status,
                "http_status": http_status,
                "error": error,
            }
            await self._finish(app.site, record)
        return record

    async def _finish(self, site: str, record: dict) -> None:
        try:
            keep = await self.db.read(settings.get_int, "jobs_runs_kept")
        except ValueError:  # a bad row written by hand
            keep = 100
        await self.db.write(
            job_store.finish,
            site,
            record["name"],
            record["trigger"],
            record["started_at"],
            record["duration_ms"],
            record["status"],
            record["http_status"],
            record["error"],
            keep,
        )

    async def close(self, grace: float = CLOSE_GRACE_SECONDS) -> None:
        """Let the runs in progress end (for `grace` seconds), then stop the others: each
        is logged as stopped and its claim released."""
        tasks = list(self.tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def overview(self, site: str, runs_per_job: int = 5) -> list[dict]:
        """The live deployment's jobs: schedule, path, next run, running, newest runs."""
        app = await self.db.read(job_store.live_app, site)
        if app is None:
            return []
        state = await self.db.read(job_store.states, site)
        out = []
        for job in self.jobs_of(app):
            row = state.get((site, job.name)) or {}
            next_run = row.get("next_run") if row.get("schedule") == job.schedule else None
            if next_run is None:  # not seen by the scheduler yet: what it will set
                after = parse_stamp(app.live_at) if app.live_at else self.clock.real()
                next_run = stamp(self.clock.next_run(cron.parse(job.schedule), after))
            out.append(
                {
                    **job.to_dict(),
                    "next_run": next_run,
                    "running_since": row.get("running_since"),
                    "runs": await self.db.read(job_store.runs, site, job.name, runs_per_job),
                }
            )
        return out


def _result(response: Response | None) -> tuple[str, int | None, str | None]:
    if response is None:
        return "error", 404, "NOT_FOUND: the app has no route for the job's path"
    if response.status < 400:
        return "ok", response.status, None
    body = (response.body or b"")[:ERROR_BODY_CHARS].decode("utf-8", "replace")
    return "error", response.status, body or f"HTTP {response.status}"
