"""Dashboard pages against a real server: rendering, actions, escaping, and scopes."""

import re
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, running_server, write_site
from tests.integration.test_auth_sessions import Browser

PAGES = ["/", "/apps", "/apps/blog", "/analytics", "/keys", "/settings", "/upgrade"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("dashboard")
    with running_server(home / "home") as s:
        s.deploy(write_site(home / "v1", {"index.html": "blog v1"}), "blog")
        s.deploy(write_site(home / "v2", {"index.html": "blog v2", "a.css": "a{}"}), "blog")
        yield s


@pytest.fixture
def admin(srv) -> Iterator[Browser]:
    b = Browser(srv)
    assert b.login().status_code == 303
    yield b
    b.close()


def csrf_of(page) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_security_headers_and_no_external_assets(admin, path):
    r = admin.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    # Every script and stylesheet comes from the package, none from a CDN.
    for src in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        assert not src.startswith("//") and "cdn" not in src, src
    assert '<meta name="viewport"' in r.text


def test_static_assets_ship_in_the_package(srv, admin):
    css = admin.get("/static/admin.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = admin.get("/static/admin.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert admin.get("/static/../data.db").status_code == 404
    assert admin.get("/static/nothing.js").status_code == 404


def test_unknown_pages_are_404_and_wrong_methods_405(admin):
    assert admin.get("/no/such/page").status_code == 404
    r = admin.request("PUT", "/apps")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_overview_shows_version_and_recent_deploys(srv, admin):
    from fazt import __version__

    page = admin.get("/").text
    assert __version__ in page and "Disk free" in page
    assert 'href="/apps/blog"' in page


def test_apps_list_shows_live_url_size_and_last_deploy(srv, admin):
    page = admin.get("/apps").text
    assert f"http://blog.localhost:{srv.port}" in page
    assert 'href="/apps/blog"' in page


def test_rollback_and_promote_from_the_app_page(srv, admin):
    history = srv.api("GET", "/api/apps/blog/deployments").json()["data"]
    newest, older = history[0]["id"], history[1]["id"]
    token = csrf_of(admin.get("/apps/blog"))
    r = admin.post("/apps/blog/rollback", {"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/apps/blog?done=rollback"
    assert srv.get("/", host="blog.localhost").text == "blog v1"
    assert "Rolled back." in admin.get(r.headers["location"]).text
    r = admin.post("/apps/blog/promote", {"csrf_token": token, "deployment_id": str(newest)})
    assert r.status_code == 303
    assert srv.get("/", host="blog.localhost").text == "blog v2"
    r = admin.post("/apps/blog/promote", {"csrf_token": token, "deployment_id": "999999"})
    assert r.status_code == 404 and "has no deployment" in r.text
    assert srv.api("GET", "/api/apps/blog").json()["data"]["live_deployment_id"] == newest
    assert older != newest


def test_env_vars_set_and_unset_values_never_shown(srv, admin):
    token = csrf_of(admin.get("/apps/blog"))
    r = admin.post("/apps/blog/env", {"csrf_token": token, "name": "API_KEY", "value": "s3cr3t"})
    assert r.status_code == 303
    page = admin.get("/apps/blog").text
    assert "API_KEY" in page and "s3cr3t" not in page
    bad = admin.post("/apps/blog/env", {"csrf_token": token, "name": "bad name", "value": "x"})
    assert bad.status_code == 400
    r = admin.post("/apps/blog/env/API_KEY/delete", {"csrf_token": token})
    assert r.status_code == 303
    assert srv.api("GET", "/api/apps/blog/env").json()["data"] == []


def test_delete_needs_the_typed_name(srv, admin, tmp_path):
    srv.deploy(write_site(tmp_path / "doomed", {"index.html": "bye"}), "doomed")
    token = csrf_of(admin.get("/apps/doomed"))
    r = admin.post("/apps/doomed/delete", {"csrf_token": token, "confirm": "blog"})
    assert r.status_code == 400 and "to confirm" in r.text
    assert srv.api("GET", "/api/apps/doomed").status_code == 200
    r = admin.post("/apps/doomed/delete", {"csrf_token": token, "confirm": "doomed"})
    assert r.status_code == 303 and r.headers["location"] == "/apps?done=deleted"
    assert srv.api("GET", "/api/apps/doomed").status_code == 404
    r = admin.post("/apps/admin/delete", {"csrf_token": token, "confirm": "admin"})
    assert r.status_code == 403


def test_keys_page_creates_a_key_shown_once_and_revokes_it_at_once(srv, admin):
    token = csrf_of(admin.get("/keys"))
    r = admin.post("/keys", {"csrf_token": token, "name": "phone", "scopes": "deploy"})
    assert r.status_code == 201
    secret = re.search(r'<output id="new-token" class="token">([^<]+)</output>', r.text).group(1)
    assert srv.api("GET", "/api/apps", token=secret).status_code == 200
    listing = admin.get("/keys").text
    assert "phone" in listing and secret not in listing  # shown once only
    key_id = next(
        k["id"] for k in srv.api("GET", "/api/keys").json()["data"] if k["name"] == "phone"
    )
    r = admin.post(f"/keys/{key_id}/revoke", {"csrf_token": token})
    assert r.status_code == 303
    assert srv.api("GET", "/api/apps", token=secret).status_code == 401
    bad = admin.post("/keys", {"csrf_token": token, "name": "x", "scopes": "root"})
    assert bad.status_code == 400 and "unknown scope" in bad.text


def test_user_controlled_text_is_escaped(srv, tmp_path):
    """Stored XSS: a user agent, a file path and a log line are shown as text."""
    evil = "<script>alert(1)</script>"
    b = Browser(srv)
    assert b.login(headers={"user-agent": evil}).status_code == 303
    srv.deploy(write_site(tmp_path / "x", {"<img src=x onerror=alert(1)>.html": "x"}), "xss")
    settings_page = b.get("/settings").text
    assert evil not in settings_page and "&lt;script&gt;alert(1)&lt;/script&gt;" in settings_page
    app_page = b.get("/apps/xss").text
    assert "<img src=x" not in app_page and "&lt;img src=x onerror=alert(1)&gt;" in app_page
    b.close()


def test_deploy_key_cannot_reach_admin_routes_or_pages(srv):
    deploy_key = srv.create_key("ci", "deploy")
    for method, path in [("GET", "/api/keys"), ("POST", "/api/keys"), ("DELETE", "/api/keys/1")]:
        r = srv.api(method, path, token=deploy_key, json={"name": "x"})
        assert r.status_code == 403, (method, path)
    # Pages only know sessions: a key (any key) gets the login redirect, not the page.
    b = Browser(srv)
    for path in ["/keys", "/settings", "/apps"]:
        r = b.get(path, headers={"authorization": f"Bearer {deploy_key}"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    b.close()


def test_revoked_key_stops_working_at_once(srv):
    token = srv.create_key("short-lived", "admin")
    assert srv.api("GET", "/api/keys", token=token).status_code == 200
    keys = srv.api("GET", "/api/keys").json()["data"]
    key_id = next(k["id"] for k in keys if k["name"] == "short-lived")
    r = srv.api("DELETE", f"/api/keys/{key_id}")
    assert r.status_code == 200 and r.json()["data"]["status"] == "revoked"
    r = srv.api("GET", "/api/keys", token=token)
    assert r.status_code == 401 and r.json()["error"]["code"] == "INVALID_API_KEY"
    assert srv.api("DELETE", f"/api/keys/{key_id}").status_code == 404  # already revoked
    assert srv.api("DELETE", "/api/keys/abc").status_code == 400


def test_keys_api_rejects_bad_input_and_changes_nothing(srv):
    before = srv.api("GET", "/api/keys").json()["data"]
    for body in [{"name": ""}, {"name": "x", "scopes": ["root"]}, {"scopes": ["deploy"]}, [1]]:
        r = srv.api("POST", "/api/keys", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_REQUEST", body
    r = srv.api("POST", "/api/keys", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_JSON"
    assert srv.api("GET", "/api/keys").json()["data"] == before
    listing = srv.api("GET", "/api/keys").json()["data"]
    assert all("token" not in k and "token_hash" not in k for k in listing)


def test_analytics_page_renders_with_or_without_data(admin):
    r = admin.get("/analytics?site=blog&days=30")
    assert r.status_code == 200 and "Analytics" in r.text
    assert admin.get("/analytics?days=abc").status_code == 200


def test_settings_show_https_state_and_sessions(admin):
    page = admin.get("/settings").text
    assert 'id="https-state">off' in page
    assert "Log out everywhere" in page and "python-httpx" in page  # this session's client


def test_overview_charts_requests_per_hour(admin):
    from tests.conftest import wait_for

    wait_for(
        lambda: 'aria-label="Requests and errors per hour"' in admin.get("/").text,
        10,
        0.5,
        what="the request metrics to reach the overview",
    )


def test_tracked_paths_and_referrers_are_escaped_on_the_analytics_page(srv, admin):
    """Anyone can send a beacon: what it says must reach the page as text."""
    from tests.conftest import wait_for

    beacon = {
        "p": "/<script>alert(1)</script>",
        "r": "http://x<img src=x onerror=alert(2)>.example/",
    }
    browser = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"}
    r = srv.request("POST", "/_fazt/track", host="blog.localhost", json=beacon, headers=browser)
    assert r.status_code == 204

    def shown() -> str | None:
        page = admin.get("/analytics?site=blog&days=7").text
        return page if "&lt;script&gt;alert(1)&lt;/script&gt;" in page else None

    page = wait_for(shown, 10, 0.5, what="the beacon on the analytics page")
    assert "<script>alert(1)" not in page and "<img src=x" not in page


def test_app_page_browses_storage(srv, admin):
    import sqlite3

    now = "2026-01-01T00:00:00.000000Z"
    conn = sqlite3.connect(srv.db)  # what the app's fazt.storage calls would have written
    try:
        with conn:
            conn.execute(
                "INSERT INTO app_kv (app, key, value, created_at, updated_at) "
                "VALUES ('blog', 'visits:<home>', '{\"n\": \"<b>42</b>\"}', ?, ?)",
                (now, now),
            )
            conn.execute(
                "INSERT INTO app_objects (app, path, data, mime, size, sha256, created_at,"
                " updated_at) VALUES ('blog', 'img/cat.png', x'89', 'image/png', 1, 'x', ?, ?)",
                (now, now),
            )
    finally:
        conn.close()
    page = admin.get("/apps/blog").text
    assert "Key-value: 1 keys" in page and "Blobs: 1 (1 B)" in page
    assert "visits:&lt;home&gt;" in page and "&lt;b&gt;42&lt;/b&gt;" in page
    assert "<b>42</b>" not in page
    assert "img/cat.png" in page and 'href="/api/apps/blog/storage/kv"' in page
    # The JSON API behind the links answers the dashboard's session too.
    assert admin.get("/api/apps/blog/storage/kv").json()["data"][0]["key"] == "visits:<home>"


def test_system_and_sessions_api_for_scripts(srv):
    from fazt import __version__

    info = srv.api("GET", "/api/system").json()["data"]
    assert info["version"] == __version__ and info["sites"] >= 1
    assert info["database_bytes"] > 0 and info["disk_free_bytes"] > 0
    assert info["https"]["enabled"] is False and info["session_ttl_seconds"] == 604800
    assert {d["site"] for d in info["recent_deploys"]} >= {"blog"}
    deploy_key = srv.create_key("ci-system", "deploy")
    for method, path in [("GET", "/api/system"), ("GET", "/api/sessions")]:
        assert srv.api(method, path, token=deploy_key).status_code == 403
    assert srv.api("DELETE", "/api/sessions", token=deploy_key).status_code == 403

    b = Browser(srv)
    assert b.login(headers={"user-agent": "script-test"}).status_code == 303
    listed = srv.api("GET", "/api/sessions").json()["data"]
    assert "script-test" in {s["user_agent"] for s in listed}
    assert all("token_hash" not in s and "csrf_token" not in s for s in listed)
    ended = srv.api("DELETE", "/api/sessions").json()["data"]["ended"]
    assert ended >= 1
    assert b.get("/apps").status_code == 303  # logged out everywhere
    b.close()


def test_visitor_roles_are_set_from_the_app_page(srv, admin):
    h = "blog.localhost"  # the dev provider: *.localhost only
    r = srv.get("/_fazt/auth/login", host=h, params={"provider": "dev"})
    state = r.headers["set-cookie"].split(";", 1)[0]
    form = {"state": state.split("=", 1)[1], "name": "Vic <b>", "email": "vic@dev.test"}
    r = srv.request("POST", "/_fazt/auth/dev", host=h, headers={"cookie": state}, data=form)
    assert r.status_code == 303, r.text
    srv.http.cookies.clear()
    page = admin.get("/apps/blog")
    assert "dev:vic@dev.test" in page.text and "Vic &lt;b&gt;" in page.text
    token = csrf_of(page)
    r = admin.post(
        "/apps/blog/users", {"csrf_token": token, "user": "dev:vic@dev.test", "role": "admin"}
    )
    assert r.status_code == 303
    users = srv.api("GET", "/api/apps/blog/users").json()["data"]["users"]
    assert [(u["id"], u["role"]) for u in users] == [("dev:vic@dev.test", "admin")]
    bad = admin.post(
        "/apps/blog/users", {"csrf_token": token, "user": "dev:vic@dev.test", "role": "root"}
    )
    assert bad.status_code == 400
    missing = admin.post(
        "/apps/blog/users", {"csrf_token": token, "user": "nobody", "role": "user"}
    )
    assert missing.status_code == 404
    forged = admin.post(
        "/apps/blog/users", {"csrf_token": "x", "user": "dev:vic@dev.test", "role": "owner"}
    )
    assert forged.status_code == 403
    assert srv.api("GET", "/api/apps/blog/users").json()["data"]["users"][0]["role"] == "admin"
