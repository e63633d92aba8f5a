"""/api/apps/{name}/net: the hosts an app's `fazt.net.fetch` may reach.

The app's manifest.json `"net": {"allow": [...]}` asks for hosts; these rules are the
operator's, on top: `allow` adds a host, `deny` refuses one whatever the manifest says.
Listing needs the `deploy` scope; changing needs `admin`, since a deny rule is how the
operator overrides what a deploy asks for.
"""

from fazt.api.runtime import app_for_key
from fazt.auth.tokens import ApiKey
from fazt.runtime import netrules
from fazt.runtime.netpolicy import MAX_RULES, NetError, parse_rule
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response


def _rule_text(host: str) -> str:
    try:
        return parse_rule(host).text
    except NetError as exc:
        raise HTTPError(400, "INVALID_NET_RULE", str(exc)) from None


async def list_net(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    app = await app_for_key(state, key, name)
    manifest = await state.db.read(netrules.manifest_allow, app, None)
    rules = await state.db.read(netrules.list_rules, app)
    return json_response({"app": app, "manifest": manifest, "rules": rules})


async def set_net(state: ServerState, req: Request, key: ApiKey, name: str, host: str) -> Response:
    app = await app_for_key(state, key, name)
    text = _rule_text(host)
    body = await req.json(limit=1024)
    rule = body.get("rule") if isinstance(body, dict) else None
    if rule not in netrules.RULES:
        raise HTTPError(400, "BAD_REQUEST", 'expected {"rule": "allow"} or {"rule": "deny"}')
    rules = await state.db.read(netrules.list_rules, app)
    known = any(r["host"] == text for r in rules)
    if not known and len(rules) >= MAX_RULES:
        raise HTTPError(409, "TOO_MANY_NET_RULES", f"an app has at most {MAX_RULES} net rules")
    await state.db.write(netrules.set_rule, app, text, rule)
    return json_response({"app": app, "host": text, "rule": rule}, 200 if known else 201)


async def delete_net(
    state: ServerState, req: Request, key: ApiKey, name: str, host: str
) -> Response:
    app = await app_for_key(state, key, name)
    text = _rule_text(host)
    if not await state.db.write(netrules.delete_rule, app, text):
        raise HTTPError(404, "NET_RULE_NOT_FOUND", f"'{app}' has no net rule for {text}")
    return json_response({"app": app, "host": text, "status": "deleted"})
