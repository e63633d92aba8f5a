"""Redirect tags are stored (v0.9's `tags`, issue 16), and v0.9's DELETE by integer id
works on /api/redirects/{id} and /api/webhooks/{id} beside this fazt's slugs and names."""

import pytest


@pytest.fixture
def server(shared_server):
    return shared_server


def test_redirect_tags_are_stored_listed_and_filtered(server, site_name):
    slug = f"{site_name}-t"
    body = {"slug": slug, "destination": "https://example.com/t", "tags": ["launch", "e mail"]}
    assert server.api("POST", "/api/redirects", json=body).status_code == 201
    plain = {"slug": f"{site_name}-p", "url": "https://example.com/p", "tags": ["launch"]}
    assert server.api("POST", "/api/redirects", json=plain).json()["data"]["tags"] == ["launch"]
    listed = {r["slug"]: r for r in server.api("GET", "/api/redirects").json()["data"]}
    assert listed[slug]["tags"] == ["launch", "e mail"]  # kept, not only echoed
    assert (listed[slug]["destination"], listed[slug]["click_count"]) == (
        "https://example.com/t",
        0,
    )
    email = server.api("GET", "/api/redirects", params={"tag": "e mail"}).json()["data"]
    assert [r["slug"] for r in email] == [slug]
    launch = server.api("GET", "/api/redirects", params={"tag": "launch"}).json()["data"]
    assert {slug, f"{site_name}-p"} <= {r["slug"] for r in launch}
    assert server.api("GET", "/api/redirects", params={"tag": "none-such"}).json()["data"] == []


@pytest.mark.parametrize("tags", [["a", "y" * 101], [1], "a,b", [str(i) for i in range(21)]])
def test_bad_tags_are_refused(server, site_name, tags):
    body = {"slug": site_name, "destination": "https://example.com/", "tags": tags}
    r = server.api("POST", "/api/redirects", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_REQUEST"
    assert server.get(f"/r/{site_name}").status_code == 404


def test_delete_redirect_by_v09_integer_id(server, site_name):
    made = server.api(
        "POST", "/api/redirects", json={"slug": site_name, "destination": "https://e.example/"}
    ).json()["data"]
    r = server.api("DELETE", f"/api/redirects/{made['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["slug"] == site_name
    assert server.get(f"/r/{site_name}").status_code == 404
    again = server.api("DELETE", f"/api/redirects/{made['id']}")
    assert again.status_code == 404 and again.json()["error"]["code"] == "REDIRECT_NOT_FOUND"
    huge = server.api("DELETE", "/api/redirects/" + "9" * 30)  # beyond SQLite's integers
    assert huge.status_code == 404 and huge.json()["error"]["code"] == "REDIRECT_NOT_FOUND"


def test_a_slug_that_is_a_number_wins_over_an_id(server, site_name):
    first = server.api(
        "POST", "/api/redirects", json={"slug": f"{site_name}a", "url": "https://e.example/a"}
    ).json()["data"]
    numeric = str(first["id"])
    server.api("POST", "/api/redirects", json={"slug": numeric, "url": "https://e.example/n"})
    try:
        assert server.api("DELETE", f"/api/redirects/{numeric}").json()["data"]["slug"] == numeric
        assert server.get(f"/r/{site_name}a").status_code == 302  # the id's redirect stays
    finally:
        server.api("DELETE", f"/api/redirects/{site_name}a")


def test_delete_webhook_by_v09_integer_id(server, site_name):
    body = {"name": "Deploy", "endpoint": site_name, "secret": "s3cret"}
    made = server.api("POST", "/api/webhooks", json=body).json()["data"]
    listed = {w["name"]: w for w in server.api("GET", "/api/webhooks").json()["data"]}
    assert listed[site_name]["id"] == made["id"]
    r = server.api("DELETE", f"/api/webhooks/{made['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["name"] == site_name
    assert server.request("POST", f"/webhook/{site_name}", content=b"{}").status_code == 404
    gone = server.api("DELETE", f"/api/webhooks/{made['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "WEBHOOK_NOT_FOUND"
    huge = server.api("DELETE", "/api/webhooks/" + "9" * 30)
    assert huge.status_code == 404 and huge.json()["error"]["code"] == "WEBHOOK_NOT_FOUND"
