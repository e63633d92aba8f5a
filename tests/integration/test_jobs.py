"""Scheduled jobs (manifest.json "cron") on a real server.

The server runs with FAZT_TEST_CRON_TICK_SECONDS=1: its scheduler reads schedules on a
clock 60 times faster, so `* * * * *` fires every second and `*/5 * * * *` every 5 s.
No test here waits for a real minute (the suite's time matters more than that run:
the scaled clock goes through the same code, and the parser's minute arithmetic is
checked against a brute-force reference in tests/unit/test_cron.py).
"""

import itertools
import json
from pathlib import Path

import pytest

from fazt.db.clock import parse
from tests.conftest import FaztServer, init_server, wait_for, write_site
from tests.integration.test_auth_sessions import Browser

TICK = """
module.exports = function (req) {
  const n = (fazt.storage.kv.get("ticks") || 0) + 1;
  fazt.storage.kv.set("ticks", n);
  fazt.storage.kv.set("last", {method: req.method, cron: req.headers["x-fazt-cron"] || null,
                                ip: req.ip});
  return {n};
};
"""
STATE = """
module.exports = function (req) {
  return {ticks: fazt.storage.kv.get("ticks") || 0, last: fazt.storage.kv.get("last") || null,
          seen: req.headers["x-fazt-cron"] || null};
};
"""


def cron_site(root: Path, cron: list, extra: dict | None = None) -> Path:
    return write_site(
        root,
        {
            "index.html": "<h1>jobs</h1>",
            "manifest.json": json.dumps({"cron": cron, "limits": {"timeout_ms": 20000}}),
            "api/tick.js": TICK,
            "api/state.js": STATE,
            "api/boom.js": "module.exports = function () { throw new Error('kaput'); };",
            "api/slow.js": "module.exports = function () { const t = Date.now() + 2500;"
            " while (Date.now() < t) {} return 'done'; };",
            **(extra or {}),
        },
    )


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    server = init_server(tmp_path_factory.mktemp("jobs") / "home")  # (with a dashboard login)
    server.env = {"FAZT_TEST_CRON_TICK_SECONDS": "1"}
    try:
        with server.serving():
            yield server
    finally:
        server.http.close()


def state(srv: FaztServer, site: str) -> dict:
    r = srv.get("/api/state", host=f"{site}.localhost")
    assert r.status_code == 200, r.text
    return r.json()


def jobs(srv: FaztServer, site: str, runs: int = 20) -> list[dict]:
    r = srv.api("GET", f"/api/apps/{site}/jobs?runs={runs}")
    assert r.status_code == 200, r.text
    return r.json()["data"]["jobs"]


def test_a_job_runs_on_schedule_as_a_marked_post(srv, tmp_path, site_name):
    srv.deploy(cron_site(tmp_path, [{"schedule": "* * * * *", "path": "/api/tick"}]), site_name)
    wait_for(lambda: state(srv, site_name)["ticks"] >= 2, 15, what="two scheduled runs")
    seen = state(srv, site_name)
    assert seen["last"] == {"method": "POST", "cron": "tick", "ip": ""}
    [job] = jobs(srv, site_name)
    assert (job["name"], job["schedule"], job["path"]) == ("tick", "* * * * *", "/api/tick")
    assert job["next_run"].endswith("Z")
    ok = [r for r in job["runs"] if r["status"] == "ok"]
    assert len(ok) >= 2 and all(r["http_status"] == 200 and r["trigger"] == "schedule" for r in ok)


def test_outside_requests_cannot_pretend_to_be_a_job(srv, tmp_path, site_name):
    srv.deploy(cron_site(tmp_path, []), site_name)
    for name in ("X-Fazt-Cron", "x-fazt-cron"):
        r = srv.get("/api/state", host=f"{site_name}.localhost", headers={name: "tick"})
        assert r.json()["seen"] is None


def test_a_bad_schedule_is_refused_at_deploy_naming_the_entry(srv, tmp_path, site_name):
    good = cron_site(tmp_path / "good", [{"schedule": "@hourly", "path": "/api/tick"}])
    srv.deploy(good, site_name)
    bad = cron_site(
        tmp_path / "bad",
        [
            {"schedule": "@daily", "path": "/api/tick"},
            {"name": "feed", "schedule": "*/5 * * 13 *", "path": "/api/tick"},
        ],
    )
    out = srv.cli("deploy", str(bad), "--site", site_name, "--json", check=False)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "INVALID_MANIFEST" in text or "cron[1] ('feed')" in text, text
    assert "cron[1] ('feed'): bad schedule '*/5 * * 13 *': month" in text, text
    [job] = jobs(srv, site_name)  # the live deployment is still the good one
    assert job["schedule"] == "@hourly"


def test_manual_run_from_the_cli_and_the_api(srv, tmp_path, site_name):
    srv.deploy(
        cron_site(
            tmp_path,
            [
                {"schedule": "@yearly", "path": "/api/tick"},
                {"name": "boom", "schedule": "@yearly", "path": "/api/boom"},
            ],
        ),
        site_name,
    )
    out = srv.cli("app", "jobs", "run", site_name, "tick", "--json")
    run = json.loads(out.stdout)["run"]
    assert (run["status"], run["http_status"], run["trigger"]) == ("ok", 200, "manual")
    assert state(srv, site_name)["ticks"] == 1
    r = srv.api("POST", f"/api/apps/{site_name}/jobs/boom/run")
    assert r.status_code == 200
    run = r.json()["data"]["run"]
    assert run["status"] == "error" and run["http_status"] == 500
    assert run["error"] == "FUNCTION_ERROR: Error: kaput"
    r = srv.api("POST", f"/api/apps/{site_name}/jobs/nope/run")
    assert r.status_code == 404 and r.json()["error"]["code"] == "JOB_NOT_FOUND"
    listing = srv.cli("app", "jobs", site_name).stdout
    assert "tick" in listing and "boom" in listing and "kaput" in listing
    runs = {j["name"]: j["runs"] for j in jobs(srv, site_name)}
    assert [r["trigger"] for r in runs["tick"]] == ["manual"]


def test_a_job_still_running_is_skipped_and_the_skip_logged(srv, tmp_path, site_name):
    srv.deploy(cron_site(tmp_path, [{"schedule": "* * * * *", "path": "/api/slow"}]), site_name)

    def statuses() -> list[str]:
        return [r["status"] for r in jobs(srv, site_name)[0]["runs"]]

    wait_for(lambda: "skipped" in statuses() and "ok" in statuses(), 20, what="a skip")
    runs = jobs(srv, site_name)[0]["runs"]
    # never two at once: every finished run took the whole 2.5 s, none overlapped
    ok = [r for r in runs if r["status"] == "ok"]
    assert all(r["duration_ms"] >= 2400 for r in ok)
    starts = sorted(r["started_at"] for r in ok)
    gaps = [(parse(b) - parse(a)).total_seconds() for a, b in itertools.pairwise(starts)]
    assert all(g >= 2.4 for g in gaps), gaps
    skipped = [r for r in runs if r["status"] == "skipped"]
    assert skipped[0]["error"] == "the previous run is not over"
    # A manual run while one runs: 409. (The job runs 2.5 s of every 3: a run seen in
    # progress may end before the request arrives, so a few tries.)
    answers = []
    for _ in range(5):
        wait_for(lambda: jobs(srv, site_name)[0]["running_since"], 10, what="a run in progress")
        r = srv.api("POST", f"/api/apps/{site_name}/jobs/slow/run")
        answers.append(r.status_code)
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "JOB_RUNNING"
            break
        assert r.json()["data"]["run"]["status"] == "ok"
    assert 409 in answers, answers


def test_only_the_live_deployment_s_jobs_run(srv, tmp_path, site_name):
    tick = [{"schedule": "* * * * *", "path": "/api/tick"}]
    srv.deploy(cron_site(tmp_path / "a", tick), site_name)
    wait_for(lambda: state(srv, site_name)["ticks"] >= 1, 15, what="a first run")
    srv.deploy(cron_site(tmp_path / "b", []), site_name)  # no jobs any more
    assert jobs(srv, site_name) == []
    # A run that had started may still end: wait for the count to stay put for a while,
    # timed by another app's job (each of its runs is a scheduler minute).
    wait_for(lambda: not jobs(srv, site_name) and _idle(srv, site_name), 10)
    before = state(srv, site_name)["ticks"]
    other = site_name + "x"
    srv.deploy(cron_site(tmp_path / "c", tick), other)
    wait_for(lambda: state(srv, other)["ticks"] >= 3, 20, what="three scheduler minutes")
    assert state(srv, site_name)["ticks"] == before


def _idle(srv: FaztServer, site: str) -> bool:
    """No run of the site's jobs is in progress: the scheduler drops the state of a job
    no longer declared only once it does not run."""
    import sqlite3

    conn = sqlite3.connect(srv.db)
    try:
        return (
            conn.execute("SELECT COUNT(*) FROM job_state WHERE site = ?", (site,)).fetchone()[0]
            == 0
        )
    finally:
        conn.close()


def test_the_cli_lists_jobs_as_json(srv, tmp_path, site_name):
    srv.deploy(
        cron_site(tmp_path, [{"name": "t", "schedule": "@daily", "path": "/api/tick"}]), site_name
    )
    out = srv.cli("app", "jobs", site_name, "--json")
    data = json.loads(out.stdout)
    assert data["app"] == site_name
    assert [(j["name"], j["runs"]) for j in data["jobs"]] == [("t", [])]
    bad = srv.cli("app", "jobs", "nosuchapp", check=False)
    assert bad.returncode != 0


def test_the_dashboard_shows_jobs_and_their_runs(srv, tmp_path, site_name):
    srv.deploy(
        cron_site(tmp_path, [{"name": "boom", "schedule": "@daily", "path": "/api/boom"}]),
        site_name,
    )
    srv.api("POST", f"/api/apps/{site_name}/jobs/boom/run")
    browser = Browser(srv)
    try:
        assert browser.login().status_code == 303
        page = browser.get(f"/apps/{site_name}").text
    finally:
        browser.close()
    assert (
        "Scheduled jobs" in page and "<code>boom</code>" in page and "<code>@daily</code>" in page
    )
    assert "manual: error (500)" in page and "FUNCTION_ERROR: Error: kaput" in page


def test_a_job_can_run_a_root_main_js(srv, tmp_path, site_name):
    """A path outside /api runs v0.9's root main.js, which sees the header under Go's name."""
    main = """
if (req.headers["X-Fazt-Cron"] === "legacy" && req.method === "POST")
  db.set("n", (db.get("n") || 0) + 1);
res.json({n: db.get("n") || 0});
"""
    cron = [{"name": "legacy", "schedule": "@yearly", "path": "/tick"}]
    srv.deploy(
        write_site(tmp_path, {"main.js": main, "manifest.json": json.dumps({"cron": cron})}),
        site_name,
    )
    run = srv.api("POST", f"/api/apps/{site_name}/jobs/legacy/run").json()["data"]["run"]
    assert (run["status"], run["http_status"]) == ("ok", 200)
    forged = srv.request(
        "POST", "/tick", host=f"{site_name}.localhost", headers={"X-Fazt-Cron": "legacy"}
    )
    assert forged.json() == {"n": 1}  # the outside request's header was dropped
