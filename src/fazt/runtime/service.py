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
"""

import asyncio
import itertools
import json
import logging
import os
import re
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fazt import __version__
from fazt.db import settings
from fazt.hosting import deployments
from fazt.hosting.manifest import InvalidManifest, parse
from fazt.runtime import store
from fazt.runtime.executor import Executor, Overloaded
from fazt.runtime.limits import Limits, RuntimeConfig
from fazt.runtime.sandbox import FUNCTION_MEMORY, FUNCTION_TIMEOUT, Job, Outcome
from fazt.server.http import HTTPError, Request

log = logging.getLogger("fazt.runtime")

ENV_TTL_SECONDS = 2.0  # changes made by another process show up within this
MAX_SOURCES_BYTES = 4 * 1024 * 1024  # JS/JSON under api/ handed to each request
INDEX_CACHE_ENTRIES = 256
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_DROPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_EXPORT_DEFAULT = re.compile(r"^(\s*)export\s+default\s+", re.MULTILINE)
_EXPORT_DECL = re.compile(
    r"^(\s*)export\s+(?=(?:async\s+)?function\b|const\b|let\b|var\b|class\b)", re.MULTILINE
)
# The conventional last line of main.js: its value is the response even when more
# statements (a console.log) follow it.
_KEEP_CALL = re.compile(r"^([ \t]*)handler\(request\)[ \t]*;?[ \t]*$", re.MULTILINE)
_FUNCTION_NAME = re.compile(
    r"^\s*export\s+(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)", re.MULTILINE
)


@dataclass
class ApiIndex:
    """What a (immutable) deployment holds under api/, and its limits."""

    has_main: bool
    routes: dict[str, str]  # "hello" / "users" / "" -> "api/hello.js" ...
    dynamic: list[tuple[re.Pattern, str, list[str]]]
    sources_json: str
    main_source: str | None
    limits: Limits
    js_paths: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_js(self) -> bool:
        return self.has_main or bool(self.routes) or bool(self.dynamic)

    def route(self, path: str) -> tuple[str, dict[str, str]] | None:
        if self.has_main:
            return "api/main.js", {}
        rel = path[len("/api") :].strip("/")
        if rel in self.routes:
            return self.routes[rel], {}
        for pattern, entry, names in self.dynamic:
            m = pattern.match(rel)
            if m:
                return entry, dict(zip(names, m.groups(), strict=True))
        return None


def es_module_to_commonjs(source: str) -> str:
    """The simple ES-module forms a handler file uses, as CommonJS (line numbers kept)."""
    if "export" not in source:
        return source
    names = _FUNCTION_NAME.findall(source)
    source = _EXPORT_DEFAULT.sub(r"\1module.exports = ", source)
    source = _EXPORT_DECL.sub(r"\1", source)
    for name in names:  # `export function handler` -> also exported by name
        source += f"\n;exports.{name} = {name};"
    return source


def _route_key(path: str) -> str | None:
    """'api/users/index.js' -> 'users'; None for helpers (a part starting with _)."""
    rel = path[len("api/") : -len(".js")]
    parts = rel.split("/")
    if any(p.startswith(("_", ".")) or p == "" for p in parts):
        return None
    if parts[-1] == "index":
        parts = parts[:-1]
    return "/".join(parts)


def load_index(conn: sqlite3.Connection, deployment_id: int, config: RuntimeConfig) -> ApiIndex:
    dep = conn.execute("SELECT manifest FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
    try:
        manifest = parse(dep["manifest"]) if dep else parse(None)
    except InvalidManifest:
        manifest = parse(None)
    limits = config.for_app(dict(manifest.limits))
    rows = conn.execute(
        "SELECT path, sha256, size FROM deployment_files WHERE deployment_id = ? "
        "AND path >= 'api/' AND path < 'api0' ORDER BY path",
        (deployment_id,),
    ).fetchall()
    sources: dict[str, str] = {}
    total = 0
    for row in rows:
        path = row["path"]
        if not path.endswith((".js", ".json")):
            continue
        total += row["size"]
        if total > MAX_SOURCES_BYTES:
            log.warning("deployment %s: api/ sources over %d bytes", deployment_id, total)
            break
        data = deployments.read_blob(conn, row["sha256"]) or b""
        text = data.decode("utf-8", "replace")
        if path.endswith(".js") and path != "api/main.js":
            text = es_module_to_commonjs(text)
        sources[path] = text
    main_source = sources.pop("api/main.js", None)
    if main_source is not None:
        main_source = _KEEP_CALL.sub(r"\1__fazt_keep(handler(request));", main_source)
    routes: dict[str, str] = {}
    dynamic: list[tuple[re.Pattern, str, list[str]]] = []
    if main_source is None:
        for path in sources:
            if not path.endswith(".js"):
                continue
            key = _route_key(path)
            if key is None:
                continue
            if "[" in key:
                names = re.findall(r"\[(\w+)\]", key)
                regex = "".join(
                    "([^/]+)" if re.fullmatch(r"\[\w+\]", part) else re.escape(part)
                    for part in re.split(r"(\[\w+\])", key)
                )
                dynamic.append((re.compile(f"^{regex}$"), path, names))
            else:
                routes.setdefault(key, path)
    js_paths = frozenset(p for p in sources if p.endswith(".js"))
    if main_source is not None:
        js_paths |= {"api/main.js"}
    return ApiIndex(
        has_main=main_source is not None,
        routes=routes,
        dynamic=dynamic,
        sources_json=json.dumps(sources),
        main_source=main_source,
        limits=limits,
        js_paths=js_paths,
    )


class Runtime:
    def __init__(self, db: Any, config: RuntimeConfig | None = None) -> None:
        self.db = db
        self.config = config or RuntimeConfig.from_settings(db.read_sync(settings.all_settings))
        self.executor = Executor(
            self.config.workers, self.config.queue, fresh=self.config.fresh_contexts
        )
        self.logs = store.LogSink(db, self.config.log_retention)
        self._indexes: OrderedDict[int, ApiIndex] = OrderedDict()
        self._env: dict[str, tuple[float, int, str]] = {}

    def close(self) -> None:
        self.executor.close()

    async def index(self, deployment_id: int) -> ApiIndex:
        found = self._indexes.get(deployment_id)
        if found is None:
            found = await self.db.read(load_index, deployment_id, self.config)
            self._indexes[deployment_id] = found
            while len(self._indexes) > INDEX_CACHE_ENTRIES:
                self._indexes.popitem(last=False)
        else:
            self._indexes.move_to_end(deployment_id)
        return found

    async def context_json(self, app: str) -> str:
        """What fazt.app/env/version are built from, as JSON; env values cached briefly."""
        now = time.monotonic()
        cached = self._env.get(app)
        if cached and cached[0] > now and cached[1] == store.generation:
            return cached[2]
        generation = store.generation
        values = await self.db.read(store.env_values, app)
        text = json.dumps({"app": app, "env": values, "version": __version__, "storage": True})
        self._env[app] = (now + ENV_TTL_SECONDS, generation, text)
        return text

    async def handle(self, req: Request, site: str, deployment_id: int) -> bool:
        """Answer an /api request with the site's JavaScript; False if it has none for it."""
        index = await self.index(deployment_id)
        if not index.has_js:
            return False
        found = index.route(req.path)
        if found is None:
            rel = req.path.lstrip("/")
            if rel in index.js_paths or rel.endswith(".js"):  # sources are never served
                raise HTTPError(404, "NOT_FOUND", f"no API route {req.path}")
            return False
        entry, params = found
        limits = index.limits
        request_id = _next_request_id()
        started = time.monotonic()
        deadline = started + limits.timeout_ms / 1000
        raw = await req.body(limits.max_body_bytes) if req.method not in ("GET", "HEAD") else b""
        context_json = await self.context_json(site)
        job = Job(
            app=site,
            key=(deployment_id, limits.memory_mb, limits.stack_bytes),
            entry=entry,
            main=index.has_main,
            request_json=_request_json(req, request_id, raw, params),
            context_json=context_json,
            limits=limits,
            deadline=deadline,
            sources_json=index.sources_json,
            main_source=index.main_source,
            make_storage=self._storage_factory(site),
        )
        rid = [("x-request-id", request_id)]
        try:
            future = self.executor.submit(job)
        except Overloaded:
            raise HTTPError(
                503,
                "SERVICE_UNAVAILABLE",
                "the server is busy running other functions; retry shortly",
                [("retry-after", "1"), *rid],
            ) from None
        waiting = asyncio.wrap_future(future)
        expired = []

        def expire() -> None:
            expired.append(True)
            waiting.cancel()

        timer = asyncio.get_running_loop().call_at(
            asyncio.get_running_loop().time() + max(0.0, deadline - time.monotonic()), expire
        )
        try:
            outcome = await waiting
        except asyncio.CancelledError:
            if not expired:
                job.cancelled = True
                raise
            job.cancelled = True  # the CPU time limit interrupts it if it is still running
            outcome = Outcome(error=FUNCTION_TIMEOUT, message="the function timed out")
        finally:
            timer.cancel()
        self._answer(req, site, request_id, entry, limits, outcome)
        return True

    def _storage_factory(self, site: str):
        db = self.db

        def make() -> Any:
            from fazt.storage.bindings import AppStorage

            return AppStorage(db, site)

        return make

    def _answer(
        self,
        req: Request,
        site: str,
        request_id: str,
        entry: str,
        limits: Limits,
        outcome: Outcome,
    ) -> None:
        rid = [("x-request-id", request_id)]
        logs = list(outcome.logs)
        error = outcome.error
        message = outcome.message
        body = b""
        headers: list[tuple[str, str]] = []
        if error is None:
            body = outcome.body.encode("utf-8", "replace")
            problem = _check_response(outcome, body, limits)
            if problem:
                error, message = "FUNCTION_ERROR", problem
            else:
                headers = [(k.lower(), v) for k, v in outcome.headers]
                headers = [h for h in headers if h[0] not in _DROPPED_HEADERS]
        if error is not None:
            where = f" ({entry} line {outcome.line})" if outcome.line else f" ({entry})"
            logs.append(["error", f"{error}: {message}{where}", time.time() * 1000])
        if logs:
            self.logs.add(site, request_id, logs)
        if error is not None:
            status = {FUNCTION_TIMEOUT: 504}.get(error, 500)
            if error == FUNCTION_MEMORY:
                message = "the function exceeded its memory limit"
            raise HTTPError(status, error, message, rid)
        status = outcome.status
        if status in (204, 304) or req.method == "HEAD":
            if status in (204, 304):
                req.proto.response_empty(status, [*headers, *rid])
            else:
                req.proto.response_empty(
                    status, [*headers, *rid, ("content-length", str(len(body)))]
                )
            return
        req.proto.response_bytes(status, [*headers, *rid], body)


_REQUEST_IDS = itertools.count(1)
_REQUEST_PREFIX = os.urandom(4).hex()  # os.urandom per request measured 27 us here


def _next_request_id() -> str:
    return f"{_REQUEST_PREFIX}{next(_REQUEST_IDS):08x}"


def _check_response(outcome: Outcome, body: bytes, limits: Limits) -> str | None:
    if not 200 <= outcome.status <= 599:
        return f"invalid response status {outcome.status} (use 200-599)"
    if len(body) > limits.max_response_bytes:
        return f"the response body exceeds {limits.max_response_bytes} bytes"
    for name, value in outcome.headers:
        if not _TOKEN.match(name):
            return f"invalid response header name {name!r}"
        if any(c in value for c in "\r\n\0"):
            return f"invalid value for response header {name!r}"
    return None


def _request_json(req: Request, request_id: str, raw: bytes, params: dict[str, str]) -> str:
    headers: dict[str, str] = {}
    for name, value in req.scope.headers.items():
        headers.setdefault(name.lower(), value)
    query: dict[str, str] = {}
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
    return json.dumps(
        {
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
