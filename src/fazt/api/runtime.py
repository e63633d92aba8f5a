"""/api/apps/{name}/env and /api/apps/{name}/logs: serverless configuration and output.

Env values are write-only through the API: listings return names and dates, never values
(the app reads them with fazt.env; a secret one, set with `"secret": true`, only reaches
requests fazt.net.fetch builds, through fazt.secret()). Setting them needs the `deploy`
scope: a deploy key can already ship arbitrary code that reads every env var (or sends a
secret one to a host of its manifest's allowlist), so a stricter scope would add no
protection (docs/serverless.md).
"""

from fazt.api.access import check_site
from fazt.auth.tokens import ApiKey
from fazt.hosting import deployments
from fazt.runtime import store
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response

MAX_LOG_LIMIT = 1000
DEFAULT_LOG_LIMIT = 100


async def app_for_key(state: ServerState, key: ApiKey, name: str) -> str:
    """The app's name as stored, if it exists and the key may act on it (403/404)."""
    check_site(key, name.lower())
    row = await state.db.read(deployments.site_row, name.lower())
    if row is None:
        raise HTTPError(404, "APP_NOT_FOUND", f"no app named '{name}'")
    return row["name"]


def _name(key: str) -> str:
    try:
        return store.validate_env_name(key)
    except store.EnvError as exc:
        raise HTTPError(400, "INVALID_ENV_NAME", str(exc)) from None


async def list_env(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    app = await app_for_key(state, key, name)
    return json_response(await state.db.read(store.env_names, app))


async def set_env(state: ServerState, req: Request, key: ApiKey, name: str, env: str) -> Response:
    app = await app_for_key(state, key, name)
    var = _name(env)
    body = await req.json(limit=store.ENV_VALUE_MAX + 1024)
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise HTTPError(400, "BAD_REQUEST", 'expected {"value": "..."} with a string value')
    secret = body.get("secret", False)
    if not isinstance(secret, bool):
        raise HTTPError(400, "BAD_REQUEST", "'secret' must be true or false")
    if len(value.encode()) > store.ENV_VALUE_MAX:
        raise HTTPError(
            413, "PAYLOAD_TOO_LARGE", f"env values are at most {store.ENV_VALUE_MAX} bytes"
        )
    result = await state.db.write(store.set_env, app, var, value, secret)
    if result == "limit":
        raise HTTPError(
            409, "TOO_MANY_ENV_VARS", f"an app has at most {store.ENV_MAX_PER_APP} env vars"
        )
    return json_response(
        {"app": app, "name": var, "status": result}, 201 if result == "created" else 200
    )


async def unset_env(state: ServerState, req: Request, key: ApiKey, name: str, env: str) -> Response:
    app = await app_for_key(state, key, name)
    var = _name(env)
    if not await state.db.write(store.unset_env, app, var):
        raise HTTPError(404, "ENV_NOT_FOUND", f"'{app}' has no env var {var}")
    return json_response({"app": app, "name": var, "status": "deleted"})


async def app_logs(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    app = await app_for_key(state, key, name)
    limit = _int(req.query.get("limit"), DEFAULT_LOG_LIMIT, "limit")
    after = _int(req.query.get("after"), 0, "after")
    limit = max(1, min(limit, MAX_LOG_LIMIT))
    return json_response(await state.db.read(store.read_logs, app, after, limit))


def _int(raw: str | None, default: int, what: str) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise HTTPError(400, "BAD_REQUEST", f"'{what}' must be a non-negative integer")
    return int(raw)
