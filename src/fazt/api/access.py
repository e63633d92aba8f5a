"""Bearer-token (or dashboard session) authentication with per-route scopes and a limit on
failed attempts, and the checks for keys limited to named sites.

A site-limited key (tokens.ApiKey.sites) may act only on its sites. The rules, the same on
every route:
- a route naming a site (path `{name}`, a `site` field or `?site=`) answers 403
  FORBIDDEN_SITE for any other site, whether it exists or not (no probing of names);
- a lookup by id or key of an object another site owns (a deployment id, a domain)
  answers 404, as if it did not exist (no probing of ids);
- listings show only the key's sites;
- server-wide routes (keys, backups, upgrade, settings, certificates, sessions, system,
  redirects, webhooks, all-sites metrics) refuse a site-limited key with 403
  FORBIDDEN_SITE whatever its scopes. The route table (fazt.server.routes) marks each
  route PER_SITE or WHOLE_SERVER, and `api_endpoint` refuses site-limited keys on the
  latter: a route is per-site only when its handler does the per-site checks itself.
"""

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fazt.api import request_auth
from fazt.auth import legacy_keys, passwords, tokens
from fazt.auth.tokens import ApiKey
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response

Handler = Callable[..., Awaitable[Response]]

TOUCH_INTERVAL = 60.0  # write last_used_at at most once a minute per key


async def authenticate(state: ServerState, req: Request, scope: str) -> ApiKey:
    """The API key presented with the request, if it grants `scope`; else 401/403/429."""
    header = req.header("authorization") or ""
    if not header:
        # The dashboard calls the same API with its session cookie (plus CSRF token); the
        # token limiter does not apply to it, so API-key guessing cannot lock it out.
        dashboard = await request_auth.api_identity(state, req)
        if dashboard is not None:
            return dashboard
        raise HTTPError(401, "UNAUTHORIZED", "missing Authorization: Bearer <token> header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPError(401, "UNAUTHORIZED", "use Authorization: Bearer <token>")
    key = await _checked_lookup(state, req, token.strip())
    if not key.allows(scope):
        raise HTTPError(
            403,
            "FORBIDDEN",
            f"this key lacks the '{scope}' scope (it has: {', '.join(sorted(key.scopes))})",
        )
    now = time.monotonic()
    if now - state.key_touched.get(key.id, -TOUCH_INTERVAL) >= TOUCH_INTERVAL:
        state.key_touched[key.id] = now
        state.db.submit_write(tokens.touch, key.id)
    return key


async def _checked_lookup(state: ServerState, req: Request, token: str) -> ApiKey:
    """Look the token up under the failure limit, keyed on the real client (the
    X-Forwarded-For client behind a trusted proxy, not the proxy), counted before the
    lookup so concurrent guesses cannot overshoot it."""
    ip = await request_auth.client_ip(state, req)
    stamp, wait = state.token_failures.reserve(ip)
    if stamp is None:
        raise HTTPError(
            429,
            "RATE_LIMITED",
            "too many failed authentication attempts; try again later",
            [("retry-after", str(wait))],
        )
    key = await state.db.read(tokens.lookup, token)
    if key is None and legacy_keys.could_be_v09(token):
        key = await _v09_key(state, token)
    if key is None:
        raise HTTPError(401, "INVALID_API_KEY", "invalid or revoked API key")
    state.token_failures.release(ip, stamp)
    return key


async def _v09_key(state: ServerState, token: str) -> ApiKey | None:
    """A key imported from v0.9 whose bcrypt hash the token matches, converted on the way
    (auth.legacy_keys); checks run through the bounded password checker."""
    for key_id, bcrypt_hash in await state.db.read(legacy_keys.candidates):
        try:
            matched = await state.password_checks.verify(bcrypt_hash, token)
        except passwords.Busy:
            raise HTTPError(
                503,
                "BUSY",
                "the server is busy checking other keys; try again",
                [("retry-after", str(request_auth.BUSY_RETRY_SECONDS))],
            ) from None
        if matched:
            await state.db.write(legacy_keys.convert, key_id, token)
            return await state.db.read(tokens.lookup, token)
    return None


def check_site(key: ApiKey | None, site: str) -> None:
    """403 FORBIDDEN_SITE unless `key` may act on `site` (a normalised site name)."""
    if key is not None and not key.allows_site(site):
        raise HTTPError(
            403,
            "FORBIDDEN_SITE",
            f"this key is limited to the sites {', '.join(sorted(key.sites or ()))}; not '{site}'",
        )


def owns(key: ApiKey | None, site: str) -> bool:
    """Whether `key` may see an object of `site` (callers answer 404 when not)."""
    return key is None or key.allows_site(site)


def visible(key: ApiKey | None, rows: Iterable[dict], field: str = "name") -> list[dict]:
    """The rows whose `field` names a site the key may see (all of them for other keys)."""
    return [r for r in rows if owns(key, r[field])]


PUBLIC = None  # the scope of a route that needs no key


def api_endpoint(state: ServerState, handler: Handler, scope: str | None, per_site: bool):
    """Adapt an API handler `(state, req, key, **params) -> Response` to the router: the
    request's key must grant `scope` (PUBLIC: no key), and a route that is not `per_site`
    (server-wide) refuses a site-limited key with 403, whatever its scopes."""

    async def endpoint(req: Request, **params: Any) -> Response:
        key = None if scope is PUBLIC else await authenticate(state, req, scope)
        if not per_site and key is not None and key.sites is not None:
            raise HTTPError(
                403,
                "FORBIDDEN_SITE",
                "this key is limited to named sites; this endpoint covers every site",
            )
        return await handler(state, req, key, **params)

    endpoint.__qualname__ = f"api:{handler.__module__}.{handler.__qualname__}"
    return endpoint
