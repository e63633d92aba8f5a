"""/api/apps: list, inspect, roll back, promote and delete deployed sites."""

from fazt.api import compat_v09
from fazt.api.access import check_site, visible
from fazt.auth.tokens import ApiKey
from fazt.hosting import deployments
from fazt.hosting.names import SYSTEM_SITES
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response


def _with_url(state: ServerState, site: dict) -> dict:
    return {**site, "url": state.site_url(site["name"]) if site["live_deployment_id"] else None}


async def _site_or_404(state: ServerState, key: ApiKey, name: str) -> dict:
    """The site `name` if the key may act on it (else 403 FORBIDDEN_SITE), or 404."""
    check_site(key, name.lower())
    site = await state.db.read(deployments.site_info, name.lower())
    if site is None:
        raise HTTPError(404, "APP_NOT_FOUND", f"no app named '{name}'")
    return site


async def list_apps(state: ServerState, req: Request, key: ApiKey) -> Response:
    sites = visible(key, await state.db.read(deployments.list_sites))
    return json_response([compat_v09.app_item(_with_url(state, s)) for s in sites])


async def app_info(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    site = await _site_or_404(state, key, name)
    live_id = site["live_deployment_id"]
    info = _with_url(state, site)
    info["live_deployment"] = (
        await state.db.read(deployments.deployment_info, live_id) if live_id else None
    )
    info["files"] = await state.db.read(deployments.list_files, live_id) if live_id else []
    return json_response(info)


async def app_history(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    site = await _site_or_404(state, key, name)
    history = await state.db.read(deployments.history, site["name"])
    for dep in history:  # each deployment's own URL, while the site has them on
        on = site["previews"] and site["name"] != "admin"
        dep["url"] = state.site_url(site["name"], dep["preview_id"]) if on else None
    return json_response(history)


async def update_app(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    """PATCH /api/apps/{name} {"previews": false}: the site's settings."""
    site = await _site_or_404(state, key, name)
    if site["kind"] == "system" and not key.allows("admin"):
        raise HTTPError(403, "SYSTEM_SITE", f"'{name}' is a system site")
    body = await req.json()
    if not isinstance(body, dict) or set(body) - {"previews"} or not body:
        raise HTTPError(400, "BAD_REQUEST", 'expected {"previews": true|false}')
    if type(body["previews"]) is not bool:
        raise HTTPError(400, "BAD_REQUEST", "previews must be true or false")
    await state.db.write(deployments.set_previews, site["name"], body["previews"])
    await state.refresh_routing()
    return json_response(await state.db.read(deployments.site_info, site["name"]))


async def app_files(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    site = await _site_or_404(state, key, name)
    dep = req.query.get("deployment")
    dep_id = int(dep) if dep and dep.isdigit() else site["live_deployment_id"]
    if dep_id is None:
        return json_response([])
    files = await state.db.read(_files_of, site["name"], dep_id)
    if files is None:
        raise HTTPError(404, "DEPLOYMENT_NOT_FOUND", f"'{name}' has no deployment {dep}")
    return json_response(files)


def _files_of(conn, site: str, dep_id: int) -> list[dict] | None:
    row = conn.execute(
        "SELECT 1 FROM deployments WHERE id = ? AND site = ?", (dep_id, site)
    ).fetchone()
    return deployments.list_files(conn, dep_id) if row else None


async def _change_pointer(state: ServerState, key: ApiKey, name: str, fn, *args) -> Response:
    site = await _site_or_404(state, key, name)
    if site["kind"] == "system" and not key.allows("admin"):
        raise HTTPError(403, "SYSTEM_SITE", f"'{name}' is a system site")
    info = await state.db.write(fn, site["name"], *args)
    await state.refresh_routing()
    return json_response(info)


async def _optional_id(req: Request) -> int | None:
    body = await req.json() if (req.header("content-length") or "0") != "0" else {}
    value = body.get("deployment_id") if isinstance(body, dict) else None
    if value is not None and type(value) is not int:
        raise HTTPError(400, "BAD_REQUEST", "deployment_id must be an integer")
    return value


async def rollback(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    return await _change_pointer(state, key, name, deployments.rollback, await _optional_id(req))


async def promote(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    dep_id = await _optional_id(req)
    if dep_id is None:
        raise HTTPError(400, "MISSING_FIELD", "promote needs deployment_id")
    return await _change_pointer(state, key, name, deployments.promote, dep_id)


async def delete_app(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    site = await _site_or_404(state, key, name)
    if site["name"] in SYSTEM_SITES:
        raise HTTPError(403, "SYSTEM_APP", f"'{name}' is a system app and cannot be deleted")
    await state.db.write(deployments.delete_site, site["name"])
    await state.refresh_routing()
    return json_response({"message": "App deleted", "name": site["name"]})
