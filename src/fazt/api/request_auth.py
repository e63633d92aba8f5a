"""Auth as seen from a request: the client's address and scheme (behind trusted proxies),
the dashboard's session cookie, CSRF checks and the Set-Cookie header.

The rules themselves live in fazt.auth (policy, clientip, cookies, csrf, sessions); this
module reads the request and the server's settings and hands them over. Used by the
dashboard pages and the JSON API.
"""

import secrets
from dataclasses import dataclass

from fazt.auth import clientip, cookies, csrf, passwords, policy, sessions
from fazt.auth.sessions import Session
from fazt.auth.tokens import ApiKey
from fazt.cpu import run_cpu
from fazt.db import settings
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request

BUSY_RETRY_SECONDS = 2  # no password-hashing slot came free (see PasswordChecker)
_dummy_hash: str | None = None


async def auth_settings(state: ServerState) -> dict[str, str]:
    """Settings read once per server run (like the domain): lifetimes and trusted proxies."""
    if state.auth_settings is None:
        values = await state.db.read(settings.all_settings)
        state.auth_settings = {key: values[key] for key in policy.KEYS}
    return state.auth_settings


async def session_ttl(state: ServerState) -> int:
    """Seconds an unused session lives (each use slides it)."""
    return policy.session_ttl(await auth_settings(state))


async def session_max_age(state: ServerState) -> int:
    """Seconds a session lives after its login at most, however busy."""
    return policy.session_max_age(await auth_settings(state))


async def client_ip(state: ServerState, req: Request) -> str:
    """The peer, or the X-Forwarded-For client when the peer is a trusted proxy."""
    trusted = policy.trusted_proxies(await auth_settings(state))
    return clientip.client_ip(req.client_ip, req.header("x-forwarded-for"), trusted)


async def scheme(state: ServerState, req: Request) -> str:
    """'https' when the request came over TLS (here, or at a trusted proxy)."""
    tls = getattr(req.scope, "scheme", "http") == "https"
    trusted = () if tls else policy.trusted_proxies(await auth_settings(state))
    return clientip.scheme(tls, req.header("x-forwarded-proto"), req.client_ip, trusted)


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
    reason = csrf.refusal(
        req.header("origin"),
        req.header("referer"),
        await scheme(state, req),
        req.host,
        session.csrf_token,
        req.header(csrf.HEADER) or form_token,
    )
    if reason is not None:
        raise HTTPError(403, "CSRF_FAILED", reason)


async def check_origin(
    state: ServerState, req: Request, message: str = "cross-origin request refused"
) -> None:
    """403 unless the request comes from our own origin (or says nothing: not a browser)."""
    origin, referer = req.header("origin"), req.header("referer")
    if not csrf.same_origin(origin, referer, await scheme(state, req), req.host):
        raise HTTPError(403, "CSRF_FAILED", message)


def masked_csrf(session: Session) -> str:
    """The session's CSRF token as pages and API clients send it back (X-CSRF-Token)."""
    return csrf.mask(session.csrf_token)


async def session_cookie(state: ServerState, req: Request, token: str, max_age: int) -> str:
    """Host-only, HttpOnly, SameSite=Lax; Secure and `__Host-` named over HTTPS."""
    return sessions.set_cookie(token, max_age, await scheme(state, req) == "https")


async def api_identity(state: ServerState, req: Request) -> ApiKey | None:
    """A logged-in dashboard user acts on the JSON API as a full admin (with CSRF checks)."""
    session = await current_session(state, req)
    if session is None:
        return None
    await check_csrf(state, req, session)
    return ApiKey(0, f"{session.username} (dashboard)", frozenset({"admin"}))


@dataclass(frozen=True)
class Login:
    """What a password login came to: `outcome` is "ok" (a new session `token`, its cookie
    `max_age`), "wrong", "limited" or "busy" (try again in `retry_after` seconds)."""

    outcome: str
    token: str = ""
    max_age: int = 0
    retry_after: int = 0


def _dummy() -> str:
    """A real hash to verify against when the user does not exist (same timing)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = passwords.hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


async def password_login(state: ServerState, req: Request, username: str, password: str) -> Login:
    """The one login check, for the dashboard's form and v0.9's POST /api/login: same-origin
    only (403), at most 5 failures per client per 15 minutes, the password checked by the
    bounded PasswordChecker, a new session on success."""
    await check_origin(state, req, "cross-origin login refused")
    ip = await client_ip(state, req)
    # The attempt counts as a failure before the password is checked (and is given back
    # on success), so concurrent guesses cannot all slip under the limit.
    stamp, wait = state.login_failures.reserve(ip)
    if stamp is None:
        return Login("limited", retry_after=wait)
    try:
        user = await state.db.read(sessions.find_user, username)
        # Verify even for an unknown user, so the answer's timing does not reveal names.
        ok = await state.password_checks.verify(user[1] if user else _dummy(), password)
    except passwords.Busy:
        state.login_failures.release(ip, stamp)  # not checked: it does not count
        return Login("busy", retry_after=BUSY_RETRY_SECONDS)
    if user is None or not ok:
        return Login("wrong")
    state.login_failures.release(ip, stamp)
    if passwords.needs_rehash(user[1]):  # imported from v0.9: keep argon2id from now on
        new_hash = await run_cpu(passwords.rehash, password)
        await state.db.write(passwords.replace_hash, user[0], user[1], new_hash)
    ttl = await session_ttl(state)
    max_age = await session_max_age(state)
    agent = req.header("user-agent") or ""
    token = await state.db.write(sessions.create, user[0], ttl, ip, agent, max_age)
    return Login("ok", token, min(ttl, max_age))
