"""One scheduled job on the real clock: a `* * * * *` job of a real server runs at the
next minute boundary, within seconds of it.

This is the suite's one minute-scale run (issue 21 asks for one): it waits up to ~60 s,
mostly idle, in a module of its own so that the other pytest worker keeps going. The
rest of the jobs' tests (tests/integration/test_jobs.py) use FAZT_TEST_CRON_TICK_SECONDS
to make the scheduler's minute one second.
"""

from tests.conftest import running_server, wait_for
from tests.integration.test_jobs import cron_site, jobs, state


def test_a_job_runs_at_the_next_real_minute(tmp_path):
    with running_server(tmp_path / "home") as srv:
        srv.deploy(
            cron_site(tmp_path / "site", [{"schedule": "* * * * *", "path": "/api/tick"}]), "minute"
        )
        [job] = jobs(srv, "minute")
        assert job["next_run"].endswith(":00.000000Z")  # the next minute boundary
        wait_for(lambda: state(srv, "minute")["ticks"] >= 1, 75, interval=0.5, what="a real run")
        [run] = jobs(srv, "minute")[0]["runs"]
        assert run["status"] == "ok" and run["trigger"] == "schedule"
        # started at the boundary it was due (its own next run), within a few seconds
        assert run["started_at"][:17] == job["next_run"][:17], (run, job)
        assert float(run["started_at"][17:-1]) < 5.0, run
