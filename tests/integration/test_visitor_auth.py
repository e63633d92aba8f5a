"""Visitors sign in to apps (issue 21 item 1): a real fazt server and a real OpenID Connect
provider on loopback (tests/oidc_provider.py), the flow driven over HTTP hop by hop, so
that every cookie and redirect is checked."""

import json
import sqlite3
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import FaztServer, write_site
from tests.oidc_provider import OidcProvider

CLIENT_ID, CLIENT_SECRET = "fazt-test", "s3cret-value-never-shown"

APP = {
    "index.html": "<h1>app</h1>",
    "api/me.js": "module.exports = (req) =>"
    " ({ user: fazt.auth.user(), cookie: req.headers.cookie || '' });",
    "api/private.js": "module.exports = () =>"
    " { const u = fazt.auth.requireUser(); return {hi: u.email}; };",
    "api/admin.js": "module.exports = () =>"
    " { fazt.auth.requireRole('admin'); return {admin: true}; };",
    "api/later.js": "module.exports = async () => { fazt.auth.requireUser(); return {x: 1}; };",
}


@pytest.fixture
def server(shared_server):
    return shared_server


@pytest.fixture(scope="module")
def provider(shared_server):
    uris = {f"http://{s}.localhost/_fazt/auth/callback" for s in ("va", "vb")}
    with OidcProvider(CLIENT_ID, CLIENT_SECRET, uris) as p:
        r = shared_server.api(
            "POST",
            "/api/auth/providers",
            json={
                "name": "test",
                "issuer": p.issuer,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
        assert r.status_code in (200, 201), r.text
        yield p


@pytest.fixture(scope="module")
def sites(shared_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("visitor-sites")
    for site in ("va", "vb"):
        shared_server.deploy(write_site(root / site, APP), site)
    return "va.localhost", "vb.localhost"


def set_cookies(r: httpx.Response) -> dict[str, str]:
    """name -> the whole Set-Cookie line."""
    return {line.split("=", 1)[0]: line for line in r.headers.get_list("set-cookie")}


def cookie_value(line: str) -> str:
    return line.split(";", 1)[0].split("=", 1)[1]


def start(srv: FaztServer, host: str, next_path: str = "/") -> tuple[str, str]:
    """GET /_fazt/auth/login: the provider URL and the state cookie's value."""
    r = srv.get("/_fazt/auth/login", host=host, params={"provider": "test", "next": next_path})
    assert r.status_code == 303, r.text
    return r.headers["location"], cookie_value(set_cookies(r)["fazt_auth_state"])


def at_provider(url: str) -> str:
    """The provider consents: the callback path and query on the site."""
    r = httpx.get(url, timeout=10)
    assert r.status_code == 302, r.text
    parts = urlsplit(r.headers["location"])
    return f"{parts.path}?{parts.query}"


def finish(srv: FaztServer, host: str, callback: str, state_cookie: str) -> httpx.Response:
    return srv.get(callback, host=host, headers={"cookie": f"fazt_auth_state={state_cookie}"})


def sign_in(srv: FaztServer, host: str, next_path: str = "/") -> str:
    """The whole flow; the session cookie's value."""
    url, state = start(srv, host, next_path)
    r = finish(srv, host, at_provider(url), state)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == next_path
    return cookie_value(set_cookies(r)["fazt_visitor"])


def me(srv: FaztServer, host: str, token: str | None) -> dict:
    headers = {"cookie": f"other=1; fazt_visitor={token}"} if token else {}
    r = srv.get("/api/me", host=host, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_sign_in_end_to_end(server, provider, sites):
    host = sites[0]
    url, state = start(server, host, "/guestbook?x=1")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(provider.issuer + "/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == [CLIENT_ID]
    assert query["state"] == [state] and len(query["nonce"][0]) >= 32
    r = finish(server, host, at_provider(url), state)
    assert r.status_code == 303 and r.headers["location"] == "/guestbook?x=1"
    line = set_cookies(r)["fazt_visitor"]
    assert "HttpOnly" in line and "SameSite=Lax" in line and "Path=/" in line
    assert "domain" not in line.lower()  # host-only: a sibling site never gets it
    token = cookie_value(line)
    body = me(server, host, token)
    assert body["user"] == {
        "id": "test:alice-1",
        "email": "alice@example.test",
        "name": "Alice",
        "avatar": None,
        "provider": "test",
        "role": "user",
    }
    assert body["cookie"] == "other=1"  # the session token never reaches the app's code
    assert me(server, host, None)["user"] is None
    # the database keeps only a hash of the token
    conn = sqlite3.connect(server.db)
    try:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM visitor_sessions")]
    finally:
        conn.close()
    assert token not in stored and stored


def test_require_user_and_role_answer_401_and_403(server, provider, sites):
    host = sites[0]
    for path in ("/api/private", "/api/later"):
        r = server.get(path, host=host)
        assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
    token = sign_in(server, host)
    cookie = {"cookie": f"fazt_visitor={token}"}
    assert server.get("/api/private", host=host, headers=cookie).json() == {
        "hi": "alice@example.test"
    }
    r = server.get("/api/admin", host=host, headers=cookie)
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    r = server.api("PUT", "/api/apps/va/users/alice@example.test/role", json={"role": "admin"})
    assert r.status_code == 200 and r.json()["data"]["role"] == "admin"
    assert server.get("/api/admin", host=host, headers=cookie).json() == {"admin": True}
    users = server.api("GET", "/api/apps/va/users").json()["data"]["users"]
    assert [(u["id"], u["role"]) for u in users] == [("test:alice-1", "admin")]
    r = server.api("PUT", "/api/apps/va/users/nobody/role", json={"role": "admin"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "USER_NOT_FOUND"
    r = server.api("PUT", "/api/apps/va/users/test:alice-1/role", json={"role": "god"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_ROLE"


def test_a_sibling_site_never_sees_the_session(server, provider, sites):
    token = sign_in(server, sites[0])
    assert me(server, sites[0], token)["user"]["id"] == "test:alice-1"
    assert me(server, sites[1], token)["user"] is None  # the same cookie sent to site B
    r = server.get("/api/private", host=sites[1], headers={"cookie": f"fazt_visitor={token}"})
    assert r.status_code == 401


def test_state_must_match_this_browser_and_is_used_once(server, provider, sites):
    host = sites[0]
    url, state = start(server, host)
    callback = at_provider(url)
    r = finish(server, host, callback, "another-browsers-state")
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_STATE"
    assert "fazt_visitor" not in set_cookies(r)
    wrong = callback.replace(f"state={state}", "state=forged")
    r = finish(server, host, wrong, "forged")
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_STATE"
    # a state started on site A cannot finish on site B
    r = finish(server, sites[1], callback, state)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_STATE"


@pytest.mark.parametrize(
    "tamper",
    [
        {"claims": {"nonce": "not-this-sign-in"}},
        {"claims": {"exp": 1_000_000_000, "iat": 999_999_000}},
        {"claims": {"aud": "another-client"}},
        {"claims": {"iss": "http://127.0.0.1:1"}},
        {"other_key": True},
    ],
    ids=["nonce", "expired", "audience", "issuer", "other-key"],
)
def test_a_bad_id_token_opens_no_session(server, provider, sites, tamper):
    host = sites[0]
    url, state = start(server, host)
    provider.claims = tamper.get("claims", {})
    provider.sign_with_other_key = tamper.get("other_key", False)
    try:
        r = finish(server, host, at_provider(url), state)
    finally:
        provider.claims, provider.sign_with_other_key = {}, False
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "SIGN_IN_FAILED"
    assert "fazt_visitor" not in set_cookies(r)


@pytest.mark.parametrize(
    "bad",
    ["https://evil.test/", "//evil.test/x", "/\\evil.test", "http:/x", "javascript:1", "/a\r\nb"],
)
def test_next_must_be_a_path_of_this_site(server, provider, sites, bad):
    r = server.get("/_fazt/auth/login", host=sites[0], params={"provider": "test", "next": bad})
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_NEXT"


def test_logout_needs_post_with_the_csrf_token(server, provider, sites):
    host = sites[0]
    token = sign_in(server, host)
    cookie = f"fazt_visitor={token}"
    form = server.get("/_fazt/auth/logout", host=host, headers={"cookie": cookie})
    assert form.status_code == 200 and "method=post" in form.text
    csrf = form.text.split("name=csrf value='", 1)[1].split("'", 1)[0]
    origin = {"origin": f"http://{host}", "cookie": cookie}
    r = server.request("POST", "/_fazt/auth/logout", host=host, headers=origin, data={"csrf": "x"})
    assert r.status_code == 403 and me(server, host, token)["user"] is not None
    evil = {"origin": "http://evil.test", "cookie": cookie}
    r = server.request("POST", "/_fazt/auth/logout", host=host, headers=evil, data={"csrf": csrf})
    assert r.status_code == 403 and me(server, host, token)["user"] is not None
    r = server.request("POST", "/_fazt/auth/logout", host=host, headers=origin, data={"csrf": csrf})
    assert r.status_code == 303 and "Max-Age=0" in set_cookies(r)["fazt_visitor"]
    assert me(server, host, token)["user"] is None


def test_dev_provider_on_localhost_only(server, sites):
    host = sites[1]
    r = server.get("/_fazt/auth/login", host=host, params={"provider": "dev", "next": "/x"})
    assert r.status_code == 200 and "name=email" in r.text
    state = cookie_value(set_cookies(r)["fazt_auth_state"])
    form = {"state": state, "name": "Dev Dan", "email": "dan@dev.test"}
    r = server.request(
        "POST",
        "/_fazt/auth/dev",
        host=host,
        headers={"cookie": f"fazt_auth_state={state}"},
        data=form,
    )
    assert r.status_code == 303 and r.headers["location"] == "/x"
    token = cookie_value(set_cookies(r)["fazt_visitor"])
    assert me(server, host, token)["user"]["provider"] == "dev"
    # the same app under a real domain: the dev provider is refused there
    r = server.api("POST", "/api/domains", json={"domain": "vb-app.example.test", "site": "vb"})
    assert r.status_code == 201, r.text
    r = server.get("/_fazt/auth/login", host="vb-app.example.test", params={"provider": "dev"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "DEV_PROVIDER_LOCAL_ONLY"
    r = server.request("POST", "/_fazt/auth/dev", host="vb-app.example.test", data=form)
    assert r.status_code == 403


def test_providers_api_never_returns_the_secret(server, provider):
    r = server.api("GET", "/api/auth/providers")
    assert r.status_code == 200
    assert CLIENT_SECRET not in r.text
    assert [p["name"] for p in r.json()["data"]["providers"]] == ["test"]
    r = server.api("POST", "/api/auth/providers", json={"name": "Bad Name!", "issuer": "x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_PROVIDER"
    r = server.api(
        "POST",
        "/api/auth/providers",
        json={"name": "x", "issuer": "file:///etc", "client_id": "a", "client_secret": "b"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_PROVIDER"
    assert [
        p["name"] for p in server.api("GET", "/api/auth/providers").json()["data"]["providers"]
    ] == ["test"]
    assert json.dumps(r.json()).find(CLIENT_SECRET) == -1


def test_cli_providers_and_roles(server, provider, sites, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("cli-secret-from-a-file\n")
    out = server.cli(
        "auth", "provider", "add", "corp", "--issuer", provider.issuer + "/",
        "--client-id", "corp-id", "--client-secret-file", str(secret_file),
    ).stdout  # fmt: skip
    assert "provider 'corp' (oidc)" in out and "cli-secret" not in out
    listed = server.cli("auth", "provider", "list", "--json").stdout
    assert '"corp"' in listed and "cli-secret" not in listed
    refused = server.cli(
        "auth", "provider", "add", "x", "--issuer", provider.issuer, "--client-id", "i",
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "--client-secret-env" in refused.stderr
    server.cli("auth", "provider", "remove", "corp")
    assert '"corp"' not in server.cli("auth", "provider", "list", "--json").stdout
    sign_in(server, sites[1])
    out = server.cli("app", "users", "role", "vb", "test:alice-1", "owner").stdout
    assert "test:alice-1 is now owner" in out
    users = json.loads(server.cli("app", "users", "vb", "--json").stdout)["users"]
    assert {u["id"]: u["role"] for u in users}["test:alice-1"] == "owner"
    table = server.cli("app", "users", "vb").stdout
    assert "alice@example.test" in table and "owner" in table


def test_an_unverified_email_is_not_kept(server, provider, sites):
    provider.claims = {"email_verified": False, "email": "boss@corp.test"}
    try:
        token = sign_in(server, sites[0])
    finally:
        provider.claims = {}
    assert me(server, sites[0], token)["user"]["email"] is None
    r = server.api("PUT", "/api/apps/va/users/boss@corp.test/role", json={"role": "owner"})
    assert r.status_code == 404


def test_an_unreachable_provider_is_a_502(server, sites):
    from tests.conftest import free_port

    body = {
        "name": "down",
        "issuer": f"http://127.0.0.1:{free_port()}",
        "client_id": "a",
        "client_secret": "b",
    }
    assert server.api("POST", "/api/auth/providers", json=body).status_code == 201
    try:
        r = server.get("/_fazt/auth/login", host=sites[0], params={"provider": "down"})
        assert r.status_code == 502 and r.json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    finally:
        server.api("DELETE", "/api/auth/providers/down")


def test_github_sign_in(server, sites):
    from tests.github_fake import FakeGitHub

    with FakeGitHub("gh-client", "gh-secret") as gh:
        body = {
            "name": "gh",
            "kind": "github",
            "issuer": gh.url,  # a GitHub Enterprise Server's layout
            "client_id": "gh-client",
            "client_secret": "gh-secret",
        }
        assert server.api("POST", "/api/auth/providers", json=body).status_code == 201
        try:
            host = sites[1]
            r = server.get("/_fazt/auth/login", host=host, params={"provider": "gh"})
            assert r.status_code == 303 and r.headers["location"].startswith(gh.url)
            state = cookie_value(set_cookies(r)["fazt_auth_state"])
            r = finish(server, host, at_provider(r.headers["location"]), state)
            assert r.status_code == 303, r.text
            user = me(server, host, cookie_value(set_cookies(r)["fazt_visitor"]))["user"]
            assert user == {
                "id": "gh:42",
                "email": "octo@example.test",  # the verified primary, never the unverified
                "name": "octo",
                "avatar": "http://a/o.png",
                "provider": "gh",
                "role": "user",
            }
            # a code GitHub refuses opens no session
            r = server.get("/_fazt/auth/login", host=host, params={"provider": "gh"})
            state = cookie_value(set_cookies(r)["fazt_auth_state"])
            callback = at_provider(r.headers["location"])
            gh.client_secret = "rotated"
            r = finish(server, host, callback, state)
            assert r.status_code == 400 and r.json()["error"]["code"] == "SIGN_IN_FAILED"
            assert "fazt_visitor" not in set_cookies(r)
        finally:
            server.api("DELETE", "/api/auth/providers/gh")


def test_google_and_github_presets_need_no_issuer(server):
    for kind, issuer in [
        ("google", "https://accounts.google.com"),
        ("github", "https://github.com"),
    ]:
        body = {"name": f"p-{kind}", "kind": kind, "client_id": "id", "client_secret": "s"}
        r = server.api("POST", "/api/auth/providers", json=body)
        assert r.status_code == 201 and r.json()["data"]["issuer"] == issuer, r.text
        assert server.api("DELETE", f"/api/auth/providers/p-{kind}").status_code == 200
    body = {"name": "p-x", "kind": "saml", "client_id": "id", "client_secret": "s"}
    r = server.api("POST", "/api/auth/providers", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_PROVIDER"
