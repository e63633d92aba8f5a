"""The health view against a real server: latency measured, the JavaScript pool and its
processes with their memory, the database, and the backup warning that a backup clears."""

import re
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, running_server, write_site
from tests.integration.test_auth_sessions import Browser

HELLO = "module.exports = function (req) { return {hello: 1}; };\n"


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("health")
    with running_server(home / "home") as s:
        s.deploy(write_site(home / "js", {"index.html": "x", "api/hello.js": HELLO}), "js")
        yield s


@pytest.fixture
def admin(srv) -> Iterator[Browser]:
    b = Browser(srv)
    assert b.login().status_code == 303
    yield b
    b.close()


def stat(page, name: str) -> str:
    return re.search(rf"<dt>{name}</dt><dd>([^<]*)</dd>", page.text).group(1)


def test_health_shows_latency_pool_processes_and_backup_warning(srv, admin):
    assert srv.get("/api/hello", host="js.localhost").json() == {"hello": 1}
    page = admin.get("/server-health")
    assert page.status_code == 200
    assert re.fullmatch(r"\d+\.\d ms", stat(page, "p50 latency"))
    assert re.fullmatch(r"\d+\.\d ms", stat(page, "p99 latency"))
    assert int(stat(page, "Running")) >= 1
    assert "server worker" in page.text and "JavaScript worker" in page.text
    assert "supervisor" in page.text
    rss = re.findall(r"<td>\d+</td><td>([\d.]+ [KMG]B)</td>", page.text)
    assert len(rss) >= 3, page.text  # every process's memory was read from /proc
    assert "No backup yet" in page.text
    made = srv.api("POST", "/api/backups")
    assert made.status_code == 201, made.text
    page = admin.get("/server-health")
    assert "No backup yet" not in page.text and stat(page, "Last backup").endswith("ago")


def test_health_needs_a_login(srv):
    anonymous = Browser(srv)
    try:
        assert anonymous.get("/server-health").status_code == 303
    finally:
        anonymous.close()
