"""/api/apps/{name}/jobs: an app's scheduled jobs (manifest.json "cron"), their next
runs and run log, and a manual run (fazt.runtime.jobs).

Scope `deploy`: a deploy key can ship code that runs on any request anyway.
"""

from fazt.api.runtime import app_for_key
from fazt.auth.tokens import ApiKey
from fazt.runtime.jobs import JobError
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response

STATUS = {"JOB_NOT_FOUND": 404, "JOB_RUNNING": 409}
MAX_RUNS = 100


def _scheduler(state: ServerState):
    if state.jobs is None:  # only while the server starts
        raise HTTPError(503, "SERVICE_UNAVAILABLE", "the job scheduler is not running yet")
    return state.jobs


async def list_jobs(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    app = await app_for_key(state, key, name)
    runs = req.query.get("runs", "5")
    if not runs.isdigit():
        raise HTTPError(400, "BAD_REQUEST", "'runs' must be a non-negative integer")
    jobs = await _scheduler(state).overview(app, min(int(runs), MAX_RUNS))
    return json_response({"app": app, "jobs": jobs})


async def run_job(state: ServerState, req: Request, key: ApiKey, name: str, job: str) -> Response:
    app = await app_for_key(state, key, name)
    try:
        record = await _scheduler(state).run_now(app, job)
    except JobError as exc:
        raise HTTPError(STATUS[exc.code], exc.code, exc.message) from None
    return json_response({"app": app, "run": record})
