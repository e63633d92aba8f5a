"""Dashboard pages as router endpoints: login gating, form parsing, CSRF, session refresh.

A view is `async (page, **params) -> Response`; `page_endpoint` adapts it to the router
(fazt.server.routes declares which view answers which path, and whether it needs a login).
"""

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fazt.admin.dashboard import LOGGED_IN, Page, read_form, redirect, render, static_file
from fazt.api import request_auth
from fazt.auth import sessions
from fazt.auth.sessions import Session
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response

View = Callable[..., Awaitable[Response]]


def page_endpoint(state: ServerState, view: View, scope: str | None) -> Callable:
    """The endpoint for `view`: scope LOGGED_IN sends visitors without a session to the
    login form, and checks the CSRF token of every POST; None (the login form) does not."""

    async def endpoint(req: Request, **params: Any) -> Response:
        found = await request_auth.session_and_token(state, req)
        page = Page(state, req, found[0] if found else None)
        if scope == LOGGED_IN and page.session is None:
            return _login_first(page)
        if req.method == "POST":
            if getattr(view, "multipart", False):  # an upload form (fazt.admin.deploy_page)
                from fazt.admin.deploy_page import read_multipart  # (idle memory, issue 22)

                page.form, page.upload = await read_multipart(state, req)
            else:
                page.form = await read_form(req)
            if scope == LOGGED_IN:  # the login form checks its own origin
                await request_auth.check_csrf(
                    state, req, page.session, page.field("csrf_token") or None
                )
        try:
            response = await view(page, **params)
        finally:
            if page.upload is not None:
                page.upload.close()
        if found is not None and sessions.needs_touch(found[0]):
            await _refresh_cookie(state, req, response, *found)
        return response

    endpoint.__qualname__ = f"page:{view.__qualname__}"
    return endpoint


async def static_endpoint(req: Request, name: str) -> Response:
    """/static/<name>: the dashboard's CSS and JavaScript, shipped in this package."""
    return static_file(name)


async def favicon_endpoint(req: Request) -> Response:
    """/favicon.ico: browsers ask for it on any page that names no icon (the login form
    does name one); the same SVG as /static/favicon.svg."""
    return static_file("favicon.svg")


def wants_html(req: Request) -> bool:
    """A browser asking for a page: a GET or HEAD outside the JSON API that accepts HTML."""
    if req.method not in ("GET", "HEAD") or req.path.startswith("/api/") or req.path == "/api":
        return False
    return "text/html" in (req.header("accept") or "")


async def not_found_page(state: ServerState, req: Request, exc: HTTPError) -> Response:
    """The dashboard's HTML 404 page (with the navigation when logged in)."""
    found = await request_auth.session_and_token(state, req)
    page = Page(state, req, found[0] if found else None)
    return render(page, "404.html", 404, message=exc.message)


async def _refresh_cookie(
    state: ServerState, req: Request, response: Response, session: Session, token: str
) -> None:
    """The session's expiry just slid forward: the cookie's Max-Age follows."""
    if any(name == "set-cookie" for name, _ in response.headers):  # e.g. logout
        return
    ttl = await request_auth.session_ttl(state)
    left = sessions.seconds_left(session, ttl, await request_auth.session_max_age(state))
    cookie = await request_auth.session_cookie(state, req, token, left)
    response.headers.append(("set-cookie", cookie))


def _login_first(page: Page) -> Response:
    if page.req.path == "/" and page.req.method in ("GET", "HEAD"):
        from fazt.admin import views  # imported at the first page (idle memory, issue 22)

        return views.login_form(page, next_path="/")
    target = page.req.path if page.req.method in ("GET", "HEAD") else "/"
    return redirect("/login?next=" + quote(target, safe="/"))
