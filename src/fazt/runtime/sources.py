"""What a deployment holds for the runtime: its routes and sources under api/, its root
main.js (v0.9's legacy runtime), and its limits.

Read by the server (routing) and by the JS worker processes (sources), from the
deployment tables, once per deployment: deployments are immutable.
"""

import logging
import re
import sqlite3
from dataclasses import dataclass

from fazt.hosting import deployments
from fazt.hosting.manifest import InvalidManifest, parse
from fazt.runtime.limits import Limits, RuntimeConfig
from fazt.runtime.prelude import LEGACY_ENTRY

log = logging.getLogger("fazt.runtime")

MAX_SOURCES_BYTES = 4 * 1024 * 1024  # JS/JSON under api/ (and main.js) a deployment may hold
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
    limits: Limits
    has_legacy: bool = False  # a root main.js: it answers the paths outside /api

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


def is_ready_deployment_of(conn: sqlite3.Connection, site: str, deployment_id: int) -> bool:
    """True if the deployment belongs to `site` and is finalized: the pair every runtime
    read is bound to, so that no host, id or header runs one app's code as another."""
    row = conn.execute(
        "SELECT 1 FROM deployments WHERE id = ? AND site = ? AND state = 'ready'",
        (deployment_id, site),
    ).fetchone()
    return row is not None


def _api_rows(conn: sqlite3.Connection, deployment_id: int) -> list[sqlite3.Row]:
    rows = conn.execute(
        "SELECT path, sha256, size FROM deployment_files WHERE deployment_id = ? "
        "AND path >= 'api/' AND path < 'api0' ORDER BY path",
        (deployment_id,),
    ).fetchall()
    return [r for r in rows if r["path"].endswith((".js", ".json"))]


def load_sources(conn: sqlite3.Connection, site: str, deployment_id: int) -> dict[str, str]:
    """{"api/x.js": source, ...} as the sandbox runs them (ES forms as CommonJS, main.js's
    `handler(request)` line marked as the response); empty unless the deployment is a
    finalized one of `site`."""
    sources: dict[str, str] = {}
    if not is_ready_deployment_of(conn, site, deployment_id):
        log.warning("deployment %s is not a ready deployment of %r", deployment_id, site)
        return sources
    total = 0
    legacy = deployments.lookup_file(conn, deployment_id, LEGACY_ENTRY)
    if legacy is not None and legacy["size"] <= MAX_SOURCES_BYTES:
        total = legacy["size"]
        data = deployments.read_blob(conn, legacy["sha256"]) or b""
        sources[LEGACY_ENTRY] = data.decode("utf-8", "replace")  # run as it is
    for row in _api_rows(conn, deployment_id):
        path = row["path"]
        total += row["size"]
        if total > MAX_SOURCES_BYTES:
            log.warning("deployment %s: api/ sources over %d bytes", deployment_id, total)
            break
        data = deployments.read_blob(conn, row["sha256"]) or b""
        text = data.decode("utf-8", "replace")
        if path == "api/main.js":
            text = _KEEP_CALL.sub(r"\1__fazt_keep(handler(request));", text)
        elif path.endswith(".js"):
            text = es_module_to_commonjs(text)
        sources[path] = text
    return sources


def load_index(
    conn: sqlite3.Connection, site: str, deployment_id: int, config: RuntimeConfig
) -> ApiIndex:
    """Routes and limits of a deployment (its sources stay with the JS workers); no
    routes unless it is a finalized deployment of `site`."""
    dep = conn.execute(
        "SELECT manifest FROM deployments WHERE id = ? AND site = ? AND state = 'ready'",
        (deployment_id, site),
    ).fetchone()
    if dep is None:
        return ApiIndex(False, {}, [], config.for_app({}))
    try:
        manifest = parse(dep["manifest"]) if dep else parse(None)
    except InvalidManifest:
        manifest = parse(None)
    limits = config.for_app(dict(manifest.limits))
    paths = [row["path"] for row in _api_rows(conn, deployment_id)]
    has_main = "api/main.js" in paths
    routes: dict[str, str] = {}
    dynamic: list[tuple[re.Pattern, str, list[str]]] = []
    if not has_main:
        for path in paths:
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
    return ApiIndex(
        has_main=has_main,
        routes=routes,
        dynamic=dynamic,
        limits=limits,
        has_legacy=deployments.lookup_file(conn, deployment_id, LEGACY_ENTRY) is not None,
    )
