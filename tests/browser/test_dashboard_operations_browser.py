"""The dashboard's operations pages in Chromium: each page loads without console errors
and without serious accessibility violations (axe-core), fits a 390 px phone screen, and
a backup is restored from the Backups page."""

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import FaztServer, child_pids, free_port, running_server, wait_for, write_site

PASSWORD = "longenough1"
TIMEOUT = 15_000  # ms
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
PAGES = ["/", "/backups", "/domains", "/redirects", "/webhooks", "/sessions", "/settings"]
OTHER_PAGES = ["/apps", "/apps/one", "/apps/admin", "/analytics", "/keys", "/upgrade"]
PHONE = {"width": 390, "height": 844}

# Elements wider than the screen, other than those inside a table's own scrolling wrapper.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest(".scroll")) continue;
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1) {  // the skip link hides to the left
      wide.push(el.tagName + "." + el.className + " " + Math.round(box.right));
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, wide};
}"""

# The smallest chart label as drawn on screen, in CSS pixels.
LABEL_JS = """() => {
  const sizes = [...document.querySelectorAll("svg.chart text")].map(t => {
    const scale = t.ownerSVGElement.getScreenCTM().a;
    return parseFloat(getComputedStyle(t).fontSize) * scale;
  });
  return sizes.length ? Math.min(...sizes) : null;
}"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("ops-browser")
    closed = {"release_url": f"http://127.0.0.1:{free_port()}/releases.json"}
    with running_server(home / "home", closed) as s:
        s.deploy(write_site(home / "v1", {"index.html": "<h1>one</h1>"}), "one")
        yield s


def new_page(chromium: Browser, **options) -> tuple[Page, list[str]]:
    context = chromium.new_context(**options)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def log_in(page: Page, srv: FaztServer) -> None:
    page.goto(f"http://localhost:{srv.port}/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def serious_violations(page: Page) -> list[str]:
    page.evaluate(AXE)  # through DevTools: the page's CSP does not apply
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_each_page_loads_clean_and_passes_axe(chromium, srv, dark):
    page, errors = new_page(chromium, color_scheme="dark" if dark else "light")
    try:
        log_in(page, srv)  # a fresh visit: the favicon must not be a console error
        for path in [*PAGES, *OTHER_PAGES, "/no/such/page"]:
            response = page.goto(f"http://localhost:{srv.port}{path}")
            missing = path == "/no/such/page"
            assert response.status == (404 if missing else 200), path
            if missing:  # Chromium reports the page's own 404; nothing else may fail
                assert len(errors) == 1 and "status of 404" in errors[0], errors
                assert page.get_by_role("heading", name="Page not found").is_visible()
                errors.clear()
            assert errors == [], (path, errors)
            assert serious_violations(page) == [], path
        if dark:
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(13, 17, 23)"
    finally:
        page.context.close()


def test_each_page_fits_a_phone_screen(chromium, srv):
    page, errors = new_page(chromium, viewport=PHONE)
    try:
        log_in(page, srv)
        for path in [*PAGES, *OTHER_PAGES]:
            page.goto(f"http://localhost:{srv.port}{path}")
            found = page.evaluate(OVERFLOW_JS)
            assert found["scroll"] <= found["width"], (path, found)
            assert found["wide"] == [], (path, found["wide"][:5])
        page.goto(f"http://localhost:{srv.port}/")
        smallest = page.evaluate(LABEL_JS)
        assert smallest is not None and smallest >= 11, smallest
        assert errors == []
    finally:
        page.context.close()


def test_restore_a_backup_from_the_page(chromium, tmp_path):
    with running_server(tmp_path / "home") as srv:
        srv.deploy(write_site(tmp_path / "keep", {"index.html": "keep"}), "keep")
        page, errors = new_page(chromium)
        try:
            log_in(page, srv)
            page.get_by_role("link", name="Backups").click()
            # While a post runs the page says so (admin.js): held here, never sent.
            page.evaluate(
                "document.querySelector('form[action=\"/backups\"]')"
                ".addEventListener('submit', e => e.preventDefault())"
            )
            page.get_by_role("button", name="Create a backup now").click()
            expect(page.locator("#backup-progress")).to_have_text("Taking a backup…")
            expect(page.get_by_role("button", name="Create a backup now")).to_be_disabled()
            page.reload()
            page.get_by_role("button", name="Create a backup now").click()
            expect(page.locator("p.notice")).to_have_text("Backup created.")
            backup = page.locator("tr[data-backup]").first.get_attribute("data-backup")
            page.get_by_role("button", name=f"Verify {backup}").click()
            expect(page.locator("#verify-result")).to_contain_text("OK")

            srv.deploy(write_site(tmp_path / "later", {"index.html": "later"}), "later")
            workers = set(child_pids(srv.proc.pid))
            page.locator("#restore-form select[name=file]").select_option(backup)
            page.get_by_label("Replace all data with this backup").check()
            page.get_by_role("button", name="Restore", exact=True).click()
            expect(page.locator("p.notice")).to_contain_text("Restored.")
            wait_for(
                lambda: (now := set(child_pids(srv.proc.pid))) and not now & workers,
                deadline=30,
                what="the handover to a fresh worker",
            )
            later = httpx.get(f"{srv.url}/", headers={"host": "later.localhost"})
            assert later.status_code == 404
            page.reload()
            expect(page.locator("tr[data-backup]", has_text="before-restore")).to_have_count(1)
            assert re.search(r"/backups\?done=restored", page.url)
            assert errors == []
        finally:
            page.context.close()
