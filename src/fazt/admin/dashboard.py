"""Dispatching dashboard requests: static assets, login gating, CSRF, rendering.

Pages are plain HTML forms that work without JavaScript; admin.js only adds live log
tailing, the upgrade check and small conveniences. Every asset ships in this package.
"""

from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, PackageLoader, select_autoescape

from fazt.api import request_auth as session_auth
from fazt.auth import csrf, sessions
from fazt.auth.sessions import Session
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response
from fazt.web.router import PUBLIC, Router

HTML_TYPE = "text/html; charset=utf-8"
FORM_LIMIT = 256 * 1024
LOGGED_IN = "session"  # the scope of every page except login and static files
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@dataclass
class Page:
    """One dashboard request as the view functions see it."""

    state: ServerState
    req: Request
    session: Session | None
    form: dict[str, list[str]] = field(default_factory=dict)

    def field(self, name: str, default: str = "") -> str:
        values = self.form.get(name)
        return values[0] if values else default


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("fazt.admin", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from fazt.admin import charts, format

    env.filters.update(size=format.size, ago=format.ago, when=format.when)
    env.globals.update(line_chart=charts.line_chart, bar_rows=charts.bar_rows)
    return env


_env: Environment | None = None
_static: dict[str, tuple[bytes, str]] = {}


def render(page: Page, template: str, status: int = 200, **context: Any) -> Response:
    global _env
    if _env is None:
        _env = _environment()
    html = _env.get_template(template).render(
        session=page.session,
        # Masked afresh for every page (see fazt.auth.csrf: BREACH).
        csrf_token=csrf.mask(page.session.csrf_token) if page.session else "",
        version=page.state.version,
        path=page.req.path,
        **context,
    )
    headers = [("content-type", HTML_TYPE), ("cache-control", "no-store")]
    return Response(status, html.encode(), headers)


def redirect(location: str) -> Response:
    return Response(303, b"", [("location", location), ("cache-control", "no-store")])


def safe_next(target: str | None) -> str:
    """Only local paths: `next=//evil.example` must not send anyone elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if not target.isascii() or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return "/"  # it goes into a Location header: nothing that could break out of it
    return target


def static_file(name: str) -> Response:
    if name not in _static:
        suffix = name[name.rfind(".") :] if "." in name else ""
        if "/" in name or suffix not in STATIC_TYPES:
            raise HTTPError(404, "NOT_FOUND", f"no static file {name}")
        try:
            data = resources.files("fazt.admin").joinpath("static", name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise HTTPError(404, "NOT_FOUND", f"no static file {name}") from None
        _static[name] = (data, STATIC_TYPES[suffix])
    data, content_type = _static[name]
    return Response(
        200, data, [("content-type", content_type), ("cache-control", "public, max-age=300")]
    )


async def read_form(req: Request) -> dict[str, list[str]]:
    raw = await req.body(FORM_LIMIT)
    form: dict[str, list[str]] = {}
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise HTTPError(400, "BAD_REQUEST", "the form is not valid UTF-8") from None
    for key, value in pairs:
        form.setdefault(key, []).append(value)
    return form


class Dashboard:
    def __init__(self, state: ServerState) -> None:
        from fazt.admin import views

        self.state = state
        self.pages = Router()
        views.register(self.pages)

    async def handle(self, req: Request) -> Response:
        path = req.path
        if path.startswith("/static/"):
            if req.method not in ("GET", "HEAD"):
                raise HTTPError(
                    405,
                    "METHOD_NOT_ALLOWED",
                    "static files answer GET and HEAD",
                    [("allow", "GET, HEAD")],
                )
            return static_file(path[len("/static/") :])
        try:
            route, params = self.pages.match(req.method, path)
        except HTTPError as exc:
            if exc.status == 404:
                raise HTTPError(404, "NOT_FOUND", f"nothing at {path}") from None
            allowed = dict(exc.headers).get("allow", "")
            if "GET" in allowed.split(", "):  # HEAD is always answered where GET is
                exc.headers = [("allow", f"{allowed}, HEAD")]
            raise
        found = await session_auth.session_and_token(self.state, req)
        page = Page(self.state, req, found[0] if found else None)
        if route.scope is not PUBLIC and page.session is None:
            return self._login_first(page)
        if req.method == "POST":
            page.form = await read_form(req)
            if route.scope is not PUBLIC:  # the login form checks its own origin
                await session_auth.check_csrf(
                    self.state, req, page.session, page.field("csrf_token") or None
                )
        response = await route.handler(page, **params)
        if found is not None and sessions.needs_touch(found[0]):
            await self._refresh_cookie(req, response, *found)
        return response

    async def _refresh_cookie(
        self, req: Request, response: Response, session: Session, token: str
    ) -> None:
        """The session's expiry just slid forward: the cookie's Max-Age follows."""
        if any(name == "set-cookie" for name, _ in response.headers):  # e.g. logout
            return
        ttl = await session_auth.session_ttl(self.state)
        left = sessions.seconds_left(session, ttl, await session_auth.session_max_age(self.state))
        cookie = await session_auth.session_cookie(self.state, req, token, left)
        response.headers.append(("set-cookie", cookie))

    def _login_first(self, page: Page) -> Response:
        from fazt.admin import views

        if page.req.path == "/" and page.req.method in ("GET", "HEAD"):
            return views.login_form(page, next_path="/")
        target = page.req.path if page.req.method in ("GET", "HEAD") else "/"
        return redirect("/login?next=" + quote(target, safe="/"))
