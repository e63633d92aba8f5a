"""/api/keys: create (the token is shown once), list and revoke API keys (admin scope).

A key may be limited to named sites ("sites": ["blog", "docs"]; omitted or null: every
site). Listings show `sites` as that list, or null for every site."""

from fazt.auth import tokens
from fazt.auth.tokens import ApiKey
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response


def _public(row: dict) -> dict:
    return {**row, "scopes": row["scopes"].split(","), "revoked": row["revoked_at"] is not None}


async def list_keys(state: ServerState, req: Request, key: ApiKey) -> Response:
    return json_response([_public(r) for r in await state.db.read(tokens.list_keys)])


def parse_request(body: object) -> tuple[str, frozenset[str], frozenset[str] | None]:
    """{"name": str, "scopes": [..] or "a,b", "sites"?: [..] or "a,b" or null}
    -> (name, scopes, sites); ValueError says what is wrong."""
    if not isinstance(body, dict):
        raise ValueError('expected {"name": "...", "scopes": ["deploy"]}')
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a key needs a name")
    if len(name) > 100:
        raise ValueError("a key name is at most 100 characters")
    scopes = body.get("scopes", "deploy")
    if isinstance(scopes, list) and all(isinstance(s, str) for s in scopes):
        scopes = ",".join(scopes)
    if not isinstance(scopes, str):
        raise ValueError("scopes must be a list of strings")
    sites = body.get("sites")
    return (
        name.strip(),
        tokens.parse_scopes(scopes),
        None if sites is None else tokens.parse_sites(sites),
    )


async def create_key(state: ServerState, req: Request, key: ApiKey) -> Response:
    try:
        name, scopes, sites = parse_request(await req.json(limit=16 * 1024))
    except ValueError as exc:
        raise HTTPError(400, "BAD_REQUEST", str(exc)) from None
    key_id, token = await state.db.write(tokens.create_key, name, scopes, sites)
    return json_response(
        {
            "id": key_id,
            "name": name,
            "scopes": sorted(scopes),
            "sites": None if sites is None else sorted(sites),
            "token": token,
        },
        201,
    )


async def revoke_key(state: ServerState, req: Request, key: ApiKey, key_id: str) -> Response:
    if not key_id.isdigit():
        raise HTTPError(400, "BAD_REQUEST", "a key id is a number (see GET /api/keys)")
    if not await state.db.write(tokens.revoke, int(key_id)):
        raise HTTPError(404, "KEY_NOT_FOUND", f"no active key with id {key_id}")
    return json_response({"id": int(key_id), "status": "revoked"})
