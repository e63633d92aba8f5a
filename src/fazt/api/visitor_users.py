"""Sign-in providers (/api/auth/providers, whole server, `admin`) and the visitors of an
app with their roles and storage use (/api/apps/{name}/users: listing needs `deploy`; a
role, exporting or deleting a visitor's data (fazt.storage.user), deleting a visitor:
`admin`).

A provider's client secret goes in and never comes out: no answer carries it.
"""

from urllib.parse import urlsplit

from fazt.api.runtime import app_for_key
from fazt.auth import visitors
from fazt.auth.tokens import ApiKey
from fazt.auth.visitors import Provider
from fazt.state import ServerState
from fazt.storage import user_data
from fazt.storage.scope import UserScope
from fazt.web.http import HTTPError, Request, Response, json_response

MAX_BODY = 8192


def _text(body: dict, key: str, limit: int, required: bool = True) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise HTTPError(400, "BAD_REQUEST", f"'{key}' must be a non-empty string")
    return value.strip()


def _provider(body: object) -> Provider:
    if not isinstance(body, dict):
        raise HTTPError(400, "BAD_REQUEST", "expected a JSON object")
    name = visitors.check_provider_name(body.get("name"))
    kind = body.get("kind") or "oidc"
    if kind not in visitors.PROVIDER_KINDS:
        raise HTTPError(400, "INVALID_PROVIDER", f"kind is one of {visitors.PROVIDER_KINDS}")
    issuer = body.get("issuer") or visitors.DEFAULT_ISSUERS.get(kind)
    issuer = _text({"issuer": issuer}, "issuer", 500)
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise HTTPError(400, "INVALID_PROVIDER", "the issuer must be an http(s) URL")
    scopes = _text(body, "scopes", 500, required=False) or visitors.DEFAULT_SCOPES
    if kind != "github" and "openid" not in scopes.split():
        raise HTTPError(400, "INVALID_PROVIDER", "scopes must include 'openid'")
    client_id = _text(body, "client_id", 500)
    secret = _text(body, "client_secret", 4000)
    return Provider(name, kind, issuer.rstrip("/"), client_id, secret, scopes)


async def list_providers(state: ServerState, req: Request, key: ApiKey) -> Response:
    found = await state.db.read(visitors.list_providers)
    return json_response({"providers": found, "dev": "localhost and *.localhost hosts only"})


async def add_provider(state: ServerState, req: Request, key: ApiKey) -> Response:
    provider = _provider(await req.json(limit=MAX_BODY))
    new = await state.db.write(visitors.save_provider, provider)
    listed = {"name": provider.name, "kind": provider.kind, "issuer": provider.issuer}
    return json_response({**listed, "client_id": provider.client_id}, 201 if new else 200)


async def remove_provider(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    if not await state.db.write(visitors.remove_provider, name):
        raise HTTPError(404, "PROVIDER_NOT_FOUND", f"no sign-in provider '{name}'")
    return json_response({"name": name, "status": "removed"})


async def list_users(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    app = await app_for_key(state, key, name)
    users = await state.db.read(visitors.list_users, app)
    usage = await state.db.read(user_data.usage_by_user, app)
    for user in users:
        user["storage"] = usage.get(user["id"], {"bytes": 0, "items": 0})
    return json_response({"app": app, "users": users})


async def _visitor(state: ServerState, key: ApiKey, name: str, user: str) -> UserScope:
    """The app's visitor named by id or email (404 USER_NOT_FOUND)."""
    app = await app_for_key(state, key, name)
    return UserScope(app, await state.db.read(visitors.user_id_of, app, user))


async def export_data(
    state: ServerState, req: Request, key: ApiKey, name: str, user: str
) -> Response:
    """Everything the visitor stored with fazt.storage.user, as a JSON download."""
    owner = await _visitor(state, key, name, user)
    data = await state.db.read(user_data.export, owner)
    response = json_response(data)
    response.headers.append(
        ("content-disposition", f'attachment; filename="{owner.app}-user-data.json"')
    )
    return response


async def purge_data(
    state: ServerState, req: Request, key: ApiKey, name: str, user: str
) -> Response:
    """Delete what the visitor stored; the account stays."""
    owner = await _visitor(state, key, name, user)
    deleted = await state.db.write(user_data.purge, owner)
    return json_response({"app": owner.app, "id": owner.user, "deleted": deleted})


async def delete_user(
    state: ServerState, req: Request, key: ApiKey, name: str, user: str
) -> Response:
    """Delete the visitor's account, sessions and stored data."""
    app = await app_for_key(state, key, name)
    user_id = await state.db.write(visitors.delete_user, app, user)
    return json_response({"app": app, "id": user_id, "status": "deleted"})


async def set_role(state: ServerState, req: Request, key: ApiKey, name: str, user: str) -> Response:
    app = await app_for_key(state, key, name)
    body = await req.json(limit=1024)
    role = body.get("role") if isinstance(body, dict) else None
    if role not in visitors.ROLES:
        raise HTTPError(400, "INVALID_ROLE", f'expected {{"role": ...}}, one of {visitors.ROLES}')
    changed = await state.db.write(visitors.set_role, app, user, role)
    return json_response({"app": app, **changed})
