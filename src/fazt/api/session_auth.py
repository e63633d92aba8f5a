"""The dashboard's session cookie as seen from a request: reading it, checking CSRF,
and building the Set-Cookie header. Used by the dashboard pages and the JSON API."""

import logging

from fazt.auth import clientip, cookies, csrf, sessions
from fazt.auth.sessions import Session
from fazt.auth.tokens import ApiKey
from fazt.db import settings
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request

log = logging.getLogger("fazt")
MAX_SESSION_HOURS = 24 * 365 * 10  # a sane ceiling for both lifetimes


async def auth_settings(state: ServerState) -> dict[str, str]:
    """Settings read once per server run (like the domain): lifetimes and trusted proxies."""
    if state.auth_settings is None:
        values = await state.db.read(settings.all_settings)
        keys = ("session_ttl_seconds", "session_max_age_hours", "trusted_proxies")
        state.auth_settings = {key: values[key] for key in keys}
    return state.auth_settings


async def _positive(state: ServerState, key: str, ceiling: int) -> int:
    raw = (await auth_settings(state))[key]
    if raw.isdigit() and 0 < int(raw) <= ceiling:
        return int(raw)
    log.warning("%s=%r is not an integer from 1 to %d; using the default", key, raw, ceiling)
    return int(settings.DEFAULTS[key])


async def session_ttl(state: ServerState) -> int:
    """Seconds an unused session lives (each use slides it)."""
    return await _positive(state, "session_ttl_seconds", MAX_SESSION_HOURS * 3600)


async def session_max_age(state: ServerState) -> int:
    """Seconds a session lives after its login at most, however busy."""
    return await _positive(state, "session_max_age_hours", MAX_SESSION_HOURS) * 3600


async def _trusted(state: ServerState) -> tuple:
    try:
        return clientip.parse_trusted((await auth_settings(state))["trusted_proxies"])
    except ValueError:  # a bad setting must not open the door: trust nobody
        return ()


async def client_ip(state: ServerState, req: Request) -> str:
    """The peer, or the X-Forwarded-For client when the peer is a trusted proxy."""
    return clientip.client_ip(req.client_ip, req.header("x-forwarded-for"), await _trusted(state))


async def scheme(state: ServerState, req: Request) -> str:
    """'https' when the request came over TLS (here, or at a trusted proxy)."""
    if getattr(req.scope, "scheme", "http") == "https":
        return "https"
    forwarded = (req.header("x-forwarded-proto") or "").strip().lower()
    if forwarded == "https" and clientip.is_trusted(req.client_ip, await _trusted(state)):
        return "https"
    return "http"


async def cookie_name(state: ServerState, req: Request) -> str:
    """`__Host-fazt_session` over HTTPS (only that name is read there), else `fazt_session`."""
    return sessions.cookie_name(await scheme(state, req) == "https")


async def session_and_token(state: ServerState, req: Request) -> tuple[Session, str] | None:
    """The live session named by the request's cookie, and that cookie value; slides the
    session's expiry forward. Every value sent under our name is tried (a sibling
    subdomain can plant more, even ahead of ours), in one query."""
    tokens = cookies.values(req.header("cookie"), await cookie_name(state, req))
    if not tokens:
        return None
    max_age = await session_max_age(state)
    found = await state.db.read(sessions.lookup_first, tokens, max_age)
    if found is not None and sessions.needs_touch(found[0]):
        ttl = await session_ttl(state)
        state.db.submit_write(sessions.touch, found[0].id, ttl, max_age)
    return found


async def current_session(state: ServerState, req: Request) -> Session | None:
    found = await session_and_token(state, req)
    return found[0] if found else None


async def check_csrf(
    state: ServerState, req: Request, session: Session, form_token: str | None = None
) -> None:
    """403 unless a state-changing request comes from our origin with the session's token."""
    if req.method in csrf.SAFE_METHODS:
        return
    if not csrf.same_origin(
        req.header("origin"), req.header("referer"), await scheme(state, req), req.host
    ):
        raise HTTPError(403, "CSRF_FAILED", "cross-origin request refused")
    given = req.header(csrf.HEADER) or form_token
    if not csrf.token_matches(session.csrf_token, given):
        raise HTTPError(403, "CSRF_FAILED", "missing or wrong CSRF token; reload the page")


async def session_cookie(state: ServerState, req: Request, token: str, max_age: int) -> str:
    """Host-only, HttpOnly, SameSite=Lax; Secure and `__Host-` named over HTTPS."""
    parts = [
        f"{await cookie_name(state, req)}={token}",
        "Path=/",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Lax",
    ]
    if await scheme(state, req) == "https":
        parts.append("Secure")
    return "; ".join(parts)


async def api_identity(state: ServerState, req: Request) -> ApiKey | None:
    """A logged-in dashboard user acts on the JSON API as a full admin (with CSRF checks)."""
    session = await current_session(state, req)
    if session is None:
        return None
    await check_csrf(state, req, session)
    return ApiKey(0, f"{session.username} (dashboard)", frozenset({"admin"}))
