"""Route tables: METHOD + path pattern -> endpoint, and exception type -> response.

An endpoint is `async (req, **params) -> Response`. Groups of handlers with another
signature (API handlers that take a key, dashboard pages) are adapted to it where their
routes are declared (fazt.server.routes), so the router knows one shape.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fazt.web.http import HTTPError, Request, Response

Endpoint = Callable[..., Awaitable[Response]]
ExceptionHandler = Callable[[Any], Response]

# `{name}` matches one path segment; `{name:path}` matches the rest of the path (maybe empty).
_PARAM = re.compile(r"\{(\w+)(:path)?\}")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    endpoint: Endpoint


def _compile(path: str) -> re.Pattern:
    def group(m: re.Match) -> str:
        return f"(?P<{m[1]}>.*)" if m[2] else f"(?P<{m[1]}>[^/]+)"

    regex, i = "", 0
    for m in _PARAM.finditer(path):
        regex += re.escape(path[i : m.start()]) + group(m)
        i = m.end()
    return re.compile(f"^{regex}{re.escape(path[i:])}$")


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, path: str, endpoint: Endpoint) -> None:
        """Route METHOD path to `endpoint`; `{name}` segments become keyword args."""
        self.routes.append(Route(method, _compile(path), endpoint))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, Any]]:
        """The route for this request, or HTTPError 404 / 405. A GET route answers HEAD too;
        Allow lists HEAD only where a route declares it."""
        allowed: set[str] = set()
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, m.groupdict()
            allowed.add(route.method)
        if allowed:
            raise HTTPError(
                405,
                "METHOD_NOT_ALLOWED",
                f"{method} is not allowed here",
                [("allow", ", ".join(sorted(allowed)))],
            )
        raise HTTPError(404, "NOT_FOUND", f"nothing at {path}")

    async def dispatch(self, req: Request, **extra: Any) -> Response:
        route, params = self.match(req.method, req.path)
        return await route.endpoint(req, **extra, **params)


class ExceptionHandlers:
    """Exception type -> response, looked up along the exception's class hierarchy, as
    Starlette's exception handlers: domain errors are mapped to HTTP in one table."""

    def __init__(self, handlers: dict[type[BaseException], ExceptionHandler]) -> None:
        self.handlers = handlers

    def response_for(self, exc: BaseException) -> Response | None:
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                return handler(exc)
        return None
