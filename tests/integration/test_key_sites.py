"""API keys limited to named sites: every API route, called with a key limited to site `a`,
refuses site `b`'s objects and serves `a`'s; server-wide routes refuse the key outright.

The table below must name every API route of fazt.server.routes (a test checks it), so a new
route cannot be added without deciding what a site-limited key gets from it.
"""

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from fazt.hosting import blobframes
from fazt.server.routes import API_ROUTES, V09_ROUTES
from tests.conftest import FaztServer, running_server, write_site
from tests.integration.test_auth_sessions import Browser

# What a request is: (method, path, httpx keyword arguments), built from the world.
Call = Callable[[dict], tuple[str, dict]]


@dataclass
class World:
    srv: FaztServer
    limited: str  # admin+deploy scopes, limited to site "a"
    ids: dict


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("key-sites")
    with running_server(home / "home") as srv:
        ids: dict = {}
        for site in ("a", "b"):
            first = srv.deploy(write_site(home / f"{site}1", {"index.html": f"{site} v1"}), site)
            second = srv.deploy(write_site(home / f"{site}2", {"index.html": f"{site} v2"}), site)
            ids[f"{site}_old"] = first["deployment_id"]
            ids[f"{site}_live"] = second["deployment_id"]
            for domain in (f"{site}.example.org", f"{site}-2.example.org"):
                r = srv.api("POST", "/api/domains", json={"domain": domain, "site": site})
                assert r.status_code == 201, r.text
            r = srv.api("PUT", f"/api/apps/{site}/env/SECRET", json={"value": f"{site}-secret"})
            assert r.status_code == 201, r.text
            r = srv.api("PUT", f"/api/apps/{site}/net/old.example.com", json={"rule": "deny"})
            assert r.status_code == 201, r.text
            # A pending deployment of each site (for finalize by id).
            blob = f"pending {site}".encode()
            sha = hashlib.sha256(blob).hexdigest()
            assert srv.api("PUT", f"/api/blobs/{sha}", content=blob).status_code in (200, 201)
            files = [{"path": "index.html", "sha256": sha, "size": len(blob)}]
            r = srv.api("POST", f"/api/apps/{site}/deployments", json={"files": files})
            ids[f"{site}_pending"] = r.json()["data"]["deployment_id"]
            # An upload in progress of each site (for the /api/uploads/{id} routes).
            body = {"site": site, "sha256": _upload_sha(site), "size": len(UPLOAD)}
            r = srv.api("POST", "/api/uploads", json=body)
            assert r.status_code == 201, r.text
            ids[f"{site}_upload"] = r.json()["data"]["id"]
        r = srv.api(
            "POST",
            "/api/keys",
            json={"name": "ci-a", "scopes": ["admin", "deploy"], "sites": ["a"]},
        )
        assert r.status_code == 201, r.text
        assert r.json()["data"]["sites"] == ["a"]
        yield World(srv, r.json()["data"]["token"], ids)


def _zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.html", text)
    return buf.getvalue()


def _zip_deploy(site: str) -> Call:
    return lambda ids: (
        "/api/deploy",
        {"files": {"file": ("site.zip", _zip(f"zip {site}"))}, "data": {"site_name": site}},
    )


def _start(site: str) -> Call:
    blob = b"incremental"
    files = [{"path": "i.html", "sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}]
    return lambda ids: (f"/api/apps/{site}/deployments", {"json": {"files": files}})


def _path(template: str, **extra) -> Call:
    return lambda ids: (template.format(**ids), extra)


BLOB = b"a blob owned by no site"
UPLOAD = b"uploaded"


def _upload_sha(site: str) -> str:
    return hashlib.sha256(UPLOAD + site.encode()).hexdigest()  # never matches: stays open


def _upload_start(site: str) -> Call:
    body = {"site": site, "sha256": _upload_sha(site), "size": len(UPLOAD)}
    return lambda ids: ("/api/uploads", {"json": body})


BLOB_SHA = hashlib.sha256(BLOB).hexdigest()


@dataclass
class Case:
    method: str
    route: str  # the pattern as declared in routes.py
    other: Call | None  # on site b's object: must be refused
    own: Call | None  # on site a's object: must succeed
    refused: tuple[int, str] = (403, "FORBIDDEN_SITE")


NOT_FOUND_DEP = (404, "DEPLOYMENT_NOT_FOUND")

# Routes taking a site (by name) or an id of a site-owned object.
PER_SITE_CASES = [
    Case("POST", "/api/deploy", _zip_deploy("b"), _zip_deploy("a")),
    Case("POST", "/api/apps/{name}/deployments", _start("b"), _start("a")),
    Case("POST", "/api/uploads", _upload_start("b"), _upload_start("a")),
    Case(
        "GET",
        "/api/uploads/{upload_id}",
        _path("/api/uploads/{b_upload}"),
        _path("/api/uploads/{a_upload}"),
        (404, "UPLOAD_NOT_FOUND"),
    ),
    Case(
        "PUT",
        "/api/uploads/{upload_id}",
        _path("/api/uploads/{b_upload}", content=b"u", headers={"content-range": "bytes 0-0/8"}),
        _path("/api/uploads/{a_upload}", content=b"u", headers={"content-range": "bytes 0-0/8"}),
        (404, "UPLOAD_NOT_FOUND"),
    ),
    Case(
        "POST",
        "/api/deployments/{deployment_id}/finalize",
        _path("/api/deployments/{b_pending}/finalize", json={"preview": True}),
        _path("/api/deployments/{a_pending}/finalize", json={"preview": True}),
        NOT_FOUND_DEP,  # an id: another site's looks absent
    ),
    Case("GET", "/api/apps/{name}", _path("/api/apps/b"), _path("/api/apps/a")),
    Case(
        "PATCH",
        "/api/apps/{name}",
        _path("/api/apps/b", json={"previews": False}),
        _path("/api/apps/a", json={"previews": True}),
    ),
    Case(
        "GET",
        "/api/apps/{name}/deployments",
        _path("/api/apps/b/deployments"),
        _path("/api/apps/a/deployments"),
    ),
    Case(
        "GET",
        "/api/apps/{name}/files",
        _path("/api/apps/b/files"),
        _path("/api/apps/a/files?deployment={a_old}"),
    ),
    Case(
        "GET",
        "/api/apps/{name}/files",
        _path("/api/apps/a/files?deployment={b_old}"),  # b's deployment through a's name
        None,
        (404, "DEPLOYMENT_NOT_FOUND"),
    ),
    Case(
        "POST",
        "/api/apps/{name}/rollback",
        _path("/api/apps/b/rollback"),
        _path("/api/apps/a/rollback"),
    ),
    Case(
        "POST",
        "/api/apps/{name}/promote",
        _path("/api/apps/b/promote", json={"deployment_id": 0}),
        _path("/api/apps/a/promote", json={"deployment_id": 0}),
    ),
    Case(
        "POST",
        "/api/apps/{name}/promote",
        lambda ids: ("/api/apps/a/promote", {"json": {"deployment_id": ids["b_old"]}}),
        lambda ids: ("/api/apps/a/promote", {"json": {"deployment_id": ids["a_live"]}}),
        NOT_FOUND_DEP,
    ),
    Case(
        "GET",
        "/api/apps/{name}/storage",
        _path("/api/apps/b/storage"),
        _path("/api/apps/a/storage"),
    ),
    Case(
        "GET",
        "/api/apps/{name}/storage/kv",
        _path("/api/apps/b/storage/kv"),
        _path("/api/apps/a/storage/kv"),
    ),
    Case(
        "GET",
        "/api/apps/{name}/storage/collections/{collection}",
        _path("/api/apps/b/storage/collections/posts"),
        _path("/api/apps/a/storage/collections/posts"),
    ),
    Case(
        "GET",
        "/api/apps/{name}/storage/objects",
        _path("/api/apps/b/storage/objects"),
        _path("/api/apps/a/storage/objects"),
    ),
    Case("GET", "/api/apps/{name}/env", _path("/api/apps/b/env"), _path("/api/apps/a/env")),
    Case(
        "PUT",
        "/api/apps/{name}/env/{env}",
        _path("/api/apps/b/env/NEW", json={"value": "x"}),
        _path("/api/apps/a/env/NEW", json={"value": "x"}),
    ),
    Case(
        "DELETE",
        "/api/apps/{name}/env/{env}",
        _path("/api/apps/b/env/SECRET"),
        _path("/api/apps/a/env/SECRET"),
    ),
    Case("GET", "/api/apps/{name}/logs", _path("/api/apps/b/logs"), _path("/api/apps/a/logs")),
    Case("GET", "/api/apps/{name}/net", _path("/api/apps/b/net"), _path("/api/apps/a/net")),
    Case(
        "PUT",
        "/api/apps/{name}/net/{host}",
        _path("/api/apps/b/net/api.example.com", json={"rule": "allow"}),
        _path("/api/apps/a/net/api.example.com", json={"rule": "allow"}),
    ),
    Case(
        "DELETE",
        "/api/apps/{name}/net/{host}",
        _path("/api/apps/b/net/old.example.com"),
        _path("/api/apps/a/net/old.example.com"),
    ),
    Case("GET", "/api/apps/{name}/jobs", _path("/api/apps/b/jobs"), _path("/api/apps/a/jobs")),
    # (site a has no jobs: a run of its own would be a 404; b's is refused before that)
    Case("POST", "/api/apps/{name}/jobs/{job}/run", _path("/api/apps/b/jobs/x/run"), None),
    Case("GET", "/api/apps/{name}/users", _path("/api/apps/b/users"), _path("/api/apps/a/users")),
    # (site a has no signed-in users: a role change of its own would be a 404)
    Case(
        "PUT",
        "/api/apps/{name}/users/{user}/role",
        _path("/api/apps/b/users/dev:x@y/role", json={"role": "admin"}),
        None,
    ),
    # (site a has no signed-in users either: its own would be 404 USER_NOT_FOUND)
    Case("GET", "/api/apps/{name}/users/{user}/data", _path("/api/apps/b/users/x/data"), None),
    Case("DELETE", "/api/apps/{name}/users/{user}/data", _path("/api/apps/b/users/x/data"), None),
    Case("DELETE", "/api/apps/{name}/users/{user}", _path("/api/apps/b/users/x"), None),
    Case(
        "POST",
        "/api/domains",
        _path("/api/domains", json={"domain": "new-b.example.net", "site": "b"}),
        _path("/api/domains", json={"domain": "new-a.example.net", "site": "a"}),
    ),
    Case(
        "DELETE",
        "/api/domains/{domain}",
        _path("/api/domains/b.example.org"),
        _path("/api/domains/a.example.org"),
        (404, "DOMAIN_NOT_FOUND"),  # a domain names another site's object: looks absent
    ),
    Case("GET", "/api/analytics", _path("/api/analytics?site=b"), _path("/api/analytics?site=a")),
    Case("GET", "/api/analytics", _path("/api/analytics"), None),  # every site at once
    # Listings: nothing to refuse, they are filtered (test_listings_show_only_the_keys_sites).
    Case("GET", "/api/apps", None, _path("/api/apps")),
    Case("GET", "/api/domains", None, _path("/api/domains")),
    Case("GET", "/api/analytics/sites", None, _path("/api/analytics/sites")),
    # Blobs are content-addressed and owned by no site: a deploy needs to upload them.
    Case("PUT", "/api/blobs/{sha256}", None, _path(f"/api/blobs/{BLOB_SHA}", content=BLOB)),
    Case(
        "POST", "/api/blobs", None, _path("/api/blobs", content=blobframes.encode(BLOB_SHA, BLOB))
    ),
    Case("GET", "/health", None, _path("/health")),
    # fazt v0.9's paths (V09_ROUTES, api/v09_routes.py).
    Case("GET", "/api/system/health", None, _path("/api/system/health")),
    Case("GET", "/api/sites", None, _path("/api/sites")),
    Case("DELETE", "/api/sites", _path("/api/sites?site_id=b"), None),
    Case("GET", "/api/sites/{site_id}", _path("/api/sites/b"), _path("/api/sites/a")),
    Case("DELETE", "/api/sites/{site_id}", _path("/api/sites/b"), None),
    Case(
        "GET",
        "/api/sites/{site_id}/files",
        _path("/api/sites/b/files"),
        _path("/api/sites/a/files"),
    ),
    Case(
        "GET",
        "/api/sites/{site_id}/files/{path:path}",
        _path("/api/sites/b/files/index.html"),
        _path("/api/sites/a/files/index.html"),
    ),
    Case("GET", "/api/deployments", None, _path("/api/deployments")),
    Case("GET", "/api/envvars", _path("/api/envvars?site_id=b"), _path("/api/envvars?site_id=a")),
    Case(
        "POST",
        "/api/envvars",
        _path("/api/envvars", json={"site_id": "b", "name": "NEW", "value": "x"}),
        _path("/api/envvars", json={"site_id": "a", "name": "NEW", "value": "x"}),
    ),
    Case(
        "DELETE",
        "/api/envvars",
        _path("/api/envvars?id=b:SECRET"),
        _path("/api/envvars?id=a:NEW"),
    ),
    Case("GET", "/api/logs", _path("/api/logs?site_id=b"), _path("/api/logs?site_id=a")),
    Case(
        "POST",
        "/api/login",
        None,
        _path("/api/login", json={"username": "admin", "password": "longenough1"}),
    ),
    Case("POST", "/api/logout", None, _path("/api/logout")),
    Case("GET", "/api/auth/status", None, _path("/api/auth/status")),
    Case("GET", "/api/user/me", None, None),  # the session cookie only (no key)
    Case("POST", "/mcp/initialize", None, None),  # not provided: 404 NOT_PROVIDED
    Case("POST", "/mcp/tools/list", None, None),
    Case("POST", "/mcp/tools/call", None, None),
    # Last: it deletes site a.
    Case("DELETE", "/api/apps/{name}", _path("/api/apps/b"), _path("/api/apps/a")),
]

# Server-wide routes: refused to a site-limited key whatever its scopes. `own` here is the
# same request with an unlimited admin key, which the route must not refuse (so the
# refusal comes from the site limit); chosen so that it changes nothing important.
SERVER_WIDE_CASES = [
    Case("GET", "/api/backups", _path("/api/backups"), None),
    Case("POST", "/api/backups", _path("/api/backups"), None),
    Case("GET", "/api/backups/{file}", _path("/api/backups/none.db"), None),
    Case("POST", "/api/backups/{file}/verify", _path("/api/backups/none.db/verify"), None),
    Case("POST", "/api/backups/{file}/restore", _path("/api/backups/none.db/restore"), None),
    Case("GET", "/api/keys", _path("/api/keys"), None),
    Case("POST", "/api/keys", _path("/api/keys", json={"name": "more", "scopes": ["nope"]}), None),
    Case("DELETE", "/api/keys/{key_id}", _path("/api/keys/999999"), None),
    Case("GET", "/api/system", _path("/api/system"), None),
    Case("GET", "/api/sessions", _path("/api/sessions"), None),
    Case("DELETE", "/api/sessions", _path("/api/sessions"), None),
    Case("GET", "/api/analytics/requests", _path("/api/analytics/requests"), None),
    Case("GET", "/api/redirects", _path("/api/redirects"), None),
    Case(
        "POST",
        "/api/redirects",
        _path("/api/redirects", json={"slug": "x", "url": "https://e.org/"}),
        None,
    ),
    Case("DELETE", "/api/redirects/{slug}", _path("/api/redirects/x"), None),
    Case("GET", "/api/webhooks", _path("/api/webhooks"), None),
    Case("POST", "/api/webhooks", _path("/api/webhooks", json={"name": "hook"}), None),
    Case("DELETE", "/api/webhooks/{name}", _path("/api/webhooks/hook"), None),
    Case("GET", "/api/webhook-events", _path("/api/webhook-events"), None),
    Case("POST", "/api/upgrade", _path("/api/upgrade?check=true", json={"url": 5}), None),
    Case("GET", "/api/upgrade/{upgrade_id}", _path("/api/upgrade/1"), None),
    Case("GET", "/api/certificates", _path("/api/certificates"), None),
    Case("GET", "/api/system/limits", _path("/api/system/limits"), None),
    Case("GET", "/api/system/cache", _path("/api/system/cache"), None),
    Case("GET", "/api/system/db", _path("/api/system/db"), None),
    Case("GET", "/api/system/config", _path("/api/system/config"), None),
    Case("GET", "/api/config", _path("/api/config"), None),
    Case("GET", "/api/stats", _path("/api/stats"), None),
    Case("GET", "/api/events", _path("/api/events"), None),
    Case("GET", "/api/tags", _path("/api/tags"), None),
    Case("GET", "/api/auth/providers", _path("/api/auth/providers"), None),
    Case("POST", "/api/auth/providers", _path("/api/auth/providers", json={}), None),
    Case("DELETE", "/api/auth/providers/{name}", _path("/api/auth/providers/x"), None),
]


def test_the_table_covers_every_route():
    """Every API route is in this file's table, on the side the route table declares."""
    declared = {(m, path): per_site for m, path, _, _, per_site in API_ROUTES + V09_ROUTES}
    tabled = {(c.method, c.route): True for c in PER_SITE_CASES}
    tabled |= {(c.method, c.route): False for c in SERVER_WIDE_CASES}
    assert set(declared) - set(tabled) == set(), "add the new route to this table"
    assert set(tabled) - set(declared) == set()
    assert {r for r, per_site in declared.items() if per_site != tabled[r]} == set()


def test_listings_show_only_the_keys_sites(world):
    srv, token = world.srv, world.limited
    everything = {a["name"] for a in srv.api("GET", "/api/apps").json()["data"]}
    assert {"a", "b", "root", "404"} <= everything
    apps = srv.api("GET", "/api/apps", token=token).json()["data"]
    assert [a["name"] for a in apps] == ["a"]
    domains = srv.api("GET", "/api/domains", token=token).json()["data"]
    assert sorted(d["domain"] for d in domains) == ["a-2.example.org", "a.example.org"]
    sites = srv.api("GET", "/api/analytics/sites", token=token).json()["data"]
    assert all(s["site"] == "a" for s in sites)
    v09_sites = srv.api("GET", "/api/sites", token=token).json()["data"]
    assert [s["Name"] for s in v09_sites] == ["a"]
    deps = srv.api("GET", "/api/deployments", token=token).json()["data"]["deployments"]
    assert {d["site_id"] for d in deps} == {"a"}


def _send(w: World, call: Call, token: str, method: str):
    path, kw = call(w.ids)
    return w.srv.api(method, path, token=token, **kw)


@pytest.mark.parametrize(
    "case", PER_SITE_CASES, ids=[f"{c.method} {c.route}" for c in PER_SITE_CASES]
)
def test_site_limited_key_on_each_per_site_route(world, case):
    if case.other is not None:
        r = _send(world, case.other, world.limited, case.method)
        assert (r.status_code, r.json()["error"]["code"]) == case.refused, r.text
        assert "b-secret" not in r.text
    if case.own is not None:
        r = _send(world, case.own, world.limited, case.method)
        if (
            "promote" in case.route
            and r.json().get("error", {}).get("code") == "DEPLOYMENT_NOT_FOUND"
        ):
            # deployment_id 0 exists nowhere: a's name was accepted, the id was not.
            assert "'a' has no deployment 0" in r.text
        else:
            assert r.status_code in (200, 201), r.text


@pytest.mark.parametrize(
    "case", SERVER_WIDE_CASES, ids=[f"{c.method} {c.route}" for c in SERVER_WIDE_CASES]
)
def test_site_limited_key_is_refused_on_server_wide_routes(world, case):
    r = _send(world, case.other, world.limited, case.method)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "FORBIDDEN_SITE"
    # The same request with an unlimited admin key reaches the handler.
    r = _send(world, case.other, world.srv.token, case.method)
    assert r.status_code != 403, r.text


def test_refusals_changed_nothing_of_site_b(world):
    srv = world.srv
    assert srv.get("/", host="b.localhost").text == "b v2"  # no rollback, no deploy
    assert srv.api("GET", "/api/apps/b").json()["data"]["previews"] is True
    env = srv.api("GET", "/api/apps/b/env").json()["data"]
    assert [e["name"] for e in env] == ["SECRET"]
    domains = {d["domain"] for d in srv.api("GET", "/api/domains").json()["data"]}
    assert {"b.example.org", "b-2.example.org"} <= domains and "new-b.example.net" not in domains
    history = srv.api("GET", "/api/apps/b/deployments").json()["data"]
    # Not finalized (history lists ready deployments only), not live.
    assert [d["id"] for d in history] == [world.ids["b_live"], world.ids["b_old"]]


def test_keys_with_sites_through_api_cli_and_listing(world):
    srv = world.srv
    out = srv.cli("key", "create", "ci", "--scopes", "deploy", "--sites", "blog,docs", "--json")
    created = json.loads(out.stdout)
    assert created["sites"] == ["blog", "docs"]
    listed = {k["name"]: k for k in json.loads(srv.cli("key", "list", "--json").stdout)}
    assert listed["ci"]["sites"] == ["blog", "docs"] and listed["ci-a"]["sites"] == ["a"]
    assert listed["local-cli"]["sites"] is None  # every site
    table = srv.cli("key", "list").stdout
    assert "blog,docs" in table and "sites" in table
    # The key deploys to its site with the normal CLI (incremental protocol) ...
    site = write_site(srv.home / "blog-site", {"index.html": "blog"})
    r = srv.cli(
        "deploy", str(site), "--site", "blog", "--token", created["token"], "--url", srv.url
    )
    assert srv.get("/", host="blog.localhost").text == "blog", r.stderr
    # ... and nowhere else.
    r = srv.cli(
        "deploy",
        str(site),
        "--site",
        "other",
        "--token",
        created["token"],
        "--url",
        srv.url,
        check=False,
    )
    assert r.returncode != 0 and "FORBIDDEN_SITE" in r.stderr
    assert srv.get("/", host="other.localhost").status_code == 404


@pytest.mark.parametrize(
    ("sites", "message"),
    [
        ([], "at least one site"),
        (["Bad_Name"], "site 'bad_name'"),
        (["admin"], "reserved"),
        (["ok", 5], "list of site names"),
        ({"a": 1}, "list of site names"),
    ],
)
def test_bad_site_lists_are_refused_and_create_nothing(world, sites, message):
    srv = world.srv
    before = len(srv.api("GET", "/api/keys").json()["data"])
    r = srv.api("POST", "/api/keys", json={"name": "bad", "scopes": ["deploy"], "sites": sites})
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_REQUEST"
    assert message in r.json()["error"]["message"]
    assert len(srv.api("GET", "/api/keys").json()["data"]) == before


def test_cli_refuses_a_bad_site_name_before_calling_the_server(world):
    r = world.srv.cli("key", "create", "x", "--sites", "no--dashes", check=False)
    assert r.returncode != 0 and "'--'" in r.stderr


def test_dashboard_creates_a_site_limited_key_and_lists_its_sites(world):
    srv = world.srv
    b = Browser(srv)
    try:
        assert b.login().status_code == 303
        form = {
            "csrf_token": b.csrf("/keys"),
            "name": "agent",
            "scopes": "deploy",
            "sites": "docs, blog",
        }
        r = b.post("/keys", form)
        assert r.status_code == 201, r.text
        row = next(k for k in srv.api("GET", "/api/keys").json()["data"] if k["name"] == "agent")
        assert row["sites"] == ["blog", "docs"]
        page = b.get("/keys").text
        assert '<td class="sites">blog, docs</td>' in page
        assert '<td class="sites">all</td>' in page  # the local key
        bad = b.post("/keys", {**form, "name": "agent2", "sites": "Not a site"})
        assert bad.status_code == 400
        assert "agent2" not in {k["name"] for k in srv.api("GET", "/api/keys").json()["data"]}
    finally:
        b.close()


def test_server_create_key_takes_sites_too(world):
    srv = world.srv
    token = srv.cli(
        "server", "create-key", "--name", "boot", "--sites", "docs", "--db", str(srv.db)
    ).stdout.strip()
    row = next(k for k in srv.api("GET", "/api/keys").json()["data"] if k["name"] == "boot")
    assert row["sites"] == ["docs"] and row["scopes"] == ["deploy"]
    r = srv.api("GET", "/api/apps/b", token=token)
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN_SITE"
    bad = srv.cli(
        "server", "create-key", "--name", "x", "--sites", "", "--db", str(srv.db), check=False
    )
    assert bad.returncode != 0 and "at least one site" in bad.stderr
