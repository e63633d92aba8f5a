"""The job scheduler (fazt.runtime.jobs) on a real database with a controllable clock and
a stand-in for the runtime: when jobs run, no pile-up after a gap, one run at a time."""

import asyncio
import functools
from datetime import UTC, datetime

import pytest

from fazt import cron
from fazt.db import Database, settings
from fazt.db.clock import stamp
from fazt.hosting import deployments
from fazt.hosting.deployments import FileEntry
from fazt.hosting.manifest import CronJob, Manifest
from fazt.runtime import job_store
from fazt.runtime.jobs import Clock, JobError, Scheduler
from fazt.web.http import HTTPError, Response

START = datetime(2026, 3, 1, 10, 2, 30, tzinfo=UTC).timestamp()


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.now = START
        self.calls: list[tuple[str, str]] = []
        self.gate: asyncio.Event | None = None  # set: runs wait for it
        self.answer: Response | Exception = Response(200, b"ok")
        self.scheduler = Scheduler(db, self.run, Clock(now=lambda: self.now), stale_seconds=90)

    async def run(self, site: str, deployment_id: int, job: CronJob) -> Response:
        self.calls.append((site, job.name))
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def deploy(self, site: str, *jobs: tuple[str, str]) -> int:
        data = b"<h1>x</h1>"
        entry = FileEntry("index.html", deployments.sha256_hex(data), len(data), "text/html")
        cron = tuple(CronJob(name, schedule, f"/api/{name}") for name, schedule in jobs)
        info = self.db.write_sync(
            deployments.store_and_publish, site, [(entry, data)], Manifest(cron=cron), "test"
        )
        live_at = stamp(datetime.fromtimestamp(self.now, UTC))
        self.db.write_sync(
            lambda c: c.execute(
                "UPDATE deployments SET live_at = ? WHERE id = ?", (live_at, info["id"])
            )
        )
        return info["id"]

    def at(self, text: str) -> None:
        self.now = datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    async def tick(self) -> float:
        wait = await self.scheduler.tick()
        await asyncio.gather(*self.scheduler.tasks)
        return wait

    def runs(self, site: str, name: str) -> list[dict]:
        return self.db.read_sync(job_store.runs, site, name, 1000)

    def state(self, site: str, name: str) -> dict:
        return self.db.read_sync(job_store.states, site)[(site, name)]


def run_async(test):
    """An async test run on its own event loop (no pytest plugin for that here)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


@pytest.fixture
def world(tmp_path):
    db = Database.open(tmp_path / "jobs.db")
    try:
        yield World(db)
    finally:
        db.close()


@run_async
async def test_a_new_job_waits_for_its_next_fire_time_then_runs_once(world):
    world.deploy("blog", ("tick", "*/5 * * * *"))
    wait = await world.tick()
    assert world.calls == []  # first seen at 10:02:30: next run 10:05
    assert world.state("blog", "tick")["next_run"] == "2026-03-01T10:05:00.000000Z"
    assert 10 <= wait <= 10.1  # checks for new jobs every 10 s...
    world.at("2026-03-01T10:04:57")
    assert 3 <= await world.tick() <= 3.1  # ...or sleeps until the next run
    assert world.calls == []
    world.at("2026-03-01T10:05:00.5")
    await world.tick()
    await world.tick()  # a second tick in the same minute does not run it again
    assert world.calls == [("blog", "tick")]
    [run] = world.runs("blog", "tick")
    assert (run["status"], run["http_status"], run["trigger"]) == ("ok", 200, "schedule")
    assert world.state("blog", "tick") == {
        "site": "blog",
        "name": "tick",
        "schedule": "*/5 * * * *",
        "next_run": "2026-03-01T10:10:00.000000Z",
        "running_since": None,
    }


@run_async
async def test_missed_runs_come_back_as_one_run_after_a_gap(world):
    world.deploy("blog", ("tick", "* * * * *"))
    await world.tick()
    world.at("2026-03-01T16:00:20")  # six hours (360 fire times) without a tick: downtime
    await world.tick()
    await world.tick()
    assert world.calls == [("blog", "tick")]
    assert world.state("blog", "tick")["next_run"] == "2026-03-01T16:01:00.000000Z"


@run_async
async def test_a_job_still_running_is_skipped_and_the_skip_logged(world):
    world.deploy("blog", ("slow", "* * * * *"))
    await world.tick()
    world.gate = asyncio.Event()
    world.at("2026-03-01T10:03:00")
    await world.scheduler.tick()  # starts the run, which waits at the gate
    await asyncio.sleep(0)
    assert world.state("blog", "slow")["running_since"] == "2026-03-01T10:03:00.000000Z"
    world.at("2026-03-01T10:04:00")
    await world.scheduler.tick()
    assert world.calls == [("blog", "slow")]  # not a second one
    [skipped] = world.runs("blog", "slow")
    assert (skipped["status"], skipped["error"]) == ("skipped", "the previous run is not over")
    with pytest.raises(JobError) as refused:
        await world.scheduler.run_now("blog", "slow")
    assert refused.value.code == "JOB_RUNNING"
    world.gate.set()
    await asyncio.gather(*world.scheduler.tasks)
    assert [r["status"] for r in world.runs("blog", "slow")] == ["ok", "skipped"]
    assert world.state("blog", "slow")["running_since"] is None


@run_async
async def test_a_claim_lost_with_a_crashed_server_expires(world):
    world.deploy("blog", ("tick", "* * * * *"))
    await world.tick()
    world.db.write_sync(
        lambda c: c.execute("UPDATE job_state SET running_since = '2026-03-01T10:01:00.000000Z'")
    )
    world.at("2026-03-01T10:03:00")  # two minutes later: older than stale_seconds (90)
    await world.tick()
    assert world.calls == [("blog", "tick")]


@run_async
async def test_failures_are_logged_with_their_code(world):
    world.deploy("blog", ("boom", "@yearly"), ("missing", "@yearly"))
    world.answer = HTTPError(500, "FUNCTION_ERROR", "Error: kaput")
    run = await world.scheduler.run_now("blog", "boom")
    assert (run["status"], run["http_status"], run["error"]) == (
        "error",
        500,
        "FUNCTION_ERROR: Error: kaput",
    )
    world.answer = Response(503, b'{"error":{"code":"SERVICE_UNAVAILABLE"}}')
    run = await world.scheduler.run_now("blog", "boom")
    assert run["status"] == "error" and "SERVICE_UNAVAILABLE" in run["error"]
    world.answer = RuntimeError("a bug")
    run = await world.scheduler.run_now("blog", "boom")
    assert run["error"] == "INTERNAL_ERROR: RuntimeError"
    assert world.state("blog", "boom")["running_since"] is None
    with pytest.raises(JobError) as refused:
        await world.scheduler.run_now("blog", "nope")
    assert refused.value.code == "JOB_NOT_FOUND"


@run_async
async def test_the_run_log_keeps_the_newest_runs_per_job(world):
    world.db.write_sync(settings.put, "jobs_runs_kept", "3")
    world.deploy("blog", ("tick", "@yearly"), ("other", "@yearly"))
    await world.scheduler.run_now("blog", "other")
    for _ in range(5):
        await world.scheduler.run_now("blog", "tick")
    runs = world.runs("blog", "tick")
    assert len(runs) == 3 and runs[0]["id"] > runs[-1]["id"]
    assert len(world.runs("blog", "other")) == 1  # another job's log is its own


@run_async
async def test_only_the_live_deployment_s_jobs_run(world):
    world.deploy("blog", ("tick", "* * * * *"))
    await world.tick()
    world.deploy("blog")  # a new live deployment without jobs
    world.at("2026-03-01T10:10:00")
    await world.tick()
    assert world.calls == []
    assert world.db.read_sync(job_store.states) == {}
    assert await world.scheduler.overview("blog") == []


@run_async
async def test_a_changed_schedule_starts_over_from_now(world):
    world.deploy("blog", ("tick", "@daily"))
    await world.tick()
    assert world.state("blog", "tick")["next_run"] == "2026-03-02T00:00:00.000000Z"
    world.deploy("blog", ("tick", "*/10 * * * *"))
    await world.tick()
    assert world.calls == []
    assert world.state("blog", "tick")["next_run"] == "2026-03-01T10:10:00.000000Z"


def test_a_faster_clock_for_tests_keeps_stored_times_real():
    clock = Clock(minute_seconds=1, now=lambda: START)
    schedule_now = clock.to_schedule(clock.real())
    assert clock.to_real(schedule_now) == clock.real()
    nxt = clock.next_run(cron.parse("* * * * *"), clock.real())
    assert 0 < (nxt - clock.real()).total_seconds() <= 1.0


@run_async
async def test_a_tick_with_nothing_due_writes_nothing(world):
    world.deploy("blog", ("tick", "*/5 * * * *"))
    await world.tick()

    async def no_write(*args):
        raise AssertionError("a tick with nothing due wrote to the database")

    world.db.write = no_write  # type: ignore[method-assign]
    world.at("2026-03-01T10:04:00")
    assert 10 <= await world.tick() <= 10.1  # (the 10 s check for new jobs)


@run_async
async def test_stopping_lets_a_short_run_end_and_records_a_stopped_one(world):
    world.deploy("blog", ("tick", "* * * * *"), ("other", "* * * * *"))
    await world.tick()
    world.gate = asyncio.Event()
    world.at("2026-03-01T10:03:00")
    await world.scheduler.tick()
    await asyncio.sleep(0)
    asyncio.get_running_loop().call_later(0.05, world.gate.set)  # ends within the grace
    await world.scheduler.close(grace=5)
    assert [r["status"] for r in world.runs("blog", "tick")] == ["ok"]
    world.gate = asyncio.Event()  # never set: stopped at the end of the grace
    world.at("2026-03-01T10:04:00")
    await world.scheduler.tick()
    await asyncio.sleep(0)
    await world.scheduler.close(grace=0.05)
    [stopped, _] = world.runs("blog", "tick")
    assert (stopped["status"], stopped["error"]) == ("error", "the server stopped during the run")
    assert world.state("blog", "tick")["running_since"] is None


@run_async
async def test_a_job_seen_after_its_first_fire_time_still_gets_that_run(world):
    world.at("2026-03-01T10:04:58")
    world.deploy("blog", ("tick", "*/5 * * * *"))  # live 2 s before 10:05
    world.at("2026-03-01T10:05:04")  # the scheduler's check comes after 10:05
    assert await world.tick() == 0.05  # first seen: due at 10:05, run at the next check
    assert world.calls == []
    await world.tick()
    assert world.calls == [("blog", "tick")]
    assert world.state("blog", "tick")["next_run"] == "2026-03-01T10:10:00.000000Z"


@run_async
async def test_deleting_an_app_deletes_its_jobs_and_runs_even_one_in_progress(world):
    world.deploy("blog", ("tick", "* * * * *"))
    await world.scheduler.run_now("blog", "tick")
    await world.tick()
    world.gate = asyncio.Event()
    world.at("2026-03-01T10:03:00")
    await world.scheduler.tick()
    await asyncio.sleep(0)
    assert world.db.write_sync(deployments.delete_site, "blog")
    world.gate.set()
    await asyncio.gather(*world.scheduler.tasks)  # the run ends after the deletion
    counts = world.db.read_sync(
        lambda c: [
            c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("job_state", "job_runs")
        ]
    )
    assert counts == [0, 0]


@run_async
async def test_a_job_removed_while_it_runs_keeps_its_claim_until_the_run_ends(world):
    world.deploy("blog", ("tick", "* * * * *"))
    await world.tick()
    world.gate = asyncio.Event()
    world.at("2026-03-01T10:03:00")
    await world.scheduler.tick()
    await asyncio.sleep(0)
    world.deploy("blog")  # the job is gone from the live deployment
    await world.scheduler.tick()
    assert world.state("blog", "tick")["running_since"] is not None  # still running
    world.gate.set()
    await asyncio.gather(*world.scheduler.tasks)
    await world.tick()
    assert world.db.read_sync(job_store.states) == {}
