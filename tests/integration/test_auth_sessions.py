"""Dashboard login: sessions in the database, cookie flags, logout, CSRF, brute force."""

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
import pytest

from tests.conftest import FaztServer, running_server, wait_for

PASSWORD = "longenough1"  # what init_server sets for the user `admin`


class Browser:
    """Talks to a server's dashboard like a browser on http://localhost:<port>, with one
    explicit session cookie (httpx's own cookie jar is disabled so nothing leaks between
    "browsers")."""

    def __init__(self, srv: FaztServer, host: str = "localhost") -> None:
        self.srv = srv
        self.host = f"{host}:{srv.port}"
        self.origin = f"http://{self.host}"
        self.cookie: str | None = None
        self.http = httpx.Client(
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])), timeout=30
        )

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, headers: dict | None = None, **kw):
        sent = {"host": self.host, **(headers or {})}
        if self.cookie:
            sent["cookie"] = f"fazt_session={self.cookie}"
        return self.http.request(method, self.srv.url + path, headers=sent, **kw)

    def get(self, path: str, **kw) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, data: dict | None = None, origin: str | None = "", **kw):
        """A form POST; the Origin header is ours unless given (None: no Origin at all)."""
        headers = kw.pop("headers", {})
        origin = self.origin if origin == "" else origin
        if origin is not None:
            headers["origin"] = origin
        return self.request("POST", path, headers=headers, data=data or {}, **kw)

    def login(self, password: str = PASSWORD, username: str = "admin", **kw) -> httpx.Response:
        r = self.post("/login", {"username": username, "password": password, "next": "/"}, **kw)
        match = re.search(r"fazt_session=([^;]*)", r.headers.get("set-cookie", ""))
        if r.status_code == 303 and match:
            self.cookie = match.group(1)
        return r

    def csrf(self, path: str = "/settings") -> str:
        page = self.get(path)
        assert page.status_code == 200, page.text
        return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    with running_server(tmp_path_factory.mktemp("auth") / "home") as s:
        yield s


@pytest.fixture
def browser(srv) -> Iterator[Browser]:
    b = Browser(srv)
    yield b
    b.close()


def logged_in(srv: FaztServer) -> Browser:
    b = Browser(srv)
    assert b.login().status_code == 303
    return b


def key_names(srv: FaztServer) -> set[str]:
    return {k["name"] for k in srv.api("GET", "/api/keys").json()["data"]}


# -- login, cookie, logout ----------------------------------------------------------------


def test_login_sets_a_hardened_cookie_and_stores_only_a_hash(srv, browser):
    r = browser.login()
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "SameSite=Lax" in cookie and "Max-Age=604800" in cookie
    assert "secure" not in attributes  # plain HTTP here; see the HTTPS test below
    assert "domain" not in attributes  # host-only: sibling subdomains never receive it
    conn = sqlite3.connect(srv.db)
    try:
        hashes = {row[0] for row in conn.execute("SELECT token_hash FROM sessions")}
    finally:
        conn.close()
    assert hashlib.sha256(browser.cookie.encode()).hexdigest() in hashes
    assert browser.cookie not in hashes
    page = browser.get("/")
    assert page.status_code == 200 and "Overview" in page.text
    assert page.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("username", "password"), [("admin", "wrong-password"), ("nobody", PASSWORD)]
)
def test_bad_credentials_get_401_and_no_cookie(srv, browser, username, password):
    r = browser.login(password, username)
    assert r.status_code == 401
    assert "set-cookie" not in r.headers
    assert "Wrong username or password" in r.text


def test_pages_need_a_session(srv, browser):
    r = browser.get("/apps")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/apps"
    home = browser.get("/")  # the home page is the login form
    assert home.status_code == 200 and 'action="/login"' in home.text
    browser.cookie = "not-a-session"
    assert browser.get("/keys").status_code == 303
    assert browser.post("/keys", {"name": "x"}).status_code == 303
    assert "x" not in key_names(srv)


def test_a_cookie_planted_by_a_sibling_subdomain_does_not_hide_ours(srv):
    """evil.<domain> can set `fazt_session=junk; Domain=<domain>`, which browsers then
    send to the dashboard too, often before the real one."""
    b = logged_in(srv)
    real = b.cookie
    b.cookie = f"junk; fazt_session={real}"
    assert b.get("/apps").status_code == 200
    r = b.request("POST", "/api/keys", json={"name": "planted"}, headers={"origin": b.origin})
    assert r.status_code == 403  # still needs the CSRF token, of course


def test_login_redirects_only_to_local_paths(srv, browser):
    cases = [
        ("/apps", "/apps"),
        ("//evil.example/", "/"),
        ("https://e.x", "/"),
        ("/\\evil.example", "/"),
        ("/apps\r\nset-cookie: x=1", "/"),
    ]
    for target, expected in cases:
        r = browser.post("/login", {"username": "admin", "password": PASSWORD, "next": target})
        assert r.status_code == 303 and r.headers["location"] == expected


def test_logout_ends_the_session(srv):
    b = logged_in(srv)
    old = b.cookie
    r = b.post("/logout", {"csrf_token": b.csrf()})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "Max-Age=0" in r.headers["set-cookie"]
    b.cookie = old  # a copy of the old cookie is worthless now
    assert b.get("/apps").status_code == 303


def test_log_out_everywhere_ends_every_session(srv):
    laptop, phone = logged_in(srv), logged_in(srv)
    assert laptop.get("/apps").status_code == phone.get("/apps").status_code == 200
    r = phone.post("/logout-all", {"csrf_token": phone.csrf()})
    assert r.status_code == 303
    assert laptop.get("/apps").status_code == 303
    assert phone.get("/apps").status_code == 303


def test_cookie_lifetime_slides_with_the_session(srv):
    b = logged_in(srv)
    assert "set-cookie" not in b.get("/apps").headers  # fresh: nothing to extend yet
    conn = sqlite3.connect(srv.db)
    try:
        with conn:  # pretend the last use was two minutes ago
            conn.execute(
                "UPDATE sessions SET last_seen_at = '2000-01-01T00:00:00.000000Z',"
                " expires_at = '2999-01-01T00:00:00.000000Z' WHERE token_hash = ?",
                (hashlib.sha256(b.cookie.encode()).hexdigest(),),
            )
    finally:
        conn.close()
    r = b.get("/apps")
    assert r.status_code == 200
    # The idle lifetime, cut short by the absolute one (both 7 days by default).
    cookie = re.fullmatch(
        rf"fazt_session={b.cookie}; Path=/; Max-Age=(\d+); HttpOnly; SameSite=Lax",
        r.headers["set-cookie"],
    )
    assert cookie and 604800 - 60 < int(cookie.group(1)) <= 604800

    def slid() -> bool:
        conn = sqlite3.connect(srv.db)
        try:
            row = conn.execute(
                "SELECT expires_at FROM sessions WHERE token_hash = ?",
                (hashlib.sha256(b.cookie.encode()).hexdigest(),),
            ).fetchone()
        finally:
            conn.close()
        return row[0] < "2999"  # now + 7 days, written off the request path

    wait_for(slid, what="the sliding expiry to be written")


def test_session_survives_a_restart(tmp_path):
    with running_server(tmp_path / "home") as srv:
        b = logged_in(srv)
        assert b.get("/apps").status_code == 200
        srv.stop()
        srv.start()
        assert b.get("/apps").status_code == 200


def test_idle_sessions_expire_after_the_configured_ttl(tmp_path):
    with running_server(tmp_path / "home", {"session_ttl_seconds": "2"}) as srv:
        b = logged_in(srv)
        assert "Max-Age=2" in b.login().headers["set-cookie"]
        wait_for(lambda: b.get("/apps").status_code == 303, 10, 0.5, what="session expiry")


# -- CSRF ---------------------------------------------------------------------------------


def test_state_changes_need_the_csrf_token(srv):
    b = logged_in(srv)
    token = b.csrf()
    assert b.post("/keys", {"name": "no-token"}).status_code == 403
    assert b.post("/keys", {"name": "wrong-token", "csrf_token": "x" + token}).status_code == 403
    other = logged_in(srv)  # another session's token is no good either
    assert b.post("/keys", {"name": "other", "csrf_token": other.csrf()}).status_code == 403
    assert not {"no-token", "wrong-token", "other"} & key_names(srv)
    r = b.post("/keys", {"name": "with-token", "scopes": "deploy", "csrf_token": token})
    assert r.status_code == 201, r.text
    assert "with-token" in key_names(srv)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.localhost:{port}"},  # a user site: same *site*, other origin
        {"origin": "http://admin.localhost.evil.example:{port}"},
        {"origin": "null"},
        {"referer": "http://evil.localhost:{port}/attack.html"},
        {"origin": "http://localhost:{port}.evil.example"},
    ],
)
def test_requests_from_a_sibling_subdomain_are_refused(srv, headers):
    """A page on evil.localhost is same-site with the dashboard, so the browser sends the
    SameSite=Lax cookie with its form POST: only the origin check stops it (here the page
    even knows the CSRF token, to isolate that check)."""
    b = logged_in(srv)
    token = b.csrf()
    sent = {k: v.format(port=srv.port) for k, v in headers.items()}
    form = {"name": "evil", "scopes": "admin", "csrf_token": token}
    r = b.post("/keys", form, origin=None, headers=sent)
    assert r.status_code == 403 and r.json()["error"]["code"] == "CSRF_FAILED"
    # The JSON API with the cookie (e.g. a text/plain "simple" request) is refused too.
    r = b.request(
        "POST",
        "/api/keys",
        headers={**sent, "x-csrf-token": token, "content-type": "text/plain"},
        content=b'{"name": "evil", "scopes": ["admin"]}',
    )
    assert r.status_code == 403
    assert "evil" not in key_names(srv)


def test_same_origin_referer_without_origin_is_accepted(srv):
    b = logged_in(srv)
    r = b.post(
        "/keys",
        {"name": "via-referer", "csrf_token": b.csrf(), "scopes": "deploy"},
        origin=None,
        headers={"referer": f"{b.origin}/keys"},
    )
    assert r.status_code == 201


def test_cross_origin_login_is_refused(srv, browser):
    r = browser.login(origin=f"http://evil.localhost:{srv.port}")
    assert r.status_code == 403 and "set-cookie" not in r.headers


# -- the JSON API with a session ----------------------------------------------------------


def test_api_accepts_the_session_cookie_as_admin_with_csrf_for_changes(srv):
    b = logged_in(srv)
    r = b.get("/api/keys")
    assert r.status_code == 200 and isinstance(r.json()["data"], list)
    r = b.request("POST", "/api/keys", json={"name": "from-js"}, headers={"origin": b.origin})
    assert r.status_code == 403
    r = b.request(
        "POST",
        "/api/keys",
        json={"name": "from-js"},
        headers={"origin": b.origin, "x-csrf-token": b.csrf()},
    )
    assert r.status_code == 201 and r.json()["data"]["token"].startswith("fazt_")
    b.cookie = "forged"
    assert b.get("/api/keys").status_code == 401


# -- brute force --------------------------------------------------------------------------


def test_brute_force_gets_429_and_x_forwarded_for_does_not_help(tmp_path):
    with running_server(tmp_path / "home") as srv:
        b = Browser(srv)
        for i in range(5):
            r = b.login("wrong-password", headers={"x-forwarded-for": f"10.0.0.{i}"})
            assert r.status_code == 401
        r = b.login("wrong-password", headers={"x-forwarded-for": "10.9.9.9"})
        assert r.status_code == 429
        assert 800 < int(r.headers["retry-after"]) <= 901
        # Locked out: even the right password is refused from this address for now.
        assert b.login(headers={"x-forwarded-for": "192.168.1.1"}).status_code == 429
        assert b.cookie is None
        assert srv.get("/health").status_code == 200
        b.close()


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path):
    settings = {"trusted_proxies": "127.0.0.1"}
    with running_server(tmp_path / "home", settings) as srv:
        b = Browser(srv)
        attacker = {"x-forwarded-for": "203.0.113.7"}
        for _ in range(5):
            assert b.login("wrong-password", headers=attacker).status_code == 401
        assert b.login(headers=attacker).status_code == 429
        # The attacker's lockout is not everyone's: another client behind the proxy logs in,
        # even if it prepends a forged address (the proxy appends the real one).
        r = b.login(headers={"x-forwarded-for": "203.0.113.7, 198.51.100.2"})
        assert r.status_code == 303
        # HTTPS at the proxy: the cookie gets Secure, and the origin to match is https.
        r = b.login(
            headers={"x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.3"},
            origin=f"https://{b.host}",
        )
        assert r.status_code == 303 and "; Secure" in r.headers["set-cookie"]
        b.close()


# -- the session store itself -------------------------------------------------------------


def test_session_expiry_slides_and_expired_sessions_are_gone(tmp_path: Path):
    from fazt.auth import passwords, sessions
    from fazt.db import Database

    db = Database.open(tmp_path / "s.db")
    try:
        db.write_sync(passwords.set_credentials, "ann", passwords.hash_password(PASSWORD))
        user = db.read_sync(sessions.find_user, "ann")[0]
        token = db.write_sync(sessions.create, user, 3600)
        fresh = db.read_sync(sessions.lookup, token)
        assert fresh.username == "ann" and not sessions.needs_touch(fresh)
        db.write_sync(
            lambda c: c.execute("UPDATE sessions SET last_seen_at = '2000-01-01T00:00:00.000000Z'")
        )
        stale = db.read_sync(sessions.lookup, token)
        assert sessions.needs_touch(stale)
        db.write_sync(sessions.touch, stale.id, 7200)
        touched = db.read_sync(sessions.lookup, token)
        assert touched.expires_at > fresh.expires_at
        assert touched.last_seen_at > stale.last_seen_at
        db.write_sync(
            lambda c: c.execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000000Z'")
        )
        assert db.read_sync(sessions.lookup, token) is None
        assert db.write_sync(sessions.prune_expired) == 1
    finally:
        db.close()


# -- the pure checks behind them ----------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "referer", "scheme", "host", "ok"),
    [
        ("http://localhost:4698", None, "http", "localhost:4698", True),
        ("https://admin.example.org", None, "https", "admin.example.org", True),
        ("https://admin.example.org:443", None, "https", "admin.example.org", True),
        ("HTTP://LOCALHOST:4698", None, "http", "localhost:4698", True),
        ("https://evil.example.org", None, "https", "admin.example.org", False),
        ("http://admin.example.org", None, "https", "admin.example.org", False),  # downgrade
        ("https://admin.example.org:8443", None, "https", "admin.example.org", False),
        ("null", "https://admin.example.org/keys", "https", "admin.example.org", False),
        (None, "https://admin.example.org/keys", "https", "admin.example.org", True),
        (None, "https://evil.example.org/x", "https", "admin.example.org", False),
        (None, None, "https", "admin.example.org", True),  # not a browser: the token decides
    ],
)
def test_same_origin(origin, referer, scheme, host, ok):
    from fazt.auth import csrf

    assert csrf.same_origin(origin, referer, scheme, host) is ok


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("127.0.0.1", "203.0.113.7", "", "127.0.0.1"),  # no proxy configured: the peer
        ("198.51.100.1", "203.0.113.7", "127.0.0.1", "198.51.100.1"),  # untrusted peer
        ("127.0.0.1", "203.0.113.7", "127.0.0.1", "203.0.113.7"),
        ("127.0.0.1", "1.1.1.1, 203.0.113.7", "127.0.0.1", "203.0.113.7"),  # forged left part
        ("10.0.0.2", "203.0.113.7, 10.0.0.1", "10.0.0.0/8", "203.0.113.7"),  # proxy chain
        ("127.0.0.1", "", "127.0.0.1", "127.0.0.1"),
        ("::1", "2001:db8::5", "::1", "2001:db8::5"),
    ],
)
def test_client_ip(peer, forwarded, trusted, client):
    from fazt.auth import clientip

    assert clientip.client_ip(peer, forwarded, clientip.parse_trusted(trusted)) == client


def test_bad_trusted_proxies_setting_is_an_error():
    from fazt.auth import clientip

    with pytest.raises(ValueError):
        clientip.parse_trusted("127.0.0.1, not-an-ip")
