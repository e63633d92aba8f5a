"""Bearer-token (or dashboard session) authentication with per-route scopes and a limit on
failed attempts."""

import time

from fazt.api import session_auth
from fazt.auth import tokens
from fazt.auth.tokens import ApiKey
from fazt.server.http import HTTPError, Request
from fazt.server.state import ServerState

TOUCH_INTERVAL = 60.0  # write last_used_at at most once a minute per key


async def authenticate(state: ServerState, req: Request, scope: str) -> ApiKey:
    """The API key presented with the request, if it grants `scope`; else 401/403/429."""
    header = req.header("authorization") or ""
    if not header:
        # The dashboard calls the same API with its session cookie (plus CSRF token); the
        # token limiter does not apply to it, so API-key guessing cannot lock it out.
        dashboard = await session_auth.api_identity(state, req)
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
    ip = await session_auth.client_ip(state, req)
    stamp, wait = state.token_failures.reserve(ip)
    if stamp is None:
        raise HTTPError(
            429,
            "RATE_LIMITED",
            "too many failed authentication attempts; try again later",
            [("retry-after", str(wait))],
        )
    key = await state.db.read(tokens.lookup, token)
    if key is None:
        raise HTTPError(401, "INVALID_API_KEY", "invalid or revoked API key")
    state.token_failures.release(ip, stamp)
    return key
