"""The async side of the serverless runtime: route /api requests of a site to its
JavaScript, hand the job to a JS worker, wait with a wall-clock deadline, answer.

Routing (docs/serverless.md):
- `api/main.js` present: it handles every /api and /api/* request (the v0.9 contract;
  helper files beside it are reachable only through require()).
- otherwise file routes: /api/hello -> api/hello.js or api/hello/index.js, /api ->
  api/index.js. Files and folders whose name starts with `_` are never routes (helpers).
  A segment file named `[id].js` (or folder `[id]/`) matches any one segment and fills
  request.params.id.
- no route: the request falls through to static serving as before, except that JS
  sources under api/ are never served.

Outside /api, a deployment with a root `main.js` runs it for every path (v0.9's legacy
runtime, `handle_legacy`, with the globals of legacy_prelude.js), so its other files are
never served there, as in v0.9; the paths of server-side code (/main.js, private/...)
still answer 404.
"""

import asyncio
import itertools
import json
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fazt import __version__
from fazt.db import Database, settings
from fazt.hosting.paths import is_server_only
from fazt.runtime import store
from fazt.runtime.executor import Overloaded, WorkerPool
from fazt.runtime.group_commit import GroupCommit
from fazt.runtime.limits import Limits, RuntimeConfig
from fazt.runtime.outcome import FUNCTION_MEMORY, FUNCTION_TIMEOUT, Outcome
from fazt.runtime.prelude import LEGACY_ENTRY
from fazt.runtime.sources import ApiIndex, es_module_to_commonjs, load_index
from fazt.web.http import HTTPError, Request, Response

__all__ = ["Runtime", "es_module_to_commonjs"]
log = logging.getLogger("fazt.runtime")

ENV_TTL_SECONDS = 2.0  # changes made by another process show up within this
INDEX_CACHE_ENTRIES = 256
CHECKED_HEADS_KEPT = 256
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Marks a scheduled job's request (fazt.runtime.jobs); dropped from every outside request.
CRON_HEADER = "x-fazt-cron"
# Visitor session and sign-in cookies (auth/visitors.py): never shown to the app.
SESSION_COOKIES = frozenset(
    {"fazt_visitor", "__Host-fazt_visitor", "fazt_auth_state", "__Host-fazt_auth_state"}
)
_DROPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


class Runtime:
    def __init__(
        self,
        db: Database,
        config: RuntimeConfig | None = None,
        publish: Callable[[str, str, str], None] | None = None,
        broadcast: Callable[[str, str], Any] | None = None,
        clients: Callable[[str], int] | None = None,
        visitor: Callable[[Request, str], Awaitable[dict | None]] | None = None,
    ) -> None:
        """`publish(site, channel, message_json)` delivers fazt.realtime.publish calls,
        `broadcast(site, text)` a root main.js's socket.broadcast; `clients(site)` counts
        the site's /ws clients (socket.clients()); `visitor(req, site)` is the signed-in
        visitor of the site for fazt.auth (api/visitor_auth.py), or None."""
        self.db = db
        self.visitor = visitor
        self.broadcast = broadcast
        self.clients = clients
        self.config = config or RuntimeConfig.from_settings(db.read_sync(settings.all_settings))
        self.publish = publish
        self.pool = WorkerPool(
            db.path,
            self.config.workers,
            self.config.queue,
            fresh=self.config.fresh_contexts,
            publish=self._publish,
            total_queue=self.config.queue_total,
            app_workers=self.config.app_workers,
            kv_writes=GroupCommit(db),
        )
        self.logs = store.LogSink(db, self.config.log_retention)
        self._indexes: OrderedDict[tuple[str, int], ApiIndex] = OrderedDict()
        self._env: dict[str, tuple[float, int, str]] = {}
        self._env_reads: dict[tuple[str, int], asyncio.Future] = {}  # reads in progress
        self._headers: dict[tuple[str, int, str], str] = {}  # worker frame headers
        # answer head text -> its headers as sent (never changed: shared by the answers
        # with that head), or what is wrong with them
        self._checked: dict[str, list[tuple[str, str]] | str] = {}

    def close(self) -> None:
        self.pool.close()

    def _publish(self, site: str, channel: str | None, message: str) -> None:
        if channel is None:  # socket.broadcast
            if self.broadcast is not None:
                self.broadcast(site, message)
        elif self.publish is not None:
            self.publish(site, channel, message)

    async def index(self, site: str, deployment_id: int) -> ApiIndex:
        """The routes of `site`'s deployment; none if the deployment is not a finalized
        one of that site."""
        key = (site, deployment_id)
        found = self._indexes.get(key)
        if found is None:
            found = await self.db.read(load_index, site, deployment_id, self.config)
            self._indexes[key] = found
            while len(self._indexes) > INDEX_CACHE_ENTRIES:
                self._indexes.popitem(last=False)
        else:
            self._indexes.move_to_end(key)
        return found

    async def context_json(self, app: str) -> str:
        """What fazt.app/env/version are built from, as JSON; env values cached briefly."""
        now = time.monotonic()
        cached = self._env.get(app)
        if cached and cached[0] > now and cached[1] == store.generation:
            return cached[2]
        generation = store.generation
        # One read per app at a time: when the entry expires under load, every request in
        # flight would otherwise read the same rows (64 reads at once at 64 connections).
        pending = self._env_reads.get((app, generation))
        if pending is None:
            pending = asyncio.ensure_future(self.db.read(store.env_values, app))
            self._env_reads[(app, generation)] = pending
            pending.add_done_callback(lambda _: self._env_reads.pop((app, generation), None))
        values = await asyncio.shield(pending)
        text = json.dumps({"app": app, "env": values, "version": __version__, "storage": True})
        self._env[app] = (now + ENV_TTL_SECONDS, generation, text)
        return text

    async def handle(self, req: Request, site: str, deployment_id: int) -> Response | None:
        """Answer an /api request with the site's JavaScript; None if it has none for it."""
        index = self._indexes.get((site, deployment_id))  # the common case, without an await
        if index is None:
            index = await self.index(site, deployment_id)
        if not index.has_js:
            return None
        found = index.route(req.path)
        if found is None:
            if is_server_only(req.path.lstrip("/")):  # sources are never served
                raise HTTPError(404, "NOT_FOUND", f"no API route {req.path}")
            return None
        entry, params = found
        return await self._run(req, site, deployment_id, index.limits, entry, params)

    async def handle_legacy(self, req: Request, site: str, deployment_id: int) -> Response | None:
        """Answer a request outside /api with the site's root main.js (v0.9's legacy
        runtime, any method); None if it has none, or for the path of server-side code
        (/main.js itself, private/...: never answered by the app, static serving refuses
        them)."""
        index = self._indexes.get((site, deployment_id))
        if index is None:
            index = await self.index(site, deployment_id)
        if not index.has_legacy or is_server_only(req.path.lstrip("/")):
            return None
        clients = self.clients(site) if self.clients is not None else 0
        v09 = {"query": req.scope.query_string or "", "clients": clients}
        return await self._run(req, site, deployment_id, index.limits, LEGACY_ENTRY, {}, v09)

    async def runs_code(self, req: Request, site: str, deployment_id: int) -> bool:
        """Whether `handle` (for /api paths) or `handle_legacy` (others) would run the
        site's JavaScript for this request (a follower sends those to the primary)."""
        index = self._indexes.get((site, deployment_id))
        if index is None:
            index = await self.index(site, deployment_id)
        path = req.path
        if path == "/api" or path.startswith("/api/"):
            return index.has_js and index.route(path) is not None
        return index.has_legacy and not is_server_only(path.lstrip("/"))

    async def _run(
        self,
        req: Request,
        site: str,
        deployment_id: int,
        limits: Limits,
        entry: str,
        params: dict[str, str],
        v09: dict[str, Any] | None = None,
    ) -> Response:
        request_id = _next_request_id()
        deadline = time.monotonic() + limits.timeout_ms / 1000
        raw = await req.body(limits.max_body_bytes) if req.method not in ("GET", "HEAD") else b""
        cached = self._env.get(site)
        if cached and cached[0] > time.monotonic() and cached[1] == store.generation:
            context_json = cached[2]
        else:
            context_json = await self.context_json(site)
        header = self._headers.get((site, deployment_id, entry))
        if header is None:
            header = json.dumps(
                {
                    "app": site,
                    "dep": deployment_id,
                    "entry": entry,
                    "mem": limits.memory_mb,
                    "stack": limits.stack_bytes,
                }
            )
            if len(self._headers) > INDEX_CACHE_ENTRIES * 4:
                self._headers.clear()
            self._headers[(site, deployment_id, entry)] = header
        rid = [("x-request-id", request_id)]
        visitor = None
        if self.visitor is not None and getattr(req, "cron", None) is None:
            visitor = await self.visitor(req, site)
        try:
            outcome = await self.pool.run(
                site,
                header,
                _request_json(req, request_id, raw, params, v09, visitor),
                context_json,
                deadline,
                None if visitor is None else visitor["id"],
            )
        except Overloaded:
            raise HTTPError(
                503,
                "SERVICE_UNAVAILABLE",
                "the server is busy running other functions; retry shortly",
                [("retry-after", "1"), *rid],
            ) from None
        return self._answer(site, request_id, entry, limits, outcome)

    def _response_headers(self, outcome: Outcome) -> list[tuple[str, str]] | str:
        """The outcome's headers as sent, or what is wrong with them; checked once per
        distinct answer head (an app sends the same few again and again)."""
        key = outcome.head
        if key is None:
            return _checked_headers(outcome.headers)
        checked = self._checked.get(key)
        if checked is None:
            checked = _checked_headers(outcome.headers)
            if len(self._checked) >= CHECKED_HEADS_KEPT:
                self._checked.clear()
            self._checked[key] = checked
        return checked

    def _answer(
        self, site: str, request_id: str, entry: str, limits: Limits, outcome: Outcome
    ) -> Response:
        rid = [("x-request-id", request_id)]
        logs = list(outcome.logs)
        error = outcome.error
        message = outcome.message
        body = b""
        headers: list[tuple[str, str]] = []
        if error is None:
            body = outcome.body.encode("utf-8", "replace")
            checked = self._response_headers(outcome)
            problem = _check_status_and_size(outcome, body, limits)
            if problem or isinstance(checked, str):
                error, message = "FUNCTION_ERROR", problem or checked
            else:
                headers = checked
        if error is not None:
            file = outcome.file or entry
            where = f" ({file} line {outcome.line})" if outcome.line else f" ({file})"
            logs.append(["error", f"{error}: {message}{where}", time.time() * 1000])
        if logs:
            self.logs.add(site, request_id, logs)
        if error is not None:
            status = {FUNCTION_TIMEOUT: 504}.get(error, 500)
            if error == FUNCTION_MEMORY:
                message = "the function exceeded its memory limit"
            raise HTTPError(status, error, message, rid)
        status = outcome.status
        return Response(status, None if status in (204, 304) else body, [*headers, *rid])


_REQUEST_IDS = itertools.count(1)
_REQUEST_PREFIX = os.urandom(4).hex()  # os.urandom per request measured 27 us here


def _next_request_id() -> str:
    return f"{_REQUEST_PREFIX}{next(_REQUEST_IDS):08x}"


def _check_status_and_size(outcome: Outcome, body: bytes, limits: Limits) -> str | None:
    if not 200 <= outcome.status <= 599:
        return f"invalid response status {outcome.status} (use 200-599)"
    if len(body) > limits.max_response_bytes:
        return f"the response body exceeds {limits.max_response_bytes} bytes"
    return None


def _checked_headers(pairs: list) -> list[tuple[str, str]] | str:
    """An app's response headers as they are sent (names lowercase, the framing ones
    dropped), or what is wrong with them."""
    problem = _check_headers(pairs)
    if problem:
        return problem
    headers = [(k.lower(), v) for k, v in pairs]
    return [h for h in headers if h[0] not in _DROPPED_HEADERS]


def _check_headers(pairs: list) -> str | None:
    for name, value in pairs:
        if not _TOKEN.match(name):
            return f"invalid response header name {name!r}"
        if any(c in value for c in "\r\n\0"):
            return f"invalid value for response header {name!r}"
        if not _encodable(value):
            return f"response header {name!r} contains a lone UTF-16 surrogate"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from JavaScript
        return False
    return True


def _request_json(
    req: Request,
    request_id: str,
    raw: bytes,
    params: dict[str, str],
    v09: dict[str, Any] | None = None,
    visitor: dict | None = None,
) -> str:
    headers: dict[str, str] = {}
    for name, value in req.scope.headers.items():
        headers.setdefault(name.lower(), value)
    if "cookie" in headers:  # the visitor's session token stays out of the app's reach
        headers["cookie"] = _without_session(headers["cookie"])
    headers.pop(CRON_HEADER, None)  # only the scheduler's own requests carry it:
    cron = getattr(req, "cron", None)  # a jobs.InternalRequest's job name
    if cron is not None:
        headers[CRON_HEADER] = cron
    query: dict[str, str] = {}
    if req.scope.query_string:
        for key, value in parse_qsl(req.scope.query_string, keep_blank_values=True):
            query.setdefault(key, value)
    text = raw.decode("utf-8", "replace")
    body: Any = None
    if raw:
        body = text
        if "json" in (headers.get("content-type") or "").lower():
            try:
                body = json.loads(text)
            except ValueError:
                body = None
    extra: dict[str, Any] = {"v09": v09} if v09 is not None else {}  # legacy_prelude.js removes it
    extra["auth"] = visitor  # fazt.auth.user(); prelude.js removes it from the request
    return json.dumps(
        {
            **extra,
            "id": request_id,
            "method": req.method,
            "path": req.path,
            "query": query,
            "headers": headers,
            "body": body,
            "rawBody": text,
            "text": text,
            "params": params,
            "ip": req.client_ip,
        }
    )


def _without_session(cookie: str) -> str:
    parts = [p for p in cookie.split(";") if p.split("=", 1)[0].strip() not in SESSION_COOKIES]
    return ";".join(parts).strip()
