"""Host routing against a real server: dashboard, root, sites, previews, custom domains."""

import json
import socket
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, preview_label, running_server, write_site

DOMAIN = "example.test"
SECURITY_HEADERS = ("x-frame-options", "content-security-policy")


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    """One server for the module, serving under a real domain, with a few sites."""
    home = tmp_path_factory.mktemp("routing-home")
    with running_server(home / "home", None, "--domain", DOMAIN) as srv:
        srv.deploy(write_site(home / "blog", {"index.html": "<h1>blog v1</h1>"}), "blog")
        srv.deploy(write_site(home / "shop", {"index.html": "<h1>shop</h1>"}), "shop")
        yield srv


@pytest.fixture(scope="module")
def preview(srv, tmp_path_factory) -> dict:
    """A preview deployment of `blog`, not live."""
    folder = write_site(
        tmp_path_factory.mktemp("preview") / "p", {"index.html": "<h1>blog v2</h1>"}
    )
    result = srv.deploy(folder, "blog", "--preview")
    assert result["live"] is False
    return result


def host(srv: FaztServer, name: str) -> str:
    return f"{name}:{srv.port}"


def assert_dashboard(r) -> None:
    assert r.status_code == 200, r.text
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def assert_lost(r) -> None:
    assert r.status_code == 404
    assert "Lost in Space" in r.text
    for name in SECURITY_HEADERS:
        assert name not in r.headers


# -- dashboard ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "localhost",
        "LOCALHOST",
        f"admin.{DOMAIN}",
        f"ADMIN.{DOMAIN.upper()}",
        f"admin.{DOMAIN}.",
        "admin.localhost",
        "127.0.0.1",
        "[::1]",
    ],
)
def test_dashboard_hosts_answer_health_with_security_headers(srv, name):
    for h in (name, host(srv, name)):
        r = srv.get("/health", host=h)
        assert_dashboard(r)
        assert r.json()["data"]["status"] == "ok"


def test_dashboard_page_has_security_headers(srv):
    r = srv.get("/", host=host(srv, "localhost"))
    assert_dashboard(r)
    assert "fazt dashboard" in r.text
    r = srv.get("/", host=f"admin.{DOMAIN}")
    assert_dashboard(r)
    assert "fazt dashboard" in r.text


def test_dashboard_errors_have_security_headers(srv):
    r = srv.get("/no/such/page", host="localhost")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"
    assert r.headers["x-frame-options"] == "DENY"
    r = srv.get("/api/apps", host="localhost")  # no token
    assert r.status_code == 401
    assert r.headers["x-frame-options"] == "DENY"


def test_health_is_not_served_on_site_hosts(srv):
    r = srv.get("/health", host=f"blog.{DOMAIN}")
    assert r.status_code == 404
    assert "status" not in r.text


# -- root and named sites ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", [DOMAIN, f"root.{DOMAIN}", DOMAIN.upper(), f"{DOMAIN}.", "root.localhost"]
)
def test_root_site(srv, name):
    for h in (name, host(srv, name)):
        r = srv.get("/", host=h)
        assert r.status_code == 200
        assert "Welcome to fazt" in r.text
        for header in SECURITY_HEADERS:
            assert header not in r.headers


@pytest.mark.parametrize(
    "name",
    [
        f"blog.{DOMAIN}",
        "blog.localhost",
        f"BLOG.{DOMAIN.upper()}",
        "BLOG.Example.TEST:1234",
        f"blog.{DOMAIN}.",
        f"blog.{DOMAIN}.:80",
        "Blog.LocalHost",
    ],
)
def test_named_site(srv, name):
    r = srv.get("/", host=name)
    assert r.status_code == 200
    assert r.text == "<h1>blog v1</h1>"


def test_sites_are_kept_apart(srv):
    assert srv.get("/", host=f"shop.{DOMAIN}").text == "<h1>shop</h1>"
    assert srv.get("/", host=f"blog.{DOMAIN}").text == "<h1>blog v1</h1>"


def test_user_sites_get_no_dashboard_security_headers(srv):
    r = srv.get("/", host=f"blog.{DOMAIN}")
    assert r.status_code == 200
    for name in (*SECURITY_HEADERS, "referrer-policy"):
        assert name not in r.headers


# -- not found and bad hosts -------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        f"nosuch.{DOMAIN}",
        "nosuch.localhost",
        f"a.b.{DOMAIN}",
        f"x.blog.{DOMAIN}",
        "10.1.2.3",
        "10.1.2.3:8080",
        "other.test",
        f"{DOMAIN}.evil.test",
        f"blog{DOMAIN}",
    ],
)
def test_unknown_hosts_get_the_404_site(srv, name):
    for path in ("/", "/some/page.html"):
        assert_lost(srv.get(path, host=name))


def test_head_on_unknown_host(srv):
    r = srv.request("HEAD", "/", host=f"nosuch.{DOMAIN}")
    assert r.status_code == 404
    assert r.content == b""
    assert int(r.headers["content-length"]) > 0


@pytest.mark.parametrize(
    "name", ["bad host!", "under_score.example.test", f"{DOMAIN}:abc", "a@b.example.test"]
)
def test_malformed_host_is_400(srv, name):
    r = srv.get("/", host=name)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "BAD_HOST"


def test_missing_host_is_400(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.0 400")
    assert b"BAD_HOST" in data


# -- custom domains ----------------------------------------------------------------------


def test_custom_domain_lifecycle(srv):
    assert_lost(srv.get("/", host="blog.custom.test"))

    out = srv.cli("domain", "add", "Blog.Custom.Test", "blog")
    assert "blog.custom.test -> blog" in out.stdout
    for name in ("blog.custom.test", "BLOG.custom.TEST:8443", "blog.custom.test."):
        r = srv.get("/", host=name)
        assert r.status_code == 200, name
        assert r.text == "<h1>blog v1</h1>"
        for header in SECURITY_HEADERS:
            assert header not in r.headers
    # only the exact domain, not its subdomains
    assert_lost(srv.get("/", host="www.blog.custom.test"))

    listed = json.loads(srv.cli("domain", "list", "--json").stdout)
    assert {"domain": "blog.custom.test", "site": "blog"}.items() <= listed[0].items()

    srv.cli("domain", "remove", "blog.custom.test")
    assert_lost(srv.get("/", host="blog.custom.test"))
    assert json.loads(srv.cli("domain", "list", "--json").stdout) == []


def test_custom_domain_for_unknown_site_is_refused(srv):
    r = srv.cli("domain", "add", "x.custom.test", "nosuch", check=False)
    assert r.returncode != 0
    assert_lost(srv.get("/", host="x.custom.test"))


def test_custom_domain_under_the_main_domain_is_refused(srv):
    r = srv.cli("domain", "add", f"admin.{DOMAIN}", "blog", check=False)
    assert r.returncode != 0
    assert_dashboard(srv.get("/health", host=f"admin.{DOMAIN}"))


# -- previews ----------------------------------------------------------------------------


def test_preview_host_serves_that_deployment(srv, preview):
    pid = preview["preview_id"]
    assert preview["url"] == f"http://blog--{pid}.{DOMAIN}:{srv.port}"
    for name in (
        f"blog--{pid}.{DOMAIN}",
        f"BLOG--{pid.upper()}.{DOMAIN.upper()}:99",
        f"blog--{pid}.localhost",
    ):
        r = srv.get("/", host=name)
        assert r.status_code == 200, name
        assert r.text == "<h1>blog v2</h1>"
    # the live site is unchanged
    assert srv.get("/", host=f"blog.{DOMAIN}").text == "<h1>blog v1</h1>"


def test_preview_of_the_live_deployment(srv):
    dep = srv.api("GET", "/api/apps/blog").json()["data"]["live_deployment_id"]
    assert srv.get("/", host=f"{preview_label(srv, 'blog', dep)}.{DOMAIN}").text == (
        "<h1>blog v1</h1>"
    )
    assert_lost(srv.get("/", host=f"blog--{dep}.{DOMAIN}"))  # never by its number


def test_preview_id_of_another_site_is_404(srv, preview):
    pid = preview["preview_id"]
    # served once through its own host first, so a cache cannot stand in for the check
    assert srv.get("/", host=f"blog--{pid}.{DOMAIN}").text == "<h1>blog v2</h1>"
    assert_lost(srv.get("/", host=f"shop--{pid}.{DOMAIN}"))
    assert_lost(srv.get("/", host=f"nosuch--{pid}.{DOMAIN}"))


def test_unknown_preview_id_is_404(srv):
    assert_lost(srv.get("/", host=f"blog--999999.{DOMAIN}"))
    assert_lost(srv.get("/", host=f"blog--x.{DOMAIN}"))


def test_pending_deployment_is_not_previewable(srv):
    r = srv.api(
        "POST",
        "/api/apps/blog/deployments",
        json={"files": [{"path": "index.html", "sha256": "0" * 64, "size": 1}]},
    )
    assert r.status_code in (200, 201), r.text
    dep = r.json()["data"]["deployment_id"]
    assert_lost(srv.get("/", host=f"{preview_label(srv, 'blog', dep)}.{DOMAIN}"))


def test_system_admin_deployment_is_not_a_preview(srv):
    """The dashboard's files are only served with the dashboard's headers."""
    dep = srv.api("GET", "/api/apps/admin").json()["data"]["live_deployment_id"]
    assert_dashboard(srv.get("/", host="localhost"))  # cached for the dashboard first
    label = preview_label(srv, "admin", dep)
    assert srv.get("/", host=f"root--{label[7:]}.{DOMAIN}").status_code == 404  # nor root's
    assert_lost(srv.get("/", host=f"{label}.{DOMAIN}"))


# -- domain localhost (the default) ------------------------------------------------------


@pytest.fixture(scope="module")
def local_srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("routing-local")
    with running_server(home / "home") as srv:
        srv.deploy(write_site(home / "blog", {"index.html": "local blog"}), "blog")
        yield srv


def test_default_domain_is_localhost(local_srv):
    srv = local_srv
    assert_dashboard(srv.get("/health", host=host(srv, "localhost")))
    assert_dashboard(srv.get("/health", host="admin.localhost"))
    assert srv.get("/", host=host(srv, "blog.localhost")).text == "local blog"
    assert srv.get("/", host="BLOG.LOCALHOST.").text == "local blog"
    assert "Welcome to fazt" in srv.get("/", host="root.localhost").text
    assert_lost(srv.get("/", host="nosuch.localhost"))
    assert_lost(srv.get("/", host="a.blog.localhost"))
    # a domain the server was not configured for is just an unknown host
    assert_lost(srv.get("/", host=f"blog.{DOMAIN}"))
    assert_lost(srv.get("/", host=DOMAIN))
