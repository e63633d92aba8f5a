"""The dashboard in a real browser: log in, apps, rollback, keys, analytics, log out,
and a forged request from a sibling subdomain."""

import re
import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from fazt import __version__
from tests.conftest import FaztServer, free_port, running_server, wait_for, write_site

PASSWORD = "longenough1"
TIMEOUT = 15_000  # ms, for every expectation
# A whole HTML page: fazt injects its tracking script before </head>.
PAGE = (
    "<!doctype html><html><head><title>blog</title></head>"
    "<body><h1>blog {version}</h1></body></html>"
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("browser")
    # Upgrade checks go to a closed local port: no traffic leaves the machine.
    closed = {"release_url": f"http://127.0.0.1:{free_port()}/releases.json"}
    with running_server(home / "home", closed) as s:
        for version in ("v1", "v2"):
            html = PAGE.format(version=version)
            s.deploy(write_site(home / version, {"index.html": html}), "blog")
        yield s


@pytest.fixture
def page(chromium) -> Iterator[Page]:
    context = chromium.new_context()
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    yield page
    context.close()


def dashboard(srv: FaztServer, path: str = "/") -> str:
    return f"http://localhost:{srv.port}{path}"


def log_in(page: Page, srv: FaztServer) -> None:
    page.goto(dashboard(srv))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_log_in_see_apps_roll_back_and_log_out(srv, page):
    page.goto(dashboard(srv, "/apps"))
    expect(page).to_have_url(re.compile(r"/login\?next=/apps$"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Apps")).to_be_visible()  # back to ?next
    blog_url = f"http://blog.localhost:{srv.port}"
    expect(page.get_by_role("link", name=blog_url)).to_be_visible()

    page.get_by_role("link", name="blog", exact=True).click()
    expect(page.get_by_role("heading", name="blog")).to_be_visible()
    page.get_by_role("button", name="Roll back to the previous deployment").click()
    expect(page.get_by_role("status")).to_have_text("Rolled back.")
    wait_for(
        lambda: "blog v1" in httpx.get(f"{srv.url}/", headers={"host": "blog.localhost"}).text,
        what="the rollback to take effect",
    )
    page.goto(blog_url + "/")
    expect(page.get_by_role("heading", name="blog v1")).to_be_visible()

    page.goto(dashboard(srv, "/apps/blog"))
    page.get_by_role("button", name="Log out admin").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.goto(dashboard(srv, "/apps"))
    expect(page).to_have_url(re.compile(r"/login\?next=/apps$"))


def test_keyboard_only(srv, page):
    page.goto(dashboard(srv))
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.keyboard.press("Tab")  # the first stop on every page skips the navigation
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # fazt, Overview, Apps
    expect(page.get_by_role("link", name="Apps")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Apps")).to_be_visible()


def test_create_and_revoke_a_key(srv, page):
    log_in(page, srv)
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("from-browser")
    page.get_by_role("button", name="Create key").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("fazt_")
    assert srv.api("GET", "/api/apps", token=token).status_code == 200
    page.get_by_role("link", name="API keys").click()  # a fresh page: the token is gone
    expect(page.locator("#new-token")).to_have_count(0)
    page.get_by_role("button", name="Revoke key from-browser").click()
    expect(page.get_by_role("status")).to_have_text("Key revoked.")
    assert srv.api("GET", "/api/apps", token=token).status_code == 401


def test_delete_button_waits_for_the_typed_name(srv, page, tmp_path):
    srv.deploy(write_site(tmp_path / "gone", {"index.html": "x"}), "gone")
    log_in(page, srv)
    page.goto(dashboard(srv, "/apps/gone"))
    button = page.get_by_role("button", name="Delete gone and all its data")
    expect(button).to_be_disabled()
    page.get_by_label("Type gone to confirm").fill("gone")
    expect(button).to_be_enabled()
    button.click()
    expect(page.get_by_role("status")).to_have_text("App deleted.")
    assert srv.api("GET", "/api/apps/gone").status_code == 404


def test_app_logs_tail_live(srv, page):
    log_in(page, srv)
    page.goto(dashboard(srv, "/apps/blog"))
    expect(page.get_by_text("No log lines yet.")).to_be_visible()
    conn = sqlite3.connect(srv.db)  # as the runtime would: a line in app_logs
    try:
        with conn:
            conn.execute(
                "INSERT INTO app_logs (app, level, message, request_id, created_at) "
                "VALUES ('blog', 'warn', '<b>disk</b> nearly full', 'r1', ?)",
                (time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),),
            )
    finally:
        conn.close()
    row = page.locator("table.logs tbody tr")
    expect(row).to_contain_text("<b>disk</b> nearly full")  # shown as text, not markup
    expect(page.get_by_text("No log lines yet.")).to_have_count(0)


def test_analytics_chart_reflects_tracked_visits(srv, page):
    log_in(page, srv)
    before = int(_pageviews(page, srv))
    for _ in range(3):
        page.goto(f"http://blog.localhost:{srv.port}/")
        page.wait_for_load_state("networkidle")

    def counted() -> bool:
        return int(_pageviews(page, srv)) >= before + 3

    wait_for(counted, 15, 0.5, what="the tracked visits on the analytics page")
    chart = page.locator("svg.chart").first
    expect(chart).to_be_visible()
    points = chart.locator("polyline[data-series=pageviews]").get_attribute("points")
    heights = [float(p.split(",")[1]) for p in points.split()]
    assert min(heights) < max(heights)  # today's visits raise the line above zero


def _pageviews(page: Page, srv: FaztServer) -> str:
    page.goto(dashboard(srv, "/analytics?site=blog&days=7"))
    found = page.locator("#pageviews")
    return found.inner_text() if found.count() else "0"


def test_upgrade_check_shows_the_servers_answer(srv, page):
    log_in(page, srv)
    page.get_by_role("link", name="Upgrade").click()
    expect(page.get_by_text(f"This server runs fazt {__version__}")).to_be_visible()
    page.get_by_role("button", name="Check for a new version").click()
    # The release list cannot be fetched here: the page shows the API's error.
    expect(page.locator("#upgrade-result")).to_contain_text("Could not check:")


def test_sibling_subdomain_cannot_forge_dashboard_requests(chromium, tmp_path):
    """On a real domain, evil.<domain> is the same site as admin.<domain>: the browser
    sends the SameSite=Lax cookie with its cross-origin form POST. The dashboard must
    refuse it anyway."""
    attack = """<!doctype html><form id=f method=post
        action="http://admin.fazt.test:PORT/keys">
        <input name=name value=stolen><input name=scopes value=admin>
        <button>go</button></form>"""
    with running_server(tmp_path / "home", None, "--domain", "fazt.test") as srv:
        evil_dir = write_site(
            tmp_path / "evil", {"index.html": attack.replace("PORT", str(srv.port))}
        )
        srv.deploy(evil_dir, "evil")
        context = chromium.new_context()
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        try:
            page.goto(f"http://admin.fazt.test:{srv.port}/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()

            page.goto(f"http://evil.fazt.test:{srv.port}/")
            with page.expect_response(re.compile(r"/keys$")) as answer:
                page.get_by_role("button", name="go").click()
            response = answer.value
            assert response.status == 403
            # The cookie *was* sent (same site) — only the CSRF defence stopped it.
            assert "fazt_session=" in (response.request.header_value("cookie") or "")
        finally:
            context.close()
        names = [k["name"] for k in srv.api("GET", "/api/keys").json()["data"]]
        assert "stolen" not in names
