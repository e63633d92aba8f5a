"""/_fazt/auth/* on every site: visitors sign in to the app (auth/visitors.py, oidc.py).

- GET  /_fazt/auth/login?provider=NAME&next=/path  starts a sign-in: the state (one use,
  also set in a cookie bound to this browser), nonce and PKCE verifier are kept
  server-side for 10 minutes, then the browser goes to the provider. The `dev` provider
  (local development, `*.localhost` hosts only) shows a form asking for a name and email.
- GET  /_fazt/auth/callback  checks the state, exchanges the code, verifies the ID token,
  opens a session of this site only and goes to `next`.
- GET  /_fazt/auth/logout  a confirm form; POST signs out (same origin + CSRF token).
- GET  /_fazt/auth/me  the signed-in visitor as JSON, or null (for static pages).

`next` is only ever a path of this site: anything else is refused.
"""

import re
from urllib.parse import parse_qsl

from fazt.api import request_auth
from fazt.auth import csrf, visitors
from fazt.auth.cookies import values as cookie_values
from fazt.auth.visitors import PendingLogin, Visitor
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response

MAX_FORM_BYTES = 4096
# Printable ASCII without a backslash, and not `//` or `/\` (which browsers treat as
# another host): a path of this site.
_NEXT = re.compile(r"^/(?![/\\])[\x21-\x5b\x5d-\x7e]{0,1999}$")


def safe_next(value: str | None) -> str:
    """A same-site relative path, or a 400: never another origin (`//x`, `/\\x`, `https:`)."""
    if value is None or value == "":
        return "/"
    if not _NEXT.match(value):
        raise HTTPError(400, "INVALID_NEXT", "next must be a path of this site, such as /app")
    return value


async def _https(state: ServerState, req: Request) -> bool:
    return await request_auth.scheme(state, req) == "https"


def _hostname(req: Request) -> str:
    host = (req.host or "").lower()
    return host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]


def is_local_host(req: Request) -> bool:
    """The dev provider's hosts: `localhost` and `*.localhost` (RFC 6761: never public)."""
    name = _hostname(req)
    return name == "localhost" or name.endswith(".localhost")


def _html(body: str, status: int = 200, headers: list | None = None) -> Response:
    page = (
        "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        "<title>Sign in</title>"
        "<body style='font-family:sans-serif;max-width:28em;margin:3em auto'>"
        f"{body}</body>"
    )
    head = [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store")]
    return Response(status, page.encode(), head + (headers or []))


def _redirect(location: str, cookies: list[str]) -> Response:
    headers = [("location", location), ("cache-control", "no-store")]
    return Response(303, None, headers + [("set-cookie", c) for c in cookies])


async def current_visitor(state: ServerState, req: Request, site: str) -> Visitor | None:
    """The signed-in visitor of `site` for this request's cookie, or None."""
    cookie = req.header("cookie")
    if not cookie:  # most API calls: no need to work out the scheme (and cookie name)
        return None
    name = visitors.cookie_name(await _https(state, req))
    tokens = cookie_values(cookie, name)
    if not tokens:
        return None
    return await state.db.read(visitors.lookup, site, tokens)


# -- sign in -------------------------------------------------------------------------


async def login(state: ServerState, req: Request, site: str) -> Response:
    # httpx and cryptography load at the first sign-in, not in every idle worker
    from fazt.auth import github, oidc

    provider_name = req.query.get("provider") or ""
    next_path = safe_next(req.query.get("next"))
    https = await _https(state, req)
    origin = f"{'https' if https else 'http'}://{req.host}"
    redirect_uri = f"{origin}/_fazt/auth/callback"
    the_state, nonce, verifier = oidc.new_secrets()
    if provider_name == visitors.DEV_PROVIDER:
        _require_local(req)
        pending = PendingLogin(site, provider_name, nonce, verifier, next_path, redirect_uri)
        await state.db.write(visitors.start_login, the_state, pending)
        cookie = visitors.state_cookie(the_state, visitors.LOGIN_TTL_SECONDS, https)
        return _html(_dev_form(the_state), headers=[("set-cookie", cookie)])
    provider = await state.db.read(visitors.get_provider, provider_name)
    if provider is None:
        raise HTTPError(
            404, "PROVIDER_NOT_FOUND", f"no sign-in provider '{provider_name}' on this server"
        )
    if provider.kind == "github":  # OAuth 2 and the /user API (auth/github.py)
        url = github.authorization_url(
            provider.issuer, provider.client_id, redirect_uri, the_state, verifier
        )
    else:
        found = await oidc.discover(provider.issuer)
        url = oidc.authorization_url(
            found, provider.client_id, provider.scopes, redirect_uri, the_state, nonce, verifier
        )
    pending = PendingLogin(site, provider.name, nonce, verifier, next_path, redirect_uri)
    await state.db.write(visitors.start_login, the_state, pending)
    cookie = visitors.state_cookie(the_state, visitors.LOGIN_TTL_SECONDS, https)
    return _redirect(url, [cookie])


def _require_local(req: Request) -> None:
    if not is_local_host(req):
        raise HTTPError(
            403,
            "DEV_PROVIDER_LOCAL_ONLY",
            "the dev sign-in provider answers only on localhost and *.localhost hosts",
        )


def _dev_form(the_state: str) -> str:
    return (
        "<h1>Development sign-in</h1><p>For local development only: anyone can be anyone.</p>"
        "<form method=post action='/_fazt/auth/dev'>"
        f"<input type=hidden name=state value='{_escape(the_state)}'>"
        "<p><label>Name <input name=name required maxlength=100></label></p>"
        "<p><label>Email <input name=email type=email required maxlength=200></label></p>"
        "<p><button type=submit>Sign in</button></p></form>"
    )


async def _take(state: ServerState, req: Request, site: str, given: str) -> PendingLogin:
    """The pending sign-in named by `given`, which must be this browser's state cookie."""
    https = await _https(state, req)
    cookies = cookie_values(req.header("cookie"), visitors.state_cookie_name(https))
    if not given or given not in cookies:
        raise HTTPError(400, "INVALID_STATE", "this sign-in was not started in this browser")
    pending = await state.db.write(visitors.take_login, given, site)
    if pending is None:
        raise HTTPError(400, "INVALID_STATE", "unknown or expired sign-in; start again")
    return pending


async def callback(state: ServerState, req: Request, site: str) -> Response:
    # httpx and cryptography load at the first sign-in, not in every idle worker
    from fazt.auth import github, oidc

    query = req.query
    pending = await _take(state, req, site, query.get("state") or "")
    if query.get("error"):
        raise HTTPError(400, "SIGN_IN_FAILED", f"the provider refused: {query['error'][:200]}")
    provider = await state.db.read(visitors.get_provider, pending.provider)
    if provider is None or not query.get("code"):
        raise HTTPError(400, "SIGN_IN_FAILED", "the provider gave no code")
    if provider.kind == "github":
        claims = await github.sign_in_claims(
            provider.issuer,
            provider.client_id,
            provider.client_secret,
            query["code"],
            pending.redirect_uri,
            pending.verifier,
        )
        return await _signed_in(
            state, req, site, provider.name, claims["sub"], claims, pending.next
        )
    found = await oidc.discover(provider.issuer)
    token = await oidc.exchange_code(
        found,
        provider.client_id,
        provider.client_secret,
        query["code"],
        pending.redirect_uri,
        pending.verifier,
    )
    claims = await oidc.verify_id_token(token, found, provider.client_id, pending.nonce)
    return await _signed_in(state, req, site, provider.name, claims["sub"], claims, pending.next)


async def dev_sign_in(state: ServerState, req: Request, site: str) -> Response:
    _require_local(req)
    form = await _form(req)
    pending = await _take(state, req, site, form.get("state", ""))
    if pending.provider != visitors.DEV_PROVIDER:
        raise HTTPError(400, "INVALID_STATE", "this sign-in is not a dev one")
    email = form.get("email", "").strip().lower()
    name = form.get("name", "").strip()
    if not name or "@" not in email or len(email) > 200 or len(name) > 100:
        raise HTTPError(400, "BAD_REQUEST", "a name and an email address are required")
    claims = {"email": email, "name": name}
    return await _signed_in(state, req, site, visitors.DEV_PROVIDER, email, claims, pending.next)


async def _signed_in(
    state: ServerState, req: Request, site: str, provider: str, subject: str, claims: dict,
    next_path: str,
) -> Response:  # fmt: skip
    token = await state.db.write(visitors.sign_in, site, provider, subject, claims)
    https = await _https(state, req)
    return _redirect(
        next_path,
        [
            visitors.session_cookie(token, visitors.SESSION_TTL_SECONDS, https),
            visitors.state_cookie("", 0, https),
        ],
    )


async def _form(req: Request) -> dict[str, str]:
    raw = await req.body(MAX_FORM_BYTES)
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


# -- signed in -----------------------------------------------------------------------


async def me(state: ServerState, req: Request, site: str) -> Response:
    visitor = await current_visitor(state, req, site)
    response = json_response({"user": visitor.public() if visitor else None})
    response.headers.append(("cache-control", "no-store"))
    return response


async def logout_form(state: ServerState, req: Request, site: str) -> Response:
    next_path = safe_next(req.query.get("next"))
    visitor = await current_visitor(state, req, site)
    if visitor is None:
        return _html(f"<p>You are not signed in. <a href='{_escape(next_path)}'>Back</a></p>")
    return _html(
        f"<p>Signed in as {_escape(visitor.email or visitor.name or visitor.id)}.</p>"
        "<form method=post action='/_fazt/auth/logout'>"
        f"<input type=hidden name=csrf value='{csrf.mask(visitor.csrf_token)}'>"
        f"<input type=hidden name=next value='{_escape(next_path)}'>"
        "<button type=submit>Sign out</button></form>"
    )


async def logout(state: ServerState, req: Request, site: str) -> Response:
    form = await _form(req)
    next_path = safe_next(form.get("next"))
    https = await _https(state, req)
    visitor = await current_visitor(state, req, site)
    if visitor is not None:
        why = csrf.refusal(
            req.header("origin"),
            req.header("referer"),
            "https" if https else "http",
            req.host,
            visitor.csrf_token,
            form.get("csrf"),
        )
        if why:
            raise HTTPError(403, "CSRF_FAILED", why)
        tokens = cookie_values(req.header("cookie"), visitors.cookie_name(https))
        await state.db.write(visitors.end_session, site, tokens)
    return _redirect(next_path, [visitors.session_cookie("", 0, https)])


def _escape(text: str) -> str:
    # Imported at the first sign-in page: html loads html.entities (~0.5 MB), which an idle
    # worker does not need (issue 22).
    from html import escape

    return escape(text)
