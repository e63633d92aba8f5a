"""Dispatching dashboard requests: static assets, login gating, CSRF, rendering.

Pages are plain HTML forms that work without JavaScript; admin.js only adds live log
tailing, the upgrade check and small conveniences. Every asset ships in this package.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fazt.auth import csrf
from fazt.auth.sessions import Session
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response

if TYPE_CHECKING:
    from jinja2 import Environment

HTML_TYPE = "text/html; charset=utf-8"
FORM_LIMIT = 256 * 1024
LOGGED_IN = "session"  # the scope of every page except login and static files
# The dashboard's CSS and JS, beside this file (not through importlib.resources: it
# imports zipfile into every server, idle memory)
STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass
class Page:
    """One dashboard request as the view functions see it."""

    state: ServerState
    req: Request
    session: Session | None
    form: dict[str, list[str]] = field(default_factory=dict)
    upload: Any = None  # the `file` part of a multipart form (views that accept one)

    def field(self, name: str, default: str = "") -> str:
        values = self.form.get(name)
        return values[0] if values else default


def _environment() -> "Environment":
    # Imported at the first page: a server nobody opens the dashboard of keeps ~5 MB.
    from jinja2 import Environment, PackageLoader, select_autoescape

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


_env: "Environment | None" = None
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
            data = (STATIC_DIR / name).read_bytes()
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
