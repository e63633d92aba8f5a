"""The dashboard's operations pages over HTTP against a real server: backups, domains,
redirects, webhooks, sessions, the settings form, the HTML 404 page and the favicon."""

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fazt.admin.operations import certificate_view
from tests.conftest import FaztServer, child_pids, running_server, wait_for, write_site
from tests.integration.test_auth_sessions import Browser

PAGES = ["/backups", "/domains", "/redirects", "/webhooks", "/sessions"]
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("operations")
    with running_server(home / "home") as s:
        s.deploy(write_site(home / "one", {"index.html": "one v1"}), "one")
        yield s


@pytest.fixture
def admin(srv) -> Iterator[Browser]:
    b = Browser(srv)
    assert b.login().status_code == 303
    yield b
    b.close()


def csrf_of(page: httpx.Response) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def setting(srv: FaztServer, key: str) -> str | None:
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    finally:
        conn.close()
    return row[0] if row else None


# -- pages and permissions --------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/settings"])
def test_each_page_renders_and_is_linked_from_the_navigation(admin, path):
    r = admin.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert f'href="{path}" aria-current="page"' in r.text
    assert 'rel="icon" href="/static/favicon.svg"' in r.text


@pytest.mark.parametrize("path", PAGES)
def test_logged_out_visitors_are_sent_to_the_login_form(srv, path):
    b = Browser(srv)
    try:
        r = b.get(path)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
        r = b.post(path if path != "/sessions" else "/sessions/end-others", {"slug": "x"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    finally:
        b.close()


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(srv, admin):
    r = admin.post("/redirects", {"slug": "nocsrf", "url": "https://example.org/"})
    assert r.status_code == 403
    assert "nocsrf" not in admin.get("/redirects").text
    r = admin.post("/backups", {})
    assert r.status_code == 403


# -- the fixes --------------------------------------------------------------------------------


def test_unknown_dashboard_urls_are_an_html_page_for_browsers_json_for_scripts(srv, admin):
    r = admin.get("/no/such/page", headers=HTML)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Page not found" in r.text
    assert "Log out admin" in r.text  # the navigation, for a logged-in browser
    assert r.headers["x-frame-options"] == "DENY"
    logged_out = srv.get("/no/such/page", headers=HTML)
    assert logged_out.status_code == 404 and "Page not found" in logged_out.text
    assert "Log out" not in logged_out.text
    # Scripts, and the JSON API even from a browser, keep the JSON error.
    plain = srv.get("/no/such/page")
    assert plain.status_code == 404 and plain.json()["error"]["code"] == "NOT_FOUND"
    api = srv.get("/api/nothing-here", headers=HTML)
    assert api.status_code == 404 and api.json()["error"]["code"] == "NOT_FOUND"
    # A wrong method stays a 405, not a page.
    assert admin.request("PUT", "/backups", headers=HTML).status_code == 405


def test_favicon_is_served_by_fazt(srv):
    for path in ("/favicon.ico", "/static/favicon.svg"):
        r = srv.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "image/svg+xml"
        assert r.content.startswith(b"<svg")


def test_rollback_is_offered_only_where_it_can_work(srv, admin, tmp_path):
    # One deployment: nothing to roll back to.
    page = admin.get("/apps/one").text
    assert "Roll back to the previous deployment" not in page
    srv.deploy(write_site(tmp_path / "v2", {"index.html": "two v2"}), "two")
    assert "Roll back to the previous deployment" not in admin.get("/apps/two").text
    srv.deploy(write_site(tmp_path / "v2b", {"index.html": "two v2b"}), "two")
    assert "Roll back to the previous deployment" in admin.get("/apps/two").text


def test_system_apps_offer_no_env_vars_and_no_rollback(srv, admin):
    page = admin.get("/apps/admin")
    assert page.status_code == 200
    assert "Env vars" not in page.text and "/env" not in page.text
    assert "Roll back" not in page.text and "Make live" not in page.text
    token = csrf_of(page)
    r = admin.post("/apps/admin/env", {"csrf_token": token, "name": "X", "value": "1"})
    assert r.status_code == 403 and "system app" in r.text
    assert srv.api("GET", "/api/apps/admin/env").json()["data"] == []
    r = admin.post("/apps/admin/rollback", {"csrf_token": token})
    assert r.status_code == 403
    r = admin.post("/apps/root/promote", {"csrf_token": token, "deployment_id": "1"})
    assert r.status_code == 403


def test_overview_warns_when_disk_space_is_low(srv, admin):
    assert "Low disk space" not in admin.get("/").text
    srv.cli("server", "set-config", "disk_free_warn_mb=1073741824", "--db", str(srv.db))
    try:
        page = admin.get("/").text  # a live setting: no restart
        assert 'id="disk-warning"' in page and "disk_free_warn_mb" in page
    finally:
        srv.cli("server", "set-config", "disk_free_warn_mb=512", "--db", str(srv.db))
    assert "Low disk space" not in admin.get("/").text


# -- redirects, webhooks, domains -------------------------------------------------------------


def test_redirects_add_list_and_delete(srv, admin):
    token = csrf_of(admin.get("/redirects"))
    r = admin.post("/redirects", {"csrf_token": token, "slug": "docs", "url": "https://e.org/d"})
    assert r.status_code == 303 and r.headers["location"] == "/redirects?done=redirect-added"
    assert srv.get("/r/docs").headers["location"] == "https://e.org/d"
    page = admin.get("/redirects").text
    assert "/r/docs" in page and "https://e.org/d" in page
    r = admin.post("/redirects", {"csrf_token": token, "slug": "docs", "url": "https://e.org/x"})
    assert r.status_code == 409 and "taken" in r.text
    r = admin.post("/redirects", {"csrf_token": token, "slug": "bad slug", "url": "https://x"})
    assert r.status_code == 400 and "invalid slug" in r.text
    assert "bad slug" not in [x["slug"] for x in srv.api("GET", "/api/redirects").json()["data"]]
    r = admin.post("/redirects/docs/delete", {"csrf_token": token})
    assert r.status_code == 303
    assert srv.get("/r/docs").status_code == 404
    assert admin.post("/redirects/docs/delete", {"csrf_token": token}).status_code == 404


def test_webhooks_add_shows_the_secret_once_lists_deliveries_and_deletes(srv, admin):
    token = csrf_of(admin.get("/webhooks"))
    r = admin.post("/webhooks", {"csrf_token": token, "name": "stripe", "signing": "generated"})
    assert r.status_code == 201
    secret = re.search(r'id="new-secret" class="token">([^<]+)<', r.text).group(1)
    assert len(secret) >= 32 and secret not in admin.get("/webhooks").text
    r = admin.post("/webhooks", {"csrf_token": token, "name": "open", "signing": "unsigned"})
    assert r.status_code == 201 and 'id="new-secret"' not in r.text
    delivered = srv.request("POST", "/webhook/open", content=b'{"type": "ping.sent"}')
    assert delivered.status_code == 200, delivered.text
    page = admin.get("/webhooks").text
    assert "ping.sent" in page and "Recent deliveries" in page
    r = admin.post("/webhooks", {"csrf_token": token, "name": "Bad Name", "signing": "unsigned"})
    assert r.status_code == 400 and "invalid webhook name" in r.text
    r = admin.post("/webhooks/open/delete", {"csrf_token": token})
    assert r.status_code == 303
    names = [w["name"] for w in srv.api("GET", "/api/webhooks").json()["data"]]
    assert names == ["stripe"]


def test_domains_add_and_remove_with_certificate_state(srv, admin):
    page = admin.get("/domains")
    assert "HTTPS is off" in page.text
    token = csrf_of(page)
    r = admin.post("/domains", {"csrf_token": token, "domain": "www.one.example", "site": "one"})
    assert r.status_code == 303
    assert srv.get("/", host="www.one.example").text == "one v1"
    assert "www.one.example" in admin.get("/domains").text
    r = admin.post("/domains", {"csrf_token": token, "domain": "no_dots", "site": "one"})
    assert r.status_code == 400 and "www.one.example" in r.text  # the list is still there
    r = admin.post("/domains", {"csrf_token": token, "domain": "x.example", "site": "nope"})
    assert r.status_code == 404
    r = admin.post("/domains/www.one.example/delete", {"csrf_token": token})
    assert r.status_code == 303
    assert srv.api("GET", "/api/domains").json()["data"] == []


def test_certificate_warning_under_fourteen_days():
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def info(days: float) -> dict:
        until = (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"enabled": True, "certificate": {"not_after": until}}

    assert certificate_view(info(30), now)["warn"] is False
    assert certificate_view(info(30), now)["days_left"] == 30
    assert certificate_view(info(13.5), now)["warn"] is True
    assert certificate_view(info(-1), now)["days_left"] == 0
    assert certificate_view({"enabled": False})["warn"] is False


# -- sessions -------------------------------------------------------------------------------


def test_log_out_other_sessions_keeps_this_one(srv, admin):
    other = Browser(srv)
    try:
        assert other.login().status_code == 303
        page = admin.get("/sessions")
        assert "this one" in page.text and page.text.count("data-session=") >= 2
        r = admin.post("/sessions/end-others", {"csrf_token": csrf_of(page)})
        assert r.status_code == 303 and r.headers["location"] == "/sessions?done=others-ended"
        assert other.get("/sessions").status_code == 303  # sent to the login form
        page = admin.get("/sessions")
        assert page.status_code == 200 and page.text.count("data-session=") == 1
    finally:
        other.close()


def test_end_one_other_session(srv, admin):
    other = Browser(srv)
    try:
        assert other.login().status_code == 303
        page = admin.get("/sessions").text
        own = re.search(r'data-session="(\d+)" class="live"', page).group(1)
        ids = set(re.findall(r'data-session="(\d+)"', page)) - {own}
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        assert admin.post(f"/sessions/{own}/end", {"csrf_token": token}).status_code == 400
        for sid in ids:
            assert admin.post(f"/sessions/{sid}/end", {"csrf_token": token}).status_code == 303
        assert other.get("/").status_code == 200 and "Log in" in other.get("/").text
        assert admin.post("/sessions/99999/end", {"csrf_token": token}).status_code == 404
    finally:
        other.close()


# -- settings -------------------------------------------------------------------------------


def test_settings_form_saves_valid_values(srv, admin):
    page = admin.get("/settings")
    assert 'id="set-history_limit"' in page.text and 'for="set-history_limit"' in page.text
    form = {
        "csrf_token": csrf_of(page),
        "domain": "localhost",
        "history_limit": "7",
        "session_ttl_seconds": "604800",
        "session_max_age_hours": "168",
        "trusted_proxies": "127.0.0.1",
        "release_url": "http://127.0.0.1:1/releases.json",
    }
    r = admin.post("/settings", form)
    assert r.status_code == 303, r.text
    assert setting(srv, "history_limit") == "7"
    assert setting(srv, "trusted_proxies") == "127.0.0.1/32"  # as the schema stores it
    assert setting(srv, "https_enabled") in (None, "0")  # the unticked box
    assert "Settings saved" in admin.get(r.headers["location"]).text


def test_settings_form_refuses_bad_values_per_field_and_saves_nothing(srv, admin):
    before = setting(srv, "history_limit")
    page = admin.get("/settings")
    form = {
        "csrf_token": csrf_of(page),
        "domain": "example.org",  # valid, but not saved: another field is wrong
        "history_limit": "0",
        "session_ttl_seconds": "604800",
        "session_max_age_hours": "168",
        "trusted_proxies": "not-an-ip",
        "release_url": "ftp://x",
    }
    r = admin.post("/settings", form)
    assert r.status_code == 400
    assert 'id="err-history_limit"' in r.text and "history_limit:" in r.text
    assert 'id="err-trusted_proxies"' in r.text and 'id="err-release_url"' in r.text
    assert 'id="err-domain"' not in r.text
    assert 'value="not-an-ip"' in r.text  # what was typed stays in the form
    assert setting(srv, "history_limit") == before
    assert setting(srv, "domain") in (None, "localhost")


# -- backups --------------------------------------------------------------------------------


def backup_files(page: str) -> list[str]:
    return re.findall(r'data-backup="([^"]+)"', page)


def test_backups_create_verify_download_and_refuse_bad_names(srv, admin):
    page = admin.get("/backups")
    token = csrf_of(page)
    r = admin.post("/backups", {"csrf_token": token})
    assert r.status_code == 303 and "done=created" in r.headers["location"]
    files = backup_files(admin.get("/backups").text)
    assert files
    r = admin.post(f"/backups/{files[0]}/verify", {"csrf_token": token})
    assert r.status_code == 200 and 'id="verify-result"' in r.text and "OK" in r.text
    download = admin.get(f"/api/backups/{files[0]}")
    assert download.status_code == 200 and download.content.startswith(b"SQLite format 3")
    r = admin.post("/backups/..%2Fdata.db/verify", {"csrf_token": token})
    assert r.status_code == 404
    r = admin.post("/backups/restore", {"csrf_token": token, "file": files[0]})
    assert r.status_code == 400 and "confirm" in r.text  # the box was not ticked


@pytest.fixture
def own(tmp_path) -> Iterator[FaztServer]:
    with running_server(tmp_path / "home") as s:
        yield s


def test_restore_from_the_page_replaces_the_data_and_hands_over(own, tmp_path):
    srv = own
    srv.deploy(write_site(tmp_path / "keep", {"index.html": "keep"}), "keep")
    admin = Browser(srv)
    try:
        assert admin.login().status_code == 303
        token = csrf_of(admin.get("/backups"))
        assert admin.post("/backups", {"csrf_token": token}).status_code == 303
        [backup] = backup_files(admin.get("/backups").text)
        srv.deploy(write_site(tmp_path / "later", {"index.html": "later"}), "later")
        assert srv.get("/", host="later.localhost").text == "later"
        workers = set(child_pids(srv.proc.pid))

        r = admin.post("/backups/restore", {"csrf_token": token, "file": backup, "confirm": "yes"})
        assert r.status_code == 303, r.text
        assert "done=restored" in r.headers["location"]
        # The data is the backup's at once; a fresh worker then serves it.
        assert srv.api("GET", "/api/apps/later").status_code == 404
        wait_for(
            lambda: (now := set(child_pids(srv.proc.pid))) and not now & workers,
            deadline=30,
            what="the handover to a fresh worker",
        )
        wait_for(
            lambda: srv.get("/", host="later.localhost").status_code == 404,
            what="the restored routing",
        )
        assert srv.get("/", host="keep.localhost").text == "keep"
        page = admin.get(r.headers["location"])  # the session was in the backup
        assert page.status_code == 200 and "Restored." in page.text
        assert any("before-restore" in f for f in backup_files(page.text))
    finally:
        admin.close()


def test_a_damaged_backup_is_refused_and_nothing_changes(own, tmp_path):
    srv = own
    made = srv.api("POST", "/api/backups").json()["data"]
    path = srv.home / "backups" / made["file"]
    assert path.exists(), list((srv.home / "backups").iterdir())
    srv.deploy(write_site(tmp_path / "after", {"index.html": "after"}), "after")
    with path.open("r+b") as f:  # damage it after the manifest was written
        f.seek(100)
        f.write(b"\xff" * 64)
    r = srv.api("POST", f"/api/backups/{made['file']}/verify")
    assert r.status_code == 200 and r.json()["data"]["ok"] is False
    r = srv.api("POST", f"/api/backups/{made['file']}/restore")
    assert r.status_code == 422 and r.json()["error"]["code"] == "BACKUP_INVALID"
    assert srv.get("/", host="after.localhost").text == "after"
    r = srv.api("POST", "/api/backups/none.db/restore")
    assert r.status_code == 404 and r.json()["error"]["code"] == "BACKUP_NOT_FOUND"


def test_domains_page_warns_about_a_certificate_expiring_within_14_days(own):
    from fazt.https import store

    srv = own
    now = datetime.now(UTC)
    conn = sqlite3.connect(srv.db)
    try:
        with conn:  # HTTPS settings apply at the next start: this server stays on HTTP
            conn.execute("INSERT OR REPLACE INTO settings VALUES ('https_enabled', '1')")
            store.save_certificate(
                conn,
                ["localhost"],
                "pem",
                "key",
                now - timedelta(days=80),
                now + timedelta(days=5, hours=1),
                "https://acme.invalid/directory",
            )
    finally:
        conn.close()
    admin = Browser(srv)
    try:
        assert admin.login().status_code == 303
        page = admin.get("/domains").text
        assert 'id="cert-warning"' in page and "expires in 5 days" in page
        conn = sqlite3.connect(srv.db)
        with conn:
            store.save_certificate(
                conn, ["localhost"], "pem", "key", now, now + timedelta(days=60), "x"
            )
        conn.close()
        page = admin.get("/domains").text
        assert 'id="cert-warning"' not in page
        assert re.search(r"\((59|60) days\)", page)
    finally:
        admin.close()


def test_backups_page_shows_replication_off_then_its_replica(srv, admin):
    page = admin.get("/backups").text
    assert 'id="replication"' in page and 'id="replication-off"' in page
    srv.cli("server", "set-config", "replicate_url=s3://bucket/fazt", "--db", str(srv.db))
    try:
        page = admin.get("/backups").text  # a live setting: no restart
        assert 'id="replication-off"' not in page
        assert "s3://bucket/fazt" in page and "not running" in page
    finally:
        srv.cli("server", "set-config", "replicate_url=", "--db", str(srv.db))
    assert 'id="replication-off"' in admin.get("/backups").text
