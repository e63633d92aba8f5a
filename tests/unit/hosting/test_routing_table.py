"""Host routing decided from the Host header alone."""

import pytest

from fazt.hosting.routing import (
    BAD_HOST,
    DASHBOARD,
    NOT_FOUND,
    SITE,
    RoutingTable,
    Target,
    normalise_host,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.test", "example.test"),
        ("BLOG.Example.TEST:1234", "blog.example.test"),
        ("blog.example.test.", "blog.example.test"),
        ("blog.example.test.:8080", "blog.example.test"),
        ("  blog.example.test  ", "blog.example.test"),
        ("localhost:4698", "localhost"),
        ("10.1.2.3:80", "10.1.2.3"),
        ("[::1]:8080", "[::1]"),
        ("[::1]", "[::1]"),
        ("example.test:", "example.test"),
        ("my-site.localhost", "my-site.localhost"),
    ],
)
def test_normalise_host(raw, expected):
    assert normalise_host(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        ":80",
        ".",
        "bad host!",
        "under_score.example.test",
        "a/b",
        "a@b.example.test",
        "[::1",
        "a:b:c",
        "example.test:abc",
        "example.test:80x",
        "example.test:²",
        "example.test: 80",
        "[::1]:abc",
        "[::1]junk",
        "x" * 254,
        "blög.example.test",
    ],
)
def test_normalise_host_rejects_malformed(raw):
    assert normalise_host(raw) is None


@pytest.fixture
def table() -> RoutingTable:
    return RoutingTable(
        "example.test",
        live={"root": 1, "404": 2, "admin": 3, "blog": 10, "shop": 20, "draft": None},
        custom={"blog.custom.test": "blog", "orphan.custom.test": "draft"},
        previews={
            "b42b42b42b42b42b42b4": ("blog", 42),
            "5707070707070707070s": ("shop", 7),
            "d5d5d5d5d5d5d5d5d5d5": ("draft", 5),
            "a3a3a3a3a3a3a3a3a3a3": ("admin", 3),
            "r1r1r1r1r1r1r1r1r1r1": ("root", 1),
        },
    )


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:4698",
        "LOCALHOST",
        "admin.example.test",
        "Admin.Example.Test:443",
        "admin.example.test.",
        "admin.localhost",
        "127.0.0.1",
        "127.0.0.1:4698",
        "[::1]:4698",
    ],
)
def test_dashboard_hosts(table, host):
    assert table.resolve(host) == Target(DASHBOARD)


@pytest.mark.parametrize(
    "host", ["example.test", "EXAMPLE.test:8080", "root.example.test", "example.test."]
)
def test_root_site(table, host):
    assert table.resolve(host) == Target(SITE, "root", 1)


@pytest.mark.parametrize(
    ("host", "site", "dep"),
    [
        ("blog.example.test", "blog", 10),
        ("BLOG.Example.TEST:1234", "blog", 10),
        ("blog.example.test.", "blog", 10),
        ("blog.localhost", "blog", 10),
        ("shop.localhost:4698", "shop", 20),
        ("blog.custom.test", "blog", 10),
        ("Blog.Custom.Test:8443", "blog", 10),
        ("blog.custom.test.", "blog", 10),
    ],
)
def test_site_hosts(table, host, site, dep):
    assert table.resolve(host) == Target(SITE, site, dep)


@pytest.mark.parametrize(
    "host",
    [
        "nosuch.example.test",
        "a.b.example.test",
        "a.blog.example.test",
        ".example.test",
        "10.1.2.3",
        "192.168.0.1:80",
        "other.test",
        "example.test.evil.test",
        "blogexample.test",
        "draft.example.test",  # a site with no live deployment
        "orphan.custom.test",  # a custom domain whose site has nothing live
        "custom.test",
        "x.blog.custom.test",
        "nosuch--10.example.test",  # preview of a site that does not exist
        "admin--a3a3a3a3a3a3a3a3a3a3.example.test",  # the dashboard's files: never a site
        # A deployment's sequential number never names it (they can be enumerated) ...
        "blog--42.example.test",
        "blog--42.localhost",
        # ... and one site's preview id never runs under another site's name.
        "shop--b42b42b42b42b42b42b4.example.test",
        "root--b42b42b42b42b42b42b4.example.test",
        "blog--5707070707070707070s.localhost",
        "blog--B42B42B42B42B42B42B4X.example.test",
    ],
)
def test_not_found_hosts(table, host):
    assert table.resolve(host) == Target(NOT_FOUND)


@pytest.mark.parametrize("host", [None, "", "bad host!", "a_b.example.test", "a:b:c"])
def test_bad_hosts(table, host):
    assert table.resolve(host) == Target(BAD_HOST)


@pytest.mark.parametrize(
    ("host", "site", "dep"),
    [
        ("blog--b42b42b42b42b42b42b4.example.test", "blog", 42),
        ("BLOG--B42B42B42B42B42B42B4.Example.Test:1234", "blog", 42),
        ("blog--b42b42b42b42b42b42b4.localhost", "blog", 42),
        ("shop--5707070707070707070s.example.test", "shop", 7),
        ("draft--d5d5d5d5d5d5d5d5d5d5.example.test", "draft", 5),  # no live deployment needed
        ("root--r1r1r1r1r1r1r1r1r1r1.example.test", "root", 1),
    ],
)
def test_preview_hosts(table, host, site, dep):
    assert table.resolve(host) == Target(SITE, site, dep)


def test_preview_label_needs_a_known_id(table):
    assert table.resolve("blog--abc.example.test") == Target(NOT_FOUND)
    assert table.resolve("blog--.example.test") == Target(NOT_FOUND)


def test_domain_localhost():
    table = RoutingTable(
        "localhost", live={"root": 1, "blog": 10}, custom={}, previews={"p3": ("blog", 3)}
    )
    assert table.resolve("localhost:4698") == Target(DASHBOARD)
    assert table.resolve("admin.localhost") == Target(DASHBOARD)
    assert table.resolve("root.localhost") == Target(SITE, "root", 1)
    assert table.resolve("blog.localhost:4698") == Target(SITE, "blog", 10)
    assert table.resolve("blog--p3.localhost") == Target(SITE, "blog", 3)
    assert table.resolve("blog--3.localhost") == Target(NOT_FOUND)
    assert table.resolve("a.blog.localhost") == Target(NOT_FOUND)
    assert table.resolve("blog.example.test") == Target(NOT_FOUND)


def test_custom_domain_cannot_shadow_the_dashboard():
    table = RoutingTable("example.test", live={"blog": 10}, custom={"admin.example.test": "blog"})
    assert table.resolve("admin.example.test") == Target(DASHBOARD)


def test_load_reads_sites_and_domains():
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.executescript(
        "CREATE TABLE sites (name TEXT, live_deployment_id INTEGER, previews INTEGER);"
        "CREATE TABLE domains (domain TEXT, site TEXT);"
        "CREATE TABLE deployments (id INTEGER, site TEXT, state TEXT, preview_id TEXT);"
        "INSERT INTO sites VALUES ('blog', 4, 1), ('draft', NULL, 1), ('quiet', 9, 0);"
        "INSERT INTO domains VALUES ('blog.custom.test', 'blog');"
        "INSERT INTO deployments VALUES (4, 'blog', 'ready', 'aa'), (3, 'blog', 'ready', 'bb'),"
        " (5, 'blog', 'pending', 'cc'), (9, 'quiet', 'ready', 'dd');"
    )
    table = RoutingTable.load(conn, "Example.TEST")
    assert table.domain == "example.test"
    assert table.live == {"blog": 4, "draft": None, "quiet": 9}
    assert table.resolve("blog.example.test") == Target(SITE, "blog", 4)
    assert table.resolve("blog.custom.test") == Target(SITE, "blog", 4)
    assert table.resolve("draft.example.test") == Target(NOT_FOUND)
    assert table.resolve("blog--bb.example.test") == Target(SITE, "blog", 3)
    assert table.resolve("blog--cc.example.test") == Target(NOT_FOUND)  # never finalized
    assert table.resolve("quiet--dd.example.test") == Target(NOT_FOUND)  # previews off
