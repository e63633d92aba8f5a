"""The RSGI application: route by Host, then serve the API, a site, or a 404 page."""

import logging
from time import perf_counter
from typing import Any

from fazt.admin import pages
from fazt.api import visitor_auth
from fazt.db import settings
from fazt.hosting import routing
from fazt.hosting.compression import preferred
from fazt.hosting.image_query import asks_variant
from fazt.hosting.image_variants import ImageLimits, ImageVariants
from fazt.hosting.paths import canonical_path
from fazt.hosting.static import file_response, is_missing
from fazt.realtime.hub import Hub
from fazt.runtime.service import Runtime
from fazt.server import routes
from fazt.server.edge import EdgeGuard
from fazt.server.forward import Forwarder
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, error_response, respond

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
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# API reads a follower leaves to its primary: they describe that machine, not the database.
PRIMARY_MACHINE_API = ("/api/backups", "/api/upgrade", "/api/system")


class FaztApp:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.dashboard_routes = routes.dashboard_routes(state)
        self.site_routes = routes.site_routes(state)
        self.hub = Hub.from_db(state.db)
        self.edge = state.edge = EdgeGuard.from_db(state.db)  # per-address limits
        limits = self.edge.limits
        Request.body_timeout = limits.http_body_timeout_seconds
        Request.body_min_rate = limits.http_body_min_bytes_per_second
        Request.body_rate_grace = limits.http_body_rate_grace_seconds
        self.runtime = Runtime(
            state.db,
            publish=self.hub.publish_channel,
            broadcast=self.hub.broadcast,
            clients=self.hub.count,
            visitor=self._visitor,
        )
        self.analytics = state.analytics  # its request/error counters, bumped below
        state.js_pool = self.runtime.pool  # its use, for the dashboard's health view
        self.latency = state.latency
        values = state.db.read_sync(settings.all_settings)
        self.images = ImageVariants(state.db, ImageLimits.from_settings(values))
        self.forwarder: Forwarder | None = None  # a follower's way to its primary (run.py)

    async def _visitor(self, req: Request, site: str) -> dict | None:
        """The signed-in visitor of `site`, as fazt.auth.user() shows it (with the role)."""
        found = await visitor_auth.current_visitor(self.state, req, site)
        return found.public() if found else None

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
            # The hot path: a cached file, answered with prebuilt headers, no I/O and no
            # Response object (the same bytes `respond` would send).
            static = self.state.static
            found = static.cached(target.site, target.deployment_id, path)
            query = scope.query_string
            if query and asks_variant(query):  # `?w=640` on an image: a resized variant
                found = None  # not the file itself
                answer = self.images.answer(target.site, target.deployment_id, path, query)
                if answer is not None:
                    proto.response_bytes(200, *answer)
                    return
            accept = headers.get("accept-encoding")
            pending = found is not None and found.compress_pending and accept
            if found is not None and found.full and not pending:
                encoding = preferred(accept, found.variants)
                response_headers, body = found.full[encoding]
                proto.response_bytes(found.status, response_headers, body)
                return
            # A bigger file: its verified disk copy (read here when small, else by Granian).
            hot = found and static.hot_file(found, accept)
            if hot:
                if type(hot[1]) is bytes:
                    proto.response_bytes(found.status, *hot)
                else:
                    proto.response_file(found.status, *hot)
                return
        if edge.enabled and not edge.hold(scope, proto):  # requests in progress per address
            return
        started = perf_counter()  # latency of everything but the cached-file hot path
        req = Request(scope, proto, host or "")
        try:
            if path is None:
                raise HTTPError(400, "BAD_PATH", "the path contains a control character")
            req.path = path  # every consumer (static, runtime, analytics) sees this spelling
            response = await self.serve(req, target)
        except Exception as exc:
            response = self.error_response(exc, scope)
        if target.kind == routing.DASHBOARD:  # every dashboard answer, errors included
            response.headers.extend(DASHBOARD_HEADERS)
        await respond(proto, response, req.method == "HEAD")
        self.latency.record(perf_counter() - started)

    async def serve(self, req: Request, target: routing.Target) -> Response:
        forwarder = self.forwarder
        if forwarder is None:
            return await self.serve_here(req, target)
        if await self.forwards(req, target):  # a follower: see fazt.server.forward
            return await forwarder.forward(req)
        try:
            return await self.serve_here(req, target)
        except Exception as exc:
            # A read that turned out to write (none is known): the primary answers it. Its
            # write here was refused, so nothing happened twice.
            if exc is not self.state.db.read_only or req.method not in ("GET", "HEAD"):
                raise
            return await forwarder.forward(req)

    async def forwards(self, req: Request, target: routing.Target) -> bool:
        """Whether a follower sends `req` to its primary rather than answering it from its
        followed copy (docs/decisions/009-read-replicas.md)."""
        if req.method not in SAFE_METHODS:
            return True  # every write
        path = req.path
        if target.kind == routing.SITE:
            if path.startswith("/_fazt/"):  # sign-in (sessions), beacons (hits)
                return path != "/_fazt/t.js"
            # An app's code reads its storage and must see its own writes: the primary's.
            return await self.runtime.runs_code(req, target.site, target.deployment_id)
        if target.kind != routing.DASHBOARD or path == "/health":
            return False
        if path == "/api" or path.startswith("/api/"):
            # Read-only API calls with a key: here, unless this key just wrote through us,
            # or they describe the primary's machine (its backup files, its upgrades, its
            # disk). Without a key it is the dashboard's own session (a login is a write).
            if path.startswith(PRIMARY_MACHINE_API) or not req.header("authorization"):
                return True
            return self.forwarder.recently_wrote(req)
        return True  # dashboard pages (a login is a write), short links and pixels (hits)

    async def serve_here(self, req: Request, target: routing.Target) -> Response:
        if self.state.db.read_only is not None and req.method not in SAFE_METHODS:
            raise self.state.db.read_only  # a standby: 503 STANDBY_READ_ONLY
        if target.kind == routing.SITE:
            return await self.serve_site(req, target.site, target.deployment_id)
        if target.kind == routing.DASHBOARD:
            return await self.serve_dashboard(req)
        if target.kind == routing.BAD_HOST:
            raise HTTPError(400, "BAD_HOST", "missing or malformed Host header")
        return await self.not_found(req)

    async def serve_dashboard(self, req: Request) -> Response:
        """The dashboard's routes; a browser asking for a page that is not there gets an
        HTML 404 page, scripts keep the JSON error."""
        try:
            return await self.dashboard_routes.dispatch(req)
        except HTTPError as exc:
            if exc.status != 404 or not pages.wants_html(req):
                raise
            return await pages.not_found_page(self.state, req, exc)

    def error_response(self, exc: Exception, scope: Any) -> Response:
        """The answer for an exception, from the one table (routes.EXCEPTION_HANDLERS);
        anything it does not know is a logged 500."""
        response = routes.EXCEPTION_HANDLERS.response_for(exc)
        if response is None:
            log.exception("unhandled error for %s %s", scope.method, scope.path)
            response = error_response(HTTPError(500, "INTERNAL_ERROR", "unexpected error"))
        if response.status >= 500:
            self.analytics.errors += 1
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
        if self.forwarder is not None:  # a follower: apps publish on the primary, whose
            proto.close(503)  # channels a follower's clients would never hear (see 009)
            return
        origin = scope.headers.get("origin")
        address = self.edge.address(scope)
        await self.hub.serve(target.site, proto, host, origin, address, target.deployment_id)

    async def serve_site(self, req: Request, site: str, deployment_id: int) -> Response:
        # /_fazt/* are ours; /api and /api/* run the site's JavaScript when its live
        # deployment has some for the path (any method); every other path runs its root
        # main.js if it has one (v0.9's legacy runtime, which shadows the site's files as
        # in v0.9); everything else is static.
        path = req.path
        if path.startswith("/_fazt/"):
            return await self.site_routes.dispatch(req, site=site)
        if path == "/api" or path.startswith("/api/"):
            response = await self.runtime.handle(req, site, deployment_id)
        else:
            response = await self.runtime.handle_legacy(req, site, deployment_id)
        if response is not None:
            return response
        if req.method not in ("GET", "HEAD"):
            raise HTTPError(
                405,
                "METHOD_NOT_ALLOWED",
                "static sites answer GET and HEAD",
                [("allow", "GET, HEAD")],
            )
        found = await self.state.static.lookup(site, deployment_id, req.path)
        if found is None or is_missing(found):
            return await self.not_found(req)
        if found.status == 200 and (spec := self.images.spec_for(req, found.mime)):
            key = (site, deployment_id, path, req.scope.query_string)
            variant = await self.images.respond(
                req, found.sha256, found.mime, spec, found.headers, key
            )
            if variant is not None:  # None: an animated image, served as it is
                return variant
        return await file_response(self.state.static, req, found)

    async def not_found(self, req: Request) -> Response:
        """The `404` system site's page with status 404, whatever the path."""
        dep_id = self.state.routing.live.get("404")
        found = None
        if dep_id is not None:
            found = await self.state.static.lookup("404", dep_id, "/", force_status=404)
        if found is None or is_missing(found):
            return Response(404, PLAIN_404, [("content-type", "text/plain")])
        return await file_response(self.state.static, req, found)


def _unconditional(headers: Any) -> bool:
    """No validators or ranges: the full, prebuilt answer is the right one."""
    return not (
        headers.get("if-none-match") or headers.get("if-modified-since") or headers.get("range")
    )
