"""The example guestbook (examples/guestbook) in Chromium: two visitors sign in through
a real OpenID Connect provider on loopback (panva's oidc-provider, tests/oidc_node.py),
post, and each sees the published entries and only their own drafts."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import FaztServer, running_server
from tests.oidc_node import node_provider

TIMEOUT = 20_000  # ms
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "guestbook"


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("guestbook") / "home"
    with running_server(home) as s:
        yield s


@pytest.fixture(scope="module")
def site(srv) -> Iterator[str]:
    origin = f"http://guestbook.localhost:{srv.port}"
    client = {
        "client_id": "guestbook",
        "client_secret": "guestbook-secret-0123456789abcdef",
        "redirect_uris": [f"{origin}/_fazt/auth/callback"],
    }
    with node_provider([client]) as provider:
        body = {
            "name": "local",
            "issuer": provider.issuer,
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        }
        assert srv.api("POST", "/api/auth/providers", json=body).status_code == 201
        srv.cli("deploy", str(EXAMPLE))
        r = srv.api("PUT", "/api/apps/guestbook/env/SIGNIN_PROVIDER", json={"value": "local"})
        assert r.is_success, r.text
        yield origin


@pytest.fixture
def visitors(chromium) -> Iterator[tuple[Page, Page]]:
    a, b = chromium.new_context(), chromium.new_context()  # two browsers' cookie jars
    for context in (a, b):
        context.set_default_timeout(TIMEOUT)
    yield a.new_page(), b.new_page()
    a.close()
    b.close()


def sign_in(page: Page, origin: str, login: str) -> None:
    page.goto(origin + "/")
    page.get_by_role("link", name="Sign in to post").click()
    page.locator("input[name=login]").fill(login)  # the provider's own login form
    page.locator("input[name=password]").fill("any")
    page.locator("button[type=submit]").click()
    page.locator("button[type=submit]").click()  # its consent form
    expect(page.locator("#account")).to_contain_text(f"Signed in as {login.capitalize()}")
    assert page.url == origin + "/"


def post(page: Page, text: str, draft: bool = False) -> None:
    page.get_by_label("Message").fill(text)
    if draft:
        page.get_by_label("Keep as a draft").check()
    page.get_by_role("button", name="Post").click()
    where = "#drafts" if draft else "#entries"
    expect(page.locator(where)).to_contain_text(text)


def test_visitors_sign_in_post_and_see_only_their_own_drafts(srv, site, visitors):
    carol, dave = visitors
    carol.goto(site + "/")
    expect(carol.get_by_role("link", name="Sign in to post")).to_be_visible()
    expect(carol.locator("#post")).to_be_hidden()
    sign_in(carol, site, "carol")
    post(carol, "hello from carol")
    post(carol, "carol's secret draft", draft=True)

    sign_in(dave, site, "dave")
    expect(dave.locator("#entries")).to_contain_text("hello from carol")
    post(dave, "dave's own draft", draft=True)
    expect(dave.locator("#drafts li")).to_have_text(["dave's own draft — Dave"])
    assert "carol's secret draft" not in dave.content()
    listing = dave.evaluate("fetch('/api/entries').then((r) => r.text())")  # the API itself
    assert "carol's secret draft" not in listing and "dave's own draft" in listing

    carol.reload()
    expect(carol.locator("#drafts li")).to_have_text(["carol's secret draft — Carol"])
    # the drafts are each visitor's own rows (fazt.storage.user), none in the app's storage
    conn = sqlite3.connect(srv.db)
    try:
        owners = conn.execute(
            "SELECT user_id, json_extract(data, '$.text') FROM user_documents"
            " WHERE app = 'guestbook' ORDER BY user_id"
        ).fetchall()
        in_app = conn.execute(
            "SELECT COUNT(*) FROM app_documents WHERE app = 'guestbook'"
            " AND json_extract(data, '$.draft') = 1"
        ).fetchone()[0]
    finally:
        conn.close()
    assert [text for _, text in owners] == ["carol's secret draft", "dave's own draft"]
    assert owners[0][0] != owners[1][0] and in_app == 0

    # signing out: the confirm form posts with its CSRF token; then nobody is signed in
    carol.get_by_role("link", name="Sign out").click()
    carol.get_by_role("button", name="Sign out").click()
    expect(carol.get_by_role("link", name="Sign in to post")).to_be_visible()
    expect(carol.locator("#drafts li")).to_have_count(0)
    status = carol.evaluate(
        "fetch('/api/entries', {method: 'POST', headers: {'content-type': 'application/json'},"
        " body: JSON.stringify({text: 'x'})}).then((r) => r.status)"
    )
    assert status == 401


def test_the_session_cookie_is_host_only_and_http_only(srv, site, visitors):
    carol, _ = visitors
    sign_in(carol, site, "carol")
    cookies = {c["name"]: c for c in carol.context.cookies()}
    session = cookies["fazt_visitor"]
    assert session["domain"] == "guestbook.localhost"  # host-only: no leading dot
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert "fazt_visitor" not in carol.evaluate("document.cookie")
