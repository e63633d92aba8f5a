"""The routes of fazt v0.9's HTTP API that this fazt names differently (issue 16 item 4).

A v0.9 client (`fazt remote status`, `client sites`, `client logs`, `client delete`) and
scripts written against v0.9 call these paths; each is served here with v0.9's request and
response shapes (reference/server.md §4-6) on top of this fazt's own modules, with its
auth, scopes, CSRF checks and rate limits. The route table lists them apart
(fazt.server.routes.V09_ROUTES); docs/migrating-from-v0.9.md lists what differs.
"""

import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from fazt.api import request_auth, runtime
from fazt.api.access import authenticate, check_site, visible
from fazt.auth import sessions
from fazt.auth.tokens import ApiKey
from fazt.hosting import blob_read, deployments
from fazt.hosting.names import SYSTEM_SITES
from fazt.runtime import store
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response

MIB = 1024 * 1024
DEFAULT_RAM = 512 * MIB  # v0.9's fallback when the machine's memory cannot be read
DEPLOYMENTS_SHOWN = 50
DEFAULT_LOG_LIMIT, MAX_LOG_LIMIT = 50, 1000
DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT = 50, 1000
TOP = 10
MODE = "production"  # v0.9's `env`: this fazt has no development mode


# -- system: GET /api/system/{health,limits,cache,db,config}, /api/config --------------------


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def total_ram() -> int:
    """The memory this process may use: the cgroup v2 limit, else MemTotal, else 512 MiB."""
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            raw = f.read().strip()
        if raw.isdigit():
            return int(raw)
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return DEFAULT_RAM


def _db_counts(state: ServerState) -> tuple[int, int]:
    """(open connections, writes waiting for the single writer)."""
    return state.db.connection_counts()


async def system_health(state: ServerState, req: Request, key: ApiKey) -> Response:
    """What `fazt remote status` of v0.9 prints. `goroutines` counts this worker's threads;
    `in_use` the writes queued for the single writer."""
    open_conns, queued = _db_counts(state)
    return json_response(
        {
            "status": "healthy",
            "uptime_seconds": round(time.time() - state.started, 3),
            "version": state.version,
            "mode": MODE,
            "memory": {
                "used_mb": round(_rss_bytes() / MIB, 1),
                "limit_mb": round(total_ram() / MIB, 1),
                "vfs_cache_mb": round(state.static.cache.used / MIB, 2),
            },
            "database": {
                # The file's place on the server is for admins only, not for deploy keys.
                "path": str(state.db.path) if key is None or key.allows("admin") else "",
                "open_connections": open_conns,
                "in_use": queued,
            },
            "runtime": {
                "queued_events": len(state.analytics.events),
                "goroutines": threading.active_count(),
                # the JS worker pool (fazt's own field): its size, and how the contexts
                # of first requests were made (contexts_spare / contexts_cold)
                "js_pool": state.js_pool.usage() if state.js_pool is not None else None,
            },
        }
    )


async def system_limits(state: ServerState, req: Request, key: ApiKey) -> Response:
    """v0.9's PascalCase limits; here the values this server enforces (the static cache's
    size, the deploy upload limit), not guesses from the machine's memory."""
    ram = total_ram()
    return json_response(
        {
            "TotalRAM": ram,
            "AvailableRAM": ram,
            "CPUCount": os.cpu_count() or 1,
            "MaxVFSBytes": state.static.cache.max_bytes,
            "MaxUploadBytes": state.limits.max_upload_bytes,
        }
    )


async def system_cache(state: ServerState, req: Request, key: ApiKey) -> Response:
    cache = state.static.cache
    return json_response({"CachedFiles": len(cache), "CacheSizeBytes": cache.used})


async def system_db(state: ServerState, req: Request, key: ApiKey) -> Response:
    open_conns, queued = _db_counts(state)
    return json_response(
        {"OpenConnections": open_conns, "InUse": queued, "Idle": max(0, open_conns - queued)}
    )


async def system_config(state: ServerState, req: Request, key: ApiKey) -> Response:
    """Version, domain, mode and whether HTTPS is on (no secrets; ntfy does not exist)."""
    return json_response(
        {
            "version": state.version,
            "domain": state.domain,
            "env": MODE,
            "https": state.https_port is not None,
            "ntfy": False,
        }
    )


# -- session: /api/login, /api/logout, /api/auth/status, /api/user/me ------------------------


async def login(state: ServerState, req: Request, key: None) -> Response:
    """{"username", "password", "remember_me"?} -> the session cookie, exactly as the
    dashboard's login form (request_auth.password_login: same limiter, password checker,
    origin check and cookie). The answer carries the CSRF token the cookie needs on
    state-changing API calls (header X-CSRF-Token). remember_me is accepted and ignored:
    the session lifetime settings decide."""
    body = await req.json(16 * 1024)
    if not isinstance(body, dict):
        raise HTTPError(400, "INVALID_JSON", "expected a JSON object")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise HTTPError(400, "BAD_REQUEST", 'expected {"username": "...", "password": "..."}')
    result = await request_auth.password_login(state, req, username.strip(), password)
    retry = [("retry-after", str(result.retry_after))]
    if result.outcome == "limited":
        raise HTTPError(429, "RATE_LIMITED", "Too many failed attempts; try again later", retry)
    if result.outcome == "busy":
        raise HTTPError(503, "BUSY", "the server is busy checking other logins", retry)
    if result.outcome != "ok":
        raise HTTPError(401, "INVALID_CREDENTIALS", "Invalid username or password")
    session = await state.db.read(sessions.lookup, result.token)
    response = json_response(
        {
            "message": "Login successful",
            "username": session.username,
            "expiresAt": session.expires_at,
            "csrf_token": request_auth.masked_csrf(session),
        }
    )
    cookie = await request_auth.session_cookie(state, req, result.token, result.max_age)
    response.headers.append(("set-cookie", cookie))
    return response


async def logout(state: ServerState, req: Request, key: None) -> Response:
    """End the cookie's session (from our own origin only, as the dashboard's login) and
    clear the cookie; a caller with an API key and no session just gets the cookie cleared.
    Nobody authenticated: 401."""
    session = await request_auth.current_session(state, req)
    if session is not None:
        await request_auth.check_origin(state, req)
        await state.db.write(sessions.revoke, session.id)
    else:
        await authenticate(state, req, "deploy")
    response = json_response({"message": "Logged out successfully"})
    cookie = await request_auth.session_cookie(state, req, "", 0)
    response.headers.append(("set-cookie", cookie))
    return response


async def auth_status(state: ServerState, req: Request, key: ApiKey) -> Response:
    """{"authenticated": true, "username", "expiresAt"} for a session cookie; an API key
    without one gets {"authenticated": false}, as in v0.9."""
    session = await request_auth.current_session(state, req)
    if session is None:
        return json_response({"authenticated": False})
    return json_response(
        {"authenticated": True, "username": session.username, "expiresAt": session.expires_at}
    )


async def user_me(state: ServerState, req: Request, key: None) -> Response:
    """The logged-in user: the session cookie only, as in v0.9."""
    if not req.header("cookie"):
        raise HTTPError(401, "UNAUTHORIZED", "Authentication required")
    session = await request_auth.current_session(state, req)
    if session is None:
        raise HTTPError(401, "SESSION_EXPIRED", "Your session has expired. Please log in again.")
    return json_response({"username": session.username, "version": state.version})


# -- sites: GET/DELETE /api/sites, /api/sites/{id}, /files, /files/{path} --------------------


def _site_info(site: dict) -> dict:
    """v0.9's PascalCase SiteInfo, plus nothing: its clients read these five."""
    return {
        "Name": site["name"],
        "Path": f"vfs://{site['name']}",
        "FileCount": site["file_count"],
        "SizeBytes": site["size_bytes"],
        "ModTime": site["last_deploy_at"] or site["updated_at"],
    }


async def _site(state: ServerState, key: ApiKey, name: str) -> dict:
    check_site(key, name.lower())
    site = await state.db.read(deployments.site_info, name.lower())
    if site is None:
        raise HTTPError(404, "SITE_NOT_FOUND", "Site not found")
    return site


async def list_sites(state: ServerState, req: Request, key: ApiKey) -> Response:
    sites = visible(key, await state.db.read(deployments.list_sites))
    infos = sorted((_site_info(s) for s in sites), key=lambda s: s["ModTime"], reverse=True)
    return json_response(infos)


async def site(state: ServerState, req: Request, key: ApiKey, site_id: str) -> Response:
    return json_response(_site_info(await _site(state, key, site_id)))


async def delete_site_by_query(state: ServerState, req: Request, key: ApiKey) -> Response:
    """DELETE /api/sites?site_id=NAME, v0.9's `client delete`."""
    name = req.query.get("site_id")
    if not name:
        raise HTTPError(400, "BAD_REQUEST", "site_id required")
    return await delete_site(state, req, key, name)


async def delete_site(state: ServerState, req: Request, key: ApiKey, site_id: str) -> Response:
    """The site and its history (as DELETE /api/apps/{name}); system sites are kept."""
    found = await _site(state, key, site_id)
    if found["name"] in SYSTEM_SITES:
        raise HTTPError(403, "SYSTEM_APP", f"'{site_id}' is a system site and cannot be deleted")
    await state.db.write(deployments.delete_site, found["name"])
    await state.refresh_routing()
    return json_response({"message": "Site deleted"})


async def site_files(state: ServerState, req: Request, key: ApiKey, site_id: str) -> Response:
    found = await _site(state, key, site_id)
    dep_id = found["live_deployment_id"]
    files = await state.db.read(deployments.list_files, dep_id) if dep_id else []
    when = found["last_deploy_at"]
    return json_response([{"path": f["path"], "size": f["size"], "mod_time": when} for f in files])


def _file_row(conn: sqlite3.Connection, dep_id: int, path: str) -> dict | None:
    row = deployments.lookup_file(conn, dep_id, path)
    return dict(row) if row and blob_read.blob_size(conn, row["sha256"]) is not None else None


STREAM_PIECE = 1024 * 1024


async def _pieces(state: ServerState, sha256: str, size: int) -> AsyncIterator[bytes]:
    """The file in pieces, one read each: a big file is never held whole."""
    for start in range(0, size, STREAM_PIECE):
        piece = await state.db.read(_piece, sha256, start, start + STREAM_PIECE)
        if not piece:  # deleted meanwhile
            return
        yield piece


def _piece(conn: sqlite3.Connection, sha256: str, start: int, end: int) -> bytes:
    return b"".join(blob_read.iter_blob(conn, sha256, start, end))


async def site_file(
    state: ServerState, req: Request, key: ApiKey, site_id: str, path: str
) -> Response:
    """A file's raw bytes (no envelope), as v0.9. Served from the dashboard's origin, so
    the page can never run there: a download (attachment) in a CSP sandbox."""
    found = await _site(state, key, site_id)
    dep_id = found["live_deployment_id"]
    file = await state.db.read(_file_row, dep_id, path) if dep_id else None
    if file is None:
        raise HTTPError(404, "FILE_NOT_FOUND", "File not found")
    headers = [
        ("content-type", file["mime"]),
        ("content-length", str(file["size"])),
        ("content-disposition", "attachment"),
        ("content-security-policy", "sandbox; default-src 'none'"),
        ("x-content-type-options", "nosniff"),
    ]
    return Response(200, headers=headers, stream=_pieces(state, file["sha256"], file["size"]))


# -- GET /api/deployments ---------------------------------------------------------------------


def _recent_deployments(conn: sqlite3.Connection, sites: list[str] | None) -> list[dict]:
    where, args = "state = 'ready'", []
    if sites is not None:
        where += f" AND site IN ({', '.join('?' * len(sites))})"
        args = list(sites)
    rows = conn.execute(
        "SELECT id, site AS site_id, size_bytes, file_count, deployed_by, created_at"
        f" FROM deployments WHERE {where} ORDER BY id DESC LIMIT ?",
        (*args, DEPLOYMENTS_SHOWN),
    ).fetchall()
    return [dict(r) for r in rows]


async def list_deployments(state: ServerState, req: Request, key: ApiKey) -> Response:
    """The newest 50 deployments (of the key's sites), as v0.9; authenticated here."""
    sites = sorted(key.sites) if key is not None and key.sites is not None else None
    return json_response({"deployments": await state.db.read(_recent_deployments, sites)})


# -- /api/envvars -----------------------------------------------------------------------------


async def _app(state: ServerState, key: ApiKey, name: object) -> str:
    if not isinstance(name, str) or not name:
        raise HTTPError(400, "BAD_REQUEST", "site_id required")
    return await runtime.app_for_key(state, key, name)


def _env_name(raw: object) -> str:
    try:
        return store.validate_env_name(raw if isinstance(raw, str) else "")
    except store.EnvError as exc:
        raise HTTPError(400, "INVALID_ENV_NAME", str(exc)) from None


async def list_envvars(state: ServerState, req: Request, key: ApiKey) -> Response:
    """?site_id=X -> {"vars": [{"id", "name"}]}: names only, never values. The id is
    "<site>:<NAME>", what DELETE ?id= takes."""
    app = await _app(state, key, req.query.get("site_id"))
    names = await state.db.read(store.env_names, app)
    return json_response({"vars": [{"id": f"{app}:{e['name']}", **e} for e in names]})


async def set_envvar(state: ServerState, req: Request, key: ApiKey) -> Response:
    """{"site_id", "name", "value"}: set (or replace) one var of an existing site."""
    body = await req.json(store.ENV_VALUE_MAX + 1024)
    if not isinstance(body, dict):
        raise HTTPError(400, "INVALID_JSON", "expected a JSON object")
    app = await _app(state, key, body.get("site_id"))
    name, value = _env_name(body.get("name")), body.get("value")
    if not isinstance(value, str):
        raise HTTPError(400, "BAD_REQUEST", "value must be a string")
    if len(value.encode()) > store.ENV_VALUE_MAX:
        raise HTTPError(
            413, "PAYLOAD_TOO_LARGE", f"env values are at most {store.ENV_VALUE_MAX} bytes"
        )
    if await state.db.write(store.set_env, app, name, value) == "limit":
        raise HTTPError(
            409, "TOO_MANY_ENV_VARS", f"an app has at most {store.ENV_MAX_PER_APP} env vars"
        )
    return json_response({})


async def delete_envvar(state: ServerState, req: Request, key: ApiKey) -> Response:
    """?id=<site>:<NAME> (or ?site_id=&name=); an absent var is already deleted: 200."""
    raw = req.query.get("id")
    if raw:
        site_id, _, name = raw.partition(":")
    else:
        site_id, name = req.query.get("site_id"), req.query.get("name")
    if not site_id or not name:
        raise HTTPError(400, "BAD_REQUEST", "id required (as listed: <site>:<NAME>)")
    app = await _app(state, key, site_id)
    await state.db.write(store.unset_env, app, _env_name(name))
    return json_response({})


# -- GET /api/logs ----------------------------------------------------------------------------


async def logs(state: ServerState, req: Request, key: ApiKey) -> Response:
    """?site_id=X&limit=N (1-1000, else 50) -> {"logs": [...]}, newest first."""
    app = await _app(state, key, req.query.get("site_id"))
    raw = req.query.get("limit") or ""
    limit = int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_LOG_LIMIT else DEFAULT_LOG_LIMIT
    entries = await state.db.read(store.read_logs, app, 0, limit)
    fields = ("id", "level", "message", "created_at")
    return json_response({"logs": [{f: e[f] for f in fields} for e in reversed(entries)]})


# -- analytics: GET /api/stats, /api/events, /api/tags ----------------------------------------

SOURCE_TYPES = {"pageview": "web", "event": "web", "pixel": "pixel", "redirect": "redirect"}


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _count_since(conn: sqlite3.Connection, since: int) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM analytics_events WHERE time >= ?", (since,)
    ).fetchone()[0]


def stats(conn: sqlite3.Connection, now: int) -> dict:
    """v0.9's /api/stats from the stored hits (sites stand for v0.9's domains; no tags)."""
    midnight = now - now % 86400
    # One pass over the hits for both breakdowns: 1-2 s per million hits (measured).
    by_source: dict[str, int] = {}
    by_site: dict[str, int] = {}
    for site, kind, count in conn.execute(
        "SELECT site, kind, COUNT(*) FROM analytics_events GROUP BY site, kind"
    ):
        by_source[SOURCE_TYPES[kind]] = by_source.get(SOURCE_TYPES[kind], 0) + count
        by_site[site] = by_site.get(site, 0) + count
    webhook_events = conn.execute("SELECT COUNT(*) FROM webhook_events").fetchone()[0]
    if webhook_events:
        by_source["webhook"] = webhook_events
    domains = sorted(by_site.items(), key=lambda item: (-item[1], item[0]))
    hour = now - now % 3600
    timeline = conn.execute(
        "SELECT time - time % 3600 AS h, COUNT(*) FROM analytics_events WHERE time >= ?"
        " GROUP BY h ORDER BY h",
        (hour - 23 * 3600,),
    ).fetchall()
    clicks = conn.execute("SELECT COALESCE(SUM(clicks), 0) FROM redirects").fetchone()[0]
    return {
        "total_events_today": _count_since(conn, midnight),
        "total_events_week": _count_since(conn, now - 7 * 86400),
        "total_events_month": _count_since(conn, now - 30 * 86400),
        "total_events_all_time": _count_since(conn, 0),
        "events_by_source_type": by_source,
        "top_domains": [{"domain": d, "count": n} for d, n in domains[:TOP]],
        "top_tags": [],
        "events_timeline": [
            {"timestamp": datetime.fromtimestamp(h, UTC).strftime("%Y-%m-%d %H:00"), "count": n}
            for h, n in timeline
        ],
        "total_unique_domains": len(domains),
        "total_redirect_clicks": clicks,
    }


def events(
    conn: sqlite3.Connection, domain: str, source: str, limit: int, offset: int
) -> list[dict]:
    """Stored hits, newest first, as v0.9's event items (no IP nor user agent is stored)."""
    kinds = [k for k, s in SOURCE_TYPES.items() if s == source] if source else list(SOURCE_TYPES)
    where = f"kind IN ({', '.join('?' * len(kinds))})"
    args: list = list(kinds)
    if domain:
        where += " AND site = ?"
        args.append(domain)
    rows = conn.execute(
        "SELECT id, time, site, kind, name, path, referrer FROM analytics_events"
        f" WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        (*args, limit, offset),
    ).fetchall()
    return [
        {
            "id": r["id"],
            "domain": r["site"],
            "tags": [],
            "source_type": SOURCE_TYPES[r["kind"]],
            "event_type": r["name"] or r["kind"],
            "path": r["path"],
            "referrer": r["referrer"],
            "user_agent": "",
            "ip_address": "",
            "created_at": _iso(r["time"]),
        }
        for r in rows
    ]


def _bounded(req: Request, name: str, default: int, high: int) -> int:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > high:
        raise HTTPError(400, "BAD_REQUEST", f"'{name}' must be a whole number from 0 to {high}")
    return int(raw)


async def get_stats(state: ServerState, req: Request, key: ApiKey) -> Response:
    await state.analytics.flush()  # hits still in the buffer count too
    return json_response(await state.db.read(stats, int(time.time())))


async def get_events(state: ServerState, req: Request, key: ApiKey) -> Response:
    """?domain=&source_type=&limit=50&offset=0 (limit at most 1000)."""
    limit = _bounded(req, "limit", DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT)
    offset = _bounded(req, "offset", 0, 10**9)
    domain, source = req.query.get("domain") or "", req.query.get("source_type") or ""
    if source and source not in SOURCE_TYPES.values():
        return json_response([])
    await state.analytics.flush()
    return json_response(await state.db.read(events, domain, source, limit, offset))


async def get_tags(state: ServerState, req: Request, key: ApiKey) -> Response:
    """Always []: this fazt stores no tags on hits (redirect tags: GET /api/redirects)."""
    return json_response([])


# -- POST /mcp/initialize, /mcp/tools/list, /mcp/tools/call: not provided ----------------------


async def mcp_not_provided(state: ServerState, req: Request, key: None) -> Response:
    """v0.9's MCP-over-HTTP endpoints are not served (docs/migrating-from-v0.9.md says
    why); a clear answer instead of a bare 404."""
    raise HTTPError(
        404,
        "NOT_PROVIDED",
        "fazt v0.9's /mcp/* HTTP endpoints are not provided; run `fazt mcp` (stdio MCP) "
        "on your machine with a peer's token instead (docs/mcp.md)",
    )
