"""Redirects /r/<slug>: the CLI and API manage them, clicks are counted, bad input is refused."""

import json

import pytest

from tests.conftest import wait_for

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"


def clicks(server, slug: str) -> int:
    rows = server.api("GET", "/api/redirects").json()["data"]
    return next(r["clicks"] for r in rows if r["slug"] == slug)


def slugs(server) -> list[tuple[str, str]]:
    rows = server.api("GET", "/api/redirects").json()["data"]
    return sorted((r["slug"], r["url"]) for r in rows)


@pytest.fixture
def server(shared_server):
    """One server for the module: each test adds redirects of its own slugs; lists of every
    redirect are compared with the list before the test."""
    return shared_server


def test_cli_add_list_remove_and_clicks_counted(server):
    before = json.loads(server.cli("redirect", "list", "--json").stdout)
    out = server.cli("redirect", "add", "gh", "https://github.com/fazt-sh", "--json")
    made = json.loads(out.stdout)
    assert made == {
        "id": made["id"],
        "slug": "gh",
        "url": "https://github.com/fazt-sh",
        "clicks": 0,
        "created_at": made["created_at"],
        "tags": [],
    }
    for ua in (CHROME, "curl/8", CHROME):  # every click counts, robots and DNT included
        hop = server.get("/r/gh", headers={"user-agent": ua, "dnt": "1"})
        assert hop.status_code == 302
        assert hop.headers["location"] == "https://github.com/fazt-sh"
    assert server.request("HEAD", "/r/gh").status_code == 302
    wait_for(lambda: clicks(server, "gh") == 4, what="4 clicks")
    listed = json.loads(server.cli("redirect", "list", "--json").stdout)
    assert sorted((r["slug"], r["clicks"]) for r in listed) == sorted(
        [*((r["slug"], r["clicks"]) for r in before), ("gh", 4)]
    )
    assert "gh" in server.cli("redirect", "list").stdout
    assert "Removed /r/gh" in server.cli("redirect", "remove", "gh").stdout
    assert server.get("/r/gh").status_code == 404
    assert json.loads(server.cli("redirect", "list", "--json").stdout) == before


def test_redirects_answer_on_the_dashboard_host_only(server, tmp_path):
    server.cli("redirect", "add", "docs", "https://example.com/docs")
    assert server.get("/r/docs", host="admin.localhost").status_code == 302
    # On a user site /r/... is that site's own path (here: no such site -> 404 site).
    assert server.get("/r/docs", host="somesite.localhost").status_code == 404


def test_bad_input_is_refused_and_changes_nothing(server):
    before = slugs(server)
    server.cli("redirect", "add", "ok", "https://example.com/")
    for slug, url in [
        ("bad slug", "https://example.com/"),
        (".dot", "https://example.com/"),
        ("x", "javascript:alert(1)"),
        ("x", "/relative"),
        ("x", "ftp://example.com/file"),
    ]:
        out = server.cli("redirect", "add", slug, url, check=False)
        assert out.returncode != 0
        assert "error" in out.stderr and "invalid" in out.stderr, out.stderr
    dup = server.cli("redirect", "add", "ok", "https://other.example/", check=False)
    assert dup.returncode != 0 and "taken" in dup.stderr
    assert server.api("POST", "/api/redirects", content=b"{nope").status_code == 400
    assert server.api("POST", "/api/redirects", json={"slug": 1}).status_code == 400
    assert slugs(server) == sorted([*before, ("ok", "https://example.com/")])
    missing = server.cli("redirect", "remove", "nope", check=False)
    assert missing.returncode != 0 and "REDIRECT_NOT_FOUND" in missing.stderr
    assert server.get("/r/nope").status_code == 404
    assert server.get("/r/").status_code == 404
    assert server.request("POST", "/r/ok").status_code == 405


def test_redirect_api_needs_admin(server):
    before = slugs(server)
    key = server.create_key("ci", "deploy")
    assert server.api("GET", "/api/redirects", token=key).status_code == 403
    response = server.api(
        "POST", "/api/redirects", token=key, json={"slug": "a", "url": "https://e.com"}
    )
    assert response.status_code == 403
    assert slugs(server) == before
