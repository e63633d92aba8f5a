"""/api/analytics, /api/redirects, /api/webhooks: what the analytics dashboard shows,
for scripts and the CLI (admin scope, declared in routes.py)."""

from fazt.analytics import queries, redirects, webhooks
from fazt.api import compat_v09
from fazt.api.access import check_site, visible
from fazt.auth.tokens import ApiKey
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response


def _int_param(req: Request, name: str, default: int, low: int, high: int) -> int:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise HTTPError(400, "BAD_REQUEST", f"'{name}' must be a whole number from {low} to {high}")
    return int(raw)


async def _object(req: Request) -> dict:
    body = await req.json(64 * 1024)
    if not isinstance(body, dict):
        raise HTTPError(400, "BAD_REQUEST", "expected a JSON object")
    return body


async def overview(state: ServerState, req: Request, key: ApiKey) -> Response:
    """?site=NAME (default: every site) &days=N (default 30)."""
    days = _int_param(req, "days", 30, 1, 3650)
    site = req.query.get("site") or None
    if site is None and key is not None and key.sites is not None:
        raise HTTPError(
            403, "FORBIDDEN_SITE", "a site-limited key must name one of its sites: ?site=NAME"
        )
    if site is not None:
        check_site(key, site)
    return json_response(await state.db.read(queries.overview, site, days))


async def sites(state: ServerState, req: Request, key: ApiKey) -> Response:
    """Sites with traffic, busiest first, ?days=N (default 30)."""
    days = _int_param(req, "days", 30, 1, 3650)
    return json_response(visible(key, await state.db.read(queries.sites, days), "site"))


async def request_metrics(state: ServerState, req: Request, key: ApiKey) -> Response:
    """Requests and 5xx errors per hour, ?hours=N (default 24)."""
    hours = _int_param(req, "hours", 24, 1, 24 * 366)
    return json_response(await state.db.read(queries.request_series, hours))


# -- redirects ------------------------------------------------------------------------------


async def list_redirects(state: ServerState, req: Request, key: ApiKey) -> Response:
    """Every redirect (?tag=T: those tagged T), with v0.9's fields too."""
    rows = await state.db.read(queries.redirect_clicks, req.query.get("tag") or None)
    return json_response([compat_v09.redirect_item(r) for r in rows])


async def add_redirect(state: ServerState, req: Request, key: ApiKey) -> Response:
    """{"slug", "url"}, or v0.9's {"slug", "destination", "tags"} (api/compat_v09.py)."""
    body = await _object(req)
    v09 = compat_v09.is_v09_redirect(body)
    if v09:
        slug, url = compat_v09.redirect_request(body)
    else:
        slug, url = body.get("slug"), body.get("url")
    if not isinstance(slug, str) or not isinstance(url, str):
        raise HTTPError(400, "BAD_REQUEST", 'expected {"slug": "...", "url": "https://..."}')
    created = await create_redirect(state, slug, url, body.get("tags") or [])
    return json_response(compat_v09.redirect_item(created) if v09 else created, 201)


async def create_redirect(state: ServerState, slug: str, url: str, tags: object = None) -> dict:
    """Add /r/<slug> -> url (also the dashboard's Redirects form): 400 or 409 if refused."""
    try:
        redirects.validate_slug(slug)
        redirects.validate_url(url)
        checked_tags = redirects.validate_tags([] if tags is None else tags)
    except ValueError as exc:
        raise HTTPError(400, "BAD_REQUEST", str(exc)) from None
    created = await state.db.write(redirects.add, slug, url, checked_tags)
    if created is None:
        raise HTTPError(409, "CONFLICT", f"the slug '{slug}' is taken")
    return created


async def delete_redirect(state: ServerState, slug: str) -> str:
    """By slug, or by v0.9's integer id when no redirect has that slug; the slug removed."""
    removed = await state.db.write(redirects.remove, slug)
    if removed is None:
        raise HTTPError(404, "REDIRECT_NOT_FOUND", f"no redirect '{slug}'")
    return removed


async def remove_redirect(state: ServerState, req: Request, key: ApiKey, slug: str) -> Response:
    removed = await delete_redirect(state, slug)
    return json_response({"slug": removed, "removed": True, "message": "Redirect deleted"})


# -- webhooks -------------------------------------------------------------------------------


async def list_webhooks(state: ServerState, req: Request, key: ApiKey) -> Response:
    return json_response(await state.db.read(queries.webhooks))


async def add_webhook(state: ServerState, req: Request, key: ApiKey) -> Response:
    """{"name"} gets a generated secret, shown in this answer only; {"name", "secret"}
    uses the given one; {"name", "unsigned": true} accepts unsigned payloads;
    "legacy_signatures": true also accepts v0.9's untimestamped X-Webhook-Signature.
    v0.9's {"name", "endpoint", "secret"} is accepted too (api/compat_v09.py)."""
    body = await _object(req)
    if compat_v09.is_v09_webhook(body):
        return await _add_v09_webhook(state, body)
    name, secret, unsigned = body.get("name"), body.get("secret"), body.get("unsigned", False)
    legacy = body.get("legacy_signatures", False)
    if (
        not isinstance(name, str)
        or not (secret is None or isinstance(secret, str))
        or not isinstance(unsigned, bool)
        or not isinstance(legacy, bool)
    ):
        raise HTTPError(
            400,
            "BAD_REQUEST",
            'expected {"name": "...", "secret"?: "...", "unsigned"?: bool, '
            '"legacy_signatures"?: bool}',
        )
    return json_response(await create_webhook(state, name, secret, unsigned, legacy), 201)


async def create_webhook(
    state: ServerState, name: str, secret: str | None, unsigned: bool, legacy: bool
) -> dict:
    """Add an inbound webhook (also the dashboard's Webhooks form); a generated secret is
    in the answer, once. 400 or 409 if refused."""
    if unsigned and secret is not None:
        raise HTTPError(400, "BAD_REQUEST", "a webhook is either unsigned or has a secret")
    try:
        webhooks.validate_name(name)
        if secret is not None:
            webhooks.validate_secret(secret)
    except ValueError as exc:
        raise HTTPError(400, "BAD_REQUEST", str(exc)) from None
    generated = secret is None and not unsigned
    if generated:
        secret = webhooks.new_secret()
    created = await state.db.write(webhooks.add, name, secret, legacy)
    if created is None:
        raise HTTPError(409, "CONFLICT", f"a webhook named '{name}' exists")
    created.pop("id")
    if generated:
        created["secret"] = secret  # shown once: it is never returned again
    return created


async def _add_v09_webhook(state: ServerState, body: dict) -> Response:
    """v0.9's fields: the endpoint is our name; signed the v0.9 way (legacy_signatures)."""
    name, secret, label = compat_v09.webhook_request(body)
    try:
        webhooks.validate_name(name)
    except ValueError as exc:
        raise HTTPError(400, "BAD_REQUEST", str(exc)) from None
    created = await state.db.write(webhooks.add, name, secret, secret is not None)
    if created is None:
        raise HTTPError(409, "CONFLICT", f"a webhook with the endpoint '{name}' exists")
    return json_response(compat_v09.webhook_response(created, label), 201)


async def delete_webhook(state: ServerState, name: str) -> str:
    """By name, or by v0.9's integer id when no webhook has that name; the name removed."""
    removed = await state.db.write(webhooks.remove, name)
    if removed is None:
        raise HTTPError(404, "WEBHOOK_NOT_FOUND", f"no webhook '{name}'")
    return removed


async def remove_webhook(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    removed = await delete_webhook(state, name)
    return json_response({"name": removed, "removed": True, "message": "Webhook deleted"})


async def webhook_events(state: ServerState, req: Request, key: ApiKey) -> Response:
    """The newest payloads, ?limit=N (default 50) &webhook=NAME."""
    limit = _int_param(req, "limit", 50, 1, 1000)
    webhook = req.query.get("webhook") or None
    return json_response(await state.db.read(queries.webhook_events, limit, webhook))
