"""Route table for the JSON API. Each route declares the scope it needs."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fazt.web.http import HTTPError, Response

PUBLIC = None  # a route with this scope needs no token

Handler = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    handler: Handler
    scope: str | None


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, path: str, handler: Handler, *, scope: str | None) -> None:
        """Register `handler` for METHOD path; `{name}` segments become keyword args."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
        self.routes.append(Route(method, re.compile(f"^{regex}$"), handler, scope))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, Any]]:
        """The route for this request, or HTTPError 404 / 405."""
        allowed = []
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, m.groupdict()
            allowed.append(route.method)
        if allowed:
            raise HTTPError(
                405,
                "METHOD_NOT_ALLOWED",
                f"{method} is not allowed here",
                [("allow", ", ".join(sorted(set(allowed))))],
            )
        raise HTTPError(404, "NOT_FOUND", f"no API route {path}")
