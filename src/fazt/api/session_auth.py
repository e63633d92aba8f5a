"""The dashboard's session cookie as seen from a request: reading it, checking CSRF,
and building the Set-Cookie header. Used by the dashboard pages and the JSON API."""

import logging

from fazt.auth import clientip, csrf, sessions
from fazt.auth.sessions import Session
from fazt.auth.tokens import ApiKey
from fazt.db import settings
from fazt.server.http import HTTPError, Request
from fazt.server.state import ServerState

log = logging.getLogger("fazt")
MAX_COOKIES = 3  # values of our cookie looked up per request


async def auth_settings(state: ServerState) -> dict[str, str]:
    """Settings read once per server run (like the domain): TTL and trusted proxies."""
    if state.auth_settings is None:
        values = await state.db.read(settings.all_settings)
        state.auth_settings = {
            "session_ttl_seconds": values["session_ttl_seconds"],
            "trusted_proxies": values["trusted_proxies"],
        }
    return state.auth_settings


async def session_ttl(state: ServerState) -> int:
    raw = (await auth_settings(state))["session_ttl_seconds"]
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    log.warning("session_ttl_seconds=%r is not a positive integer; using the default", raw)
    return int(settings.DEFAULTS["session_ttl_seconds"])


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


def cookie_values(req: Request, name: str = sessions.COOKIE_NAME) -> list[str]:
    """Every value sent for the cookie `name` (a sibling subdomain can plant a second
    one with Domain=<parent>; it must not hide ours)."""
    values = []
    for part in (req.header("cookie") or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value.strip():
            values.append(value.strip())
    return values[:MAX_COOKIES]


async def session_and_token(state: ServerState, req: Request) -> tuple[Session, str] | None:
    """The live session named by the request's cookie, and that cookie value; slides the
    session's expiry forward."""
    for token in cookie_values(req):
        session = await state.db.read(sessions.lookup, token)
        if session is not None:
            if sessions.needs_touch(session):
                state.db.submit_write(sessions.touch, session.id, await session_ttl(state))
            return session, token
    return None


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
    """Host-only, HttpOnly, SameSite=Lax; Secure when the request came over HTTPS."""
    parts = [
        f"{sessions.COOKIE_NAME}={token}",
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
