"""The RSGI application: route by Host, then serve the API, a site, or a 404 page."""

import asyncio
import logging
from typing import Any

from fazt.admin.dashboard import Dashboard
from fazt.analytics import endpoints as analytics_endpoints
from fazt.api.access import authenticate
from fazt.api.routes import build_router
from fazt.hosting import routing
from fazt.hosting.compression import preferred
from fazt.hosting.paths import canonical_path
from fazt.hosting.static import is_missing, send_file
from fazt.realtime.hub import Hub
from fazt.runtime.service import Runtime
from fazt.server.edge import EdgeGuard
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, error_response, send

log = logging.getLogger("fazt")

# Only the dashboard gets these; user sites keep whatever headers they choose.
DASHBOARD_HEADERS = [
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
]
PLAIN_404 = b"404 Not Found\n"


class FaztApp:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.router = build_router()
        self.hub = Hub.from_db(state.db)
        self.edge = state.edge = EdgeGuard.from_db(state.db)  # per-address limits
        Request.body_timeout = self.edge.limits.http_body_timeout_seconds
        self.runtime = Runtime(state.db, publish=self.hub.publish_channel)
        self.dashboard = Dashboard(state)
        self.analytics = state.analytics  # its request/error counters, bumped below
        self._tasks: list[asyncio.Task] = []

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._tasks.append(loop.create_task(self.state.watch_database()))

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        for task in self._tasks:
            task.cancel()
        self.runtime.close()

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        self.analytics.requests += 1  # hourly request metrics: one int, even on the hot path
        edge = self.edge
        if edge.enabled and not edge.admit(scope, proto):  # O(1): a dict lookup, some floats
            return  # over the address's request rate: answered 429
        if scope.proto != "http":
            await self.serve_websocket(scope, proto)
            return
        headers = scope.headers
        host = headers.get("host") or scope.authority
        target = self.state.routing.resolve(host)
        path = canonical_path(scope.path)
        if target.kind == routing.SITE and scope.method == "GET" and _unconditional(headers):
            # The hot path: a cached file, answered with prebuilt headers, no I/O.
            found = self.state.static.cached(target.site, target.deployment_id, path)
            if found is not None and found.full:
                encoding = preferred(headers.get("accept-encoding"), found.variants)
                response_headers, body = found.full[encoding]
                proto.response_bytes(found.status, response_headers, body)
                return
        if edge.enabled and not edge.hold(scope, proto):  # requests in progress per address
            return
        req = Request(scope, proto, host or "")
        try:
            if path is None:
                raise HTTPError(400, "BAD_PATH", "the path contains a control character")
            req.path = path  # every consumer (static, runtime, analytics) sees this spelling
            if target.kind == routing.SITE:
                await self.serve_site(req, target.site, target.deployment_id)
            elif target.kind == routing.DASHBOARD:
                await self.serve_dashboard(req)
            elif target.kind == routing.BAD_HOST:
                raise HTTPError(400, "BAD_HOST", "missing or malformed Host header")
            else:
                await self.serve_not_found(req)
        except HTTPError as exc:
            if exc.status >= 500:
                self.analytics.errors += 1
            send(proto, self._error(target, exc), req.method == "HEAD")
        except Exception:
            self.analytics.errors += 1
            log.exception("unhandled error for %s %s", scope.method, scope.path)
            error = HTTPError(500, "INTERNAL_ERROR", "unexpected error")
            send(proto, self._error(target, error), req.method == "HEAD")

    @staticmethod
    def _error(target: routing.Target, exc: HTTPError) -> Response:
        response = error_response(exc)
        if target.kind == routing.DASHBOARD:  # its errors get the security headers too
            response.headers.extend(DASHBOARD_HEADERS)
        return response

    async def serve_websocket(self, scope: Any, proto: Any) -> None:
        """`/ws` on a site host is that site's broadcast channel; nothing else upgrades."""
        if self.edge.enabled and not self.edge.hold(scope, proto):  # per-address cap
            return
        host = scope.headers.get("host") or scope.authority
        target = self.state.routing.resolve(host)
        if target.kind != routing.SITE or scope.path != "/ws":
            proto.close(404)
            return
        origin = scope.headers.get("origin")
        await self.hub.serve(target.site, proto, host, origin, self.edge.address(scope))

    async def serve_site(self, req: Request, site: str, deployment_id: int) -> None:
        # /api and /api/* run the site's JavaScript when its live deployment has some for
        # the path (any method); everything else is static, as before.
        path = req.path
        if path.startswith(analytics_endpoints.SITE_PREFIX):  # /_fazt/t.js, /_fazt/track
            response = await analytics_endpoints.serve_site(self.state, req, site)
            send(req.proto, response, req.method == "HEAD")
            return
        if (path == "/api" or path.startswith("/api/")) and await self.runtime.handle(
            req, site, deployment_id
        ):
            return
        if req.method not in ("GET", "HEAD"):
            raise HTTPError(
                405,
                "METHOD_NOT_ALLOWED",
                "static sites answer GET and HEAD",
                [("allow", "GET, HEAD")],
            )
        found = await self.state.static.lookup(site, deployment_id, req.path)
        if found is None or is_missing(found):
            await self.serve_not_found(req)
            return
        await send_file(self.state.static, req, found)

    async def serve_not_found(self, req: Request) -> None:
        """The `404` system site's page with status 404, whatever the path."""
        dep_id = self.state.routing.live.get("404")
        found = None
        if dep_id is not None:
            found = await self.state.static.lookup("404", dep_id, "/", force_status=404)
        if found is None or is_missing(found):
            req.proto.response_bytes(404, [("content-type", "text/plain")], PLAIN_404)
            return
        await send_file(self.state.static, req, found)

    async def serve_dashboard(self, req: Request) -> None:
        path = req.path
        if analytics_endpoints.is_dashboard_path(path):  # /track, /pixel.gif, /r/, /webhook/
            response = await analytics_endpoints.serve_dashboard(self.state, req)
            send(req.proto, response, req.method == "HEAD")
            return
        if path == "/health" or path.startswith("/api/") or path == "/api":
            route, params = self.router.match(req.method, path)
            key = None
            if route.scope is not None:
                key = await authenticate(self.state, req, route.scope)
            response = await route.handler(self.state, req, key, **params)
            response.headers.extend(DASHBOARD_HEADERS)
            send(req.proto, response, req.method == "HEAD")
            return
        # Everything else is a dashboard page (fazt.admin), with the same headers.
        response = await self.dashboard.handle(req)
        response.headers.extend(DASHBOARD_HEADERS)
        send(req.proto, response, req.method == "HEAD")


def _unconditional(headers: Any) -> bool:
    """No validators or ranges: the full, prebuilt answer is the right one."""
    return not (
        headers.get("if-none-match") or headers.get("if-modified-since") or headers.get("range")
    )
