"""Custom events (`fazt.track("signup")`) on the analytics page: counts per name over
time, per site and for all sites, kept up to date as new events arrive."""

import re
import sqlite3
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, running_server, wait_for, write_site
from tests.integration.test_analytics import beacon
from tests.integration.test_auth_sessions import Browser


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("events")
    with running_server(home / "home") as s:
        for site in ("shop", "blog"):
            s.deploy(write_site(home / site, {"index.html": site}), site)
        yield s


@pytest.fixture
def admin(srv) -> Iterator[Browser]:
    b = Browser(srv)
    assert b.login().status_code == 303
    yield b
    b.close()


def stored_events(srv: FaztServer) -> int:
    conn = sqlite3.connect(srv.db)
    try:
        return conn.execute(
            "SELECT COUNT(*) FROM analytics_events WHERE kind = 'event'"
        ).fetchone()[0]
    finally:
        conn.close()


def counts(page) -> dict[str, int]:
    section = page.text[page.text.index('id="h-events"') :]
    return {
        name: int(n)
        for name, n in re.findall(
            r'<td><code>([^<]+)</code></td><td class="num">(\d+)</td>', section
        )
    }


def test_custom_events_are_counted_per_name_and_follow_new_events(srv, admin):
    assert "No custom events" in admin.get("/analytics").text
    for name, site, times in (("signup", "shop", 3), ("buy", "shop", 1), ("signup", "blog", 2)):
        for _ in range(times):
            assert beacon(srv, {"p": "/", "n": name}, site=site).status_code == 204
    assert beacon(srv, {"p": "/"}, site="shop").status_code == 204  # a pageview: not an event
    wait_for(lambda: stored_events(srv) == 6, what="the events to be written")
    page = admin.get("/analytics")
    assert counts(page) == {"signup": 5, "buy": 1}
    assert 'data-series="signup"' in page.text and 'data-series="buy"' in page.text
    assert counts(admin.get("/analytics?site=shop&days=30")) == {"signup": 3, "buy": 1}
    assert counts(admin.get("/analytics?site=blog")) == {"signup": 2}
    # Events written after the first look are added (the counts are kept per worker).
    assert beacon(srv, {"p": "/", "n": "<b>odd</b>"}, site="blog").status_code == 204
    wait_for(lambda: stored_events(srv) == 7, what="the new event")
    page = admin.get("/analytics")
    assert counts(page) == {"signup": 5, "buy": 1, "&lt;b&gt;odd&lt;/b&gt;": 1}
