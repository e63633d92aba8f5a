"""The routes a fazt v0.9 client or script calls (issue 16 item 4), against a real server,
written from the reference's description of v0.9's API (server.md §4-6, cli-upgrade.md
§1.4, §1.6, §2.4): each answered 404 before api/v09_routes.py."""

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import FaztServer, running_server, wait_for, write_site

PASSWORD = "longenough1"  # what init_server sets for the user `admin`

LOGGING_APP = r"""
function handler(req) {
  console.log("hello from v0.9 " + req.query.n);
  return {ok: true};
}
handler(request);
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    root = tmp_path_factory.mktemp("v09routes")
    with running_server(root / "home") as server:
        server.deploy(write_site(root / "blog", {"index.html": "<h1>blog</h1>"}), "blog")
        files = {"index.html": "app", "api/main.js": LOGGING_APP}
        server.deploy(write_site(root / "app", files), "app")
        yield server


def _envelope(r: httpx.Response) -> object:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()["data"]


# -- what a v0.9 client calls --------------------------------------------------------------


def test_remote_status_reads_system_health(srv):
    """`fazt remote status` (v0.9) prints these fields of GET /api/system/health."""
    data = _envelope(srv.api("GET", "/api/system/health"))
    assert data["status"] == "healthy"
    assert data["version"] == srv.get("/health").json()["data"]["version"]
    assert data["mode"] == "production"
    assert isinstance(data["uptime_seconds"], float) and data["uptime_seconds"] >= 0
    assert data["memory"]["used_mb"] > 1 and data["memory"]["limit_mb"] >= data["memory"]["used_mb"]
    assert isinstance(data["memory"]["vfs_cache_mb"], float)
    assert data["database"]["path"].endswith(".db")
    assert data["database"]["open_connections"] >= 1
    assert isinstance(data["database"]["in_use"], int)
    assert isinstance(data["runtime"]["queued_events"], int)
    assert data["runtime"]["goroutines"] >= 1
    deploy_key = srv.create_key("v09-status", "deploy")
    seen = _envelope(srv.api("GET", "/api/system/health", token=deploy_key))
    assert seen["status"] == "healthy" and seen["database"]["path"] == ""
    # A deploy key (what a peer is usually given) may read it; no key may not.
    assert srv.api("GET", "/api/system/health", token=srv.create_key("peer")).status_code == 200
    r = httpx.get(srv.url + "/api/system/health")
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"


def test_client_sites_lists_pascal_case_site_infos(srv):
    """`client sites` reads data[] with Name, FileCount, SizeBytes."""
    sites = _envelope(srv.api("GET", "/api/sites"))
    by_name = {s["Name"]: s for s in sites}
    blog = by_name["blog"]
    assert blog == {
        "Name": "blog",
        "Path": "vfs://blog",
        "FileCount": 1,
        "SizeBytes": len("<h1>blog</h1>"),
        "ModTime": blog["ModTime"],
    }
    times = [s["ModTime"] for s in sites]
    assert times == sorted(times, reverse=True)  # newest first
    assert _envelope(srv.api("GET", "/api/sites/blog")) == blog
    r = srv.api("GET", "/api/sites/nosuch")
    assert r.status_code == 404 and r.json()["error"]["code"] == "SITE_NOT_FOUND"


def test_site_files_and_raw_file(srv):
    files = _envelope(srv.api("GET", "/api/sites/blog/files"))
    assert [(f["path"], f["size"]) for f in files] == [("index.html", 13)]
    assert files[0]["mod_time"]
    r = srv.api("GET", "/api/sites/blog/files/index.html")
    assert r.status_code == 200 and r.content == b"<h1>blog</h1>"  # raw, no envelope
    assert r.headers["content-type"].startswith("text/html")
    # Served from the dashboard's origin: it must never run as a page there.
    assert r.headers["content-disposition"] == "attachment"
    assert r.headers["content-security-policy"].startswith("sandbox")
    r = srv.api("GET", "/api/sites/blog/files/missing.txt")
    assert r.status_code == 404 and r.json()["error"]["code"] == "FILE_NOT_FOUND"


def test_client_delete_removes_the_site(srv, tmp_path):
    """`client delete --site S` sends DELETE /api/sites?site_id=S."""
    srv.deploy(write_site(tmp_path / "gone", {"index.html": "bye"}), "gone")
    assert srv.get("/", host="gone.localhost").status_code == 200
    r = srv.api("DELETE", "/api/sites?site_id=gone")
    assert _envelope(r) == {"message": "Site deleted"}
    assert srv.get("/", host="gone.localhost").status_code == 404
    assert "gone" not in {s["Name"] for s in _envelope(srv.api("GET", "/api/sites"))}
    # The path form, which v0.9's MCP tool sends.
    srv.deploy(write_site(tmp_path / "gone2", {"index.html": "bye"}), "gone2")
    assert _envelope(srv.api("DELETE", "/api/sites/gone2")) == {"message": "Site deleted"}
    assert srv.get("/", host="gone2.localhost").status_code == 404


def test_delete_refuses_system_sites_unknown_sites_and_a_missing_id(srv):
    r = srv.api("DELETE", "/api/sites?site_id=root")
    assert r.status_code == 403 and r.json()["error"]["code"] == "SYSTEM_APP"
    assert "root" in {s["Name"] for s in _envelope(srv.api("GET", "/api/sites"))}
    r = srv.api("DELETE", "/api/sites?site_id=nosuch")
    assert r.status_code == 404 and r.json()["error"]["code"] == "SITE_NOT_FOUND"
    r = srv.api("DELETE", "/api/sites")
    assert r.status_code == 400 and r.json()["error"]["message"] == "site_id required"
    # Deleting needs the admin scope, as DELETE /api/apps/{name}.
    r = srv.api("DELETE", "/api/sites?site_id=blog", token=srv.create_key("dep"))
    assert r.status_code == 403
    assert srv.get("/", host="blog.localhost").status_code == 200


def test_deployments_list_needs_a_key(srv):
    """v0.9 served this list to anyone (a prefix-match bug); here a key is needed."""
    r = httpx.get(srv.url + "/api/deployments")
    assert r.status_code == 401
    deps = _envelope(srv.api("GET", "/api/deployments"))["deployments"]
    assert {"id", "site_id", "size_bytes", "file_count", "deployed_by", "created_at"} <= set(
        deps[0]
    )
    ids = [d["id"] for d in deps]
    assert ids == sorted(ids, reverse=True) and len(ids) <= 50
    assert "blog" in {d["site_id"] for d in deps}


# -- what v0.9 scripts call ----------------------------------------------------------------


def test_envvars_set_list_delete(srv):
    r = srv.api("POST", "/api/envvars", json={"site_id": "app", "name": "API_KEY", "value": "s3"})
    assert _envelope(r) == {}
    vars_ = _envelope(srv.api("GET", "/api/envvars?site_id=app"))["vars"]
    assert [(v["id"], v["name"]) for v in vars_] == [("app:API_KEY", "API_KEY")]
    assert "s3" not in srv.api("GET", "/api/envvars?site_id=app").text  # never the value
    # The same var as this fazt's own route sees it.
    assert [e["name"] for e in _envelope(srv.api("GET", "/api/apps/app/env"))] == ["API_KEY"]
    assert _envelope(srv.api("DELETE", "/api/envvars?id=app:API_KEY")) == {}
    assert _envelope(srv.api("GET", "/api/envvars?site_id=app"))["vars"] == []
    assert _envelope(srv.api("DELETE", "/api/envvars?id=app:API_KEY")) == {}  # as v0.9


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"site_id": "app", "name": "lower", "value": "x"}, "INVALID_ENV_NAME"),
        ({"site_id": "app", "name": "PATH", "value": "x"}, "INVALID_ENV_NAME"),
        ({"site_id": "app", "name": "OK", "value": 5}, "BAD_REQUEST"),
        ({"name": "OK", "value": "x"}, "BAD_REQUEST"),
        ({"site_id": "nosuch", "name": "OK", "value": "x"}, "APP_NOT_FOUND"),
    ],
)
def test_bad_envvars_are_refused_and_set_nothing(srv, body, code):
    r = srv.api("POST", "/api/envvars", json=body)
    assert r.status_code in (400, 404) and r.json()["error"]["code"] == code, r.text
    assert _envelope(srv.api("GET", "/api/envvars?site_id=app"))["vars"] == []
    r = srv.api("GET", "/api/envvars")
    assert r.status_code == 400 and r.json()["error"]["message"] == "site_id required"


def test_logs_newest_first(srv):
    for n in (1, 2, 3):
        assert srv.get(f"/api?n={n}", host="app.localhost").status_code == 200

    def all_written():  # log lines are written after the answers, off the request path
        data = _envelope(srv.api("GET", "/api/logs?site_id=app&limit=10"))
        return {"hello from v0.9 3", "hello from v0.9 2"} <= {e["message"] for e in data["logs"]}

    wait_for(all_written, what="the app's last two log lines")
    entries = _envelope(srv.api("GET", "/api/logs?site_id=app&limit=2"))["logs"]
    assert [e["message"] for e in entries] == ["hello from v0.9 3", "hello from v0.9 2"]
    assert set(entries[0]) == {"id", "level", "message", "created_at"}
    assert entries[0]["level"] == "info"
    r = srv.api("GET", "/api/logs")
    assert r.status_code == 400 and r.json()["error"]["message"] == "site_id required"


def test_system_limits_cache_db_config(srv):
    limits = _envelope(srv.api("GET", "/api/system/limits"))
    assert set(limits) == {"TotalRAM", "AvailableRAM", "CPUCount", "MaxVFSBytes", "MaxUploadBytes"}
    assert limits["TotalRAM"] > 0 and limits["CPUCount"] >= 1 and limits["MaxUploadBytes"] > 0
    cache = _envelope(srv.api("GET", "/api/system/cache"))
    assert set(cache) == {"CachedFiles", "CacheSizeBytes"}
    db = _envelope(srv.api("GET", "/api/system/db"))
    assert db["OpenConnections"] >= 1 and db["InUse"] + db["Idle"] == db["OpenConnections"]
    config = _envelope(srv.api("GET", "/api/system/config"))
    assert config == {
        "version": config["version"],
        "domain": "localhost",
        "env": "production",
        "https": False,
        "ntfy": False,
    }
    assert _envelope(srv.api("GET", "/api/config")) == config
    # Server-wide: the admin scope.
    assert srv.api("GET", "/api/config", token=srv.create_key("d2")).status_code == 403


def test_stats_events_tags(srv):
    browser = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}  # not a bot
    for _ in range(2):
        assert srv.get("/pixel.gif?domain=blog", headers=browser).status_code == 200
    stats = _envelope(srv.api("GET", "/api/stats"))  # hits still buffered count too
    assert stats["total_events_all_time"] >= 2 and stats["total_events_today"] >= 2
    assert stats["events_by_source_type"]["pixel"] >= 2
    assert {"domain": "blog", "count": 2} in stats["top_domains"]
    assert stats["total_unique_domains"] >= 1 and stats["top_tags"] == []
    assert sum(h["count"] for h in stats["events_timeline"]) >= 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:00", stats["events_timeline"][-1]["timestamp"])
    assert isinstance(stats["total_redirect_clicks"], int)
    events = _envelope(srv.api("GET", "/api/events?domain=blog&source_type=pixel&limit=1"))
    assert len(events) == 1
    assert events[0]["domain"] == "blog" and events[0]["source_type"] == "pixel"
    assert events[0]["tags"] == [] and events[0]["ip_address"] == ""  # never stored here
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", events[0]["created_at"])
    assert _envelope(srv.api("GET", "/api/events?domain=nosuch")) == []
    r = srv.api("GET", "/api/events?limit=100000")
    assert r.status_code == 400  # v0.9 had no maximum
    assert _envelope(srv.api("GET", "/api/tags")) == []


# -- the session routes --------------------------------------------------------------------


def _login(srv: FaztServer, client: httpx.Client, **headers) -> httpx.Response:
    return client.post(
        srv.url + "/api/login",
        json={"username": "admin", "password": PASSWORD, "remember_me": True},
        headers=headers,
    )


def _cookie(r: httpx.Response) -> str:
    return re.search(r"fazt_session=([^;]*)", r.headers.get("set-cookie", "")).group(1)


def test_login_status_me_csrf_logout(srv):
    with httpx.Client(timeout=30) as client:
        r = _login(srv, client, origin=srv.url)
        data = _envelope(r)
        assert data["message"] == "Login successful" and data["username"] == "admin"
        set_cookie = r.headers["set-cookie"]
        # The dashboard's cookie, with its flags.
        assert set_cookie.startswith("fazt_session=")
        for flag in ("HttpOnly", "SameSite=Lax", "Path=/"):
            assert flag in set_cookie
        cookie = {"cookie": f"fazt_session={_cookie(r)}"}
        status = _envelope(httpx.get(srv.url + "/api/auth/status", headers=cookie))
        assert status["authenticated"] is True and status["username"] == "admin"
        assert status["expiresAt"].endswith("Z")
        me = _envelope(httpx.get(srv.url + "/api/user/me", headers=cookie))
        assert me["username"] == "admin" and me["version"]
        # The cookie reads the API (as v0.9) ...
        assert _envelope(httpx.get(srv.url + "/api/sites", headers=cookie))
        # ... but changes nothing without the CSRF token the login answer carries.
        redirect = {"slug": "v09login", "url": "https://example.org/"}
        r = httpx.post(srv.url + "/api/redirects", json=redirect, headers=cookie)
        assert r.status_code == 403 and r.json()["error"]["code"] == "CSRF_FAILED"
        token = {**cookie, "x-csrf-token": data["csrf_token"]}
        r = httpx.post(srv.url + "/api/redirects", json=redirect, headers=token)
        assert r.status_code == 201, r.text
        # Logout from another origin is refused; from ours it ends the session.
        evil = {**cookie, "origin": "http://evil.localhost"}
        r = httpx.post(srv.url + "/api/logout", headers=evil)
        assert r.status_code == 403
        r = httpx.post(srv.url + "/api/logout", headers=cookie)
        assert _envelope(r) == {"message": "Logged out successfully"}
        assert "Max-Age=0" in r.headers["set-cookie"]
        r = httpx.get(srv.url + "/api/user/me", headers=cookie)
        assert r.status_code == 401 and r.json()["error"]["code"] == "SESSION_EXPIRED"


def test_token_callers_on_the_session_routes(srv):
    """v0.9: a Bearer caller without a cookie is authenticated but has no session."""
    assert _envelope(srv.api("GET", "/api/auth/status")) == {"authenticated": False}
    r = srv.api("GET", "/api/user/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    assert _envelope(srv.api("POST", "/api/logout"))["message"] == "Logged out successfully"
    assert httpx.post(srv.url + "/api/logout").status_code == 401
    assert httpx.get(srv.url + "/api/auth/status").status_code == 401


def test_cross_origin_and_bad_logins_get_no_session(srv):
    with httpx.Client(timeout=30) as client:
        r = _login(srv, client, origin="http://evil.localhost")
        assert r.status_code == 403 and r.json()["error"]["code"] == "CSRF_FAILED"
        assert "set-cookie" not in r.headers
        r = client.post(srv.url + "/api/login", content=b"{not json")
        assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_JSON"
        r = client.post(srv.url + "/api/login", json={"username": "admin"})
        assert r.status_code == 400 and "set-cookie" not in r.headers
        r = client.post(srv.url + "/api/login", json={"username": "admin", "password": "no"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "INVALID_CREDENTIALS"
        assert "set-cookie" not in r.headers


def test_login_failures_share_the_dashboards_limit(tmp_path):
    """5 wrong passwords at /api/login lock the address out of both logins (the
    dashboard's form too), correct password included; a server of its own, since the
    lockout lasts 15 minutes."""
    with running_server(tmp_path / "home") as srv, httpx.Client(timeout=30) as client:
        for _ in range(5):
            r = client.post(srv.url + "/api/login", json={"username": "admin", "password": "x"})
            assert r.status_code == 401
        r = _login(srv, client)
        assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED"
        assert int(r.headers["retry-after"]) > 0 and "set-cookie" not in r.headers
        form = {"username": "admin", "password": PASSWORD, "next": "/"}
        r = client.post(srv.url + "/login", data=form, headers={"origin": srv.url})
        assert r.status_code == 429


@pytest.mark.parametrize("path", ["/mcp/initialize", "/mcp/tools/list", "/mcp/tools/call"])
def test_mcp_http_endpoints_say_they_are_not_provided(srv, path):
    """Not served (docs/migrating-from-v0.9.md says why): a clear JSON answer naming the
    replacement, not a bare 404."""
    r = srv.api("POST", path, json={"name": "fazt_apps_list", "arguments": {}})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_PROVIDED"
    assert "fazt mcp" in r.json()["error"]["message"]
