"""/api/upgrade: check for, start and follow an upgrade (DESIGN §6)."""

import asyncio

from fazt.auth.tokens import ApiKey
from fazt.state import ServerState
from fazt.upgrade import records
from fazt.web import handover
from fazt.web.http import HTTPError, Request, Response, json_response


async def upgrade(state: ServerState, req: Request, key: ApiKey) -> Response:
    # Imported on use: release signing (cryptography) and tarfile cost an idle worker ~8 MB.
    from fazt.upgrade import service

    check_only = req.query.get("check", "").lower() in ("1", "true", "yes")
    body = await _body(req)
    version, url = body.get("version"), body.get("url")
    url = await service.release_url(state.db, url)
    plan = await asyncio.to_thread(service.plan, url, state.version, version)  # ReleaseError
    data = {
        "current_version": state.version,
        "latest_version": plan.latest,
        "update_available": plan.target is not None,
    }
    if plan.target is None:
        message = f"already running {state.version} (latest: {plan.latest})"
        return json_response({**data, "action": "already_latest", "message": message})
    if check_only:
        message = f"update available: {state.version} -> {plan.target.version}"
        return json_response({**data, "action": "check_only", "message": message})
    if handover.supervisor_pid() is None:
        raise HTTPError(409, "NOT_SUPERVISED", "this server was not started by `fazt server start`")
    try:
        upgrade_id = await state.db.write(records.create, state.version, plan.target.version)
    except records.UpgradeInProgress as exc:
        raise HTTPError(409, "UPGRADE_IN_PROGRESS", f"upgrade {exc} is still running") from None
    service.start(state.db, upgrade_id, plan.target)
    answer = {
        **data,
        "id": upgrade_id,
        "status": "pending",
        "from_version": state.version,
        "to_version": plan.target.version,
        "action": "upgrading",
        "message": f"upgrading {state.version} -> {plan.target.version}",
    }
    if plan.warning:
        answer["warning"] = plan.warning
    return json_response(answer, 202)


async def _body(req: Request) -> dict:
    body = await req.json(64 * 1024, allow_empty=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise HTTPError(400, "BAD_REQUEST", 'expected {"version": "X.Y.Z", "url": "..."}')
    for field in ("version", "url"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise HTTPError(400, "BAD_REQUEST", f"'{field}' must be a string")
    return body


async def upgrade_status(
    state: ServerState, req: Request, key: ApiKey, upgrade_id: str
) -> Response:
    record = await state.db.read(records.get, upgrade_id)
    if record is None:
        raise HTTPError(404, "UPGRADE_NOT_FOUND", f"no upgrade {upgrade_id}")
    return json_response(record)
