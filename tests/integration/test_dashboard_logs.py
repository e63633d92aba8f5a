"""The logs page against a real server: filters (app, level, text, time), the live feed,
escaping, and logins."""

import sqlite3
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, running_server, write_site
from tests.integration.test_auth_sessions import Browser

LINES = [
    ("alpha", "info", "user signed up", "2026-03-01T10:00:00.000000Z"),
    ("alpha", "error", "payment <script>failed</script>", "2026-03-01T11:00:00.000000Z"),
    ("beta", "warn", "slow query", "2026-03-02T09:30:30.000000Z"),
    ("beta", "debug", "cache miss", "2026-03-02T09:31:00.000000Z"),
]


def add_lines(srv: FaztServer, lines: list[tuple]) -> None:
    conn = sqlite3.connect(srv.db)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO app_logs (app, level, message, request_id, created_at) "
                "VALUES (?, ?, ?, 'r', ?)",
                lines,
            )
    finally:
        conn.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("logs")
    with running_server(home / "home") as s:
        for app in ("alpha", "beta"):
            s.deploy(write_site(home / app, {"index.html": app}), app)
        add_lines(s, LINES)
        yield s


@pytest.fixture
def admin(srv) -> Iterator[Browser]:
    b = Browser(srv)
    assert b.login().status_code == 303
    yield b
    b.close()


def shown(page) -> list[str]:
    return [m for _, _, m, _ in LINES if m.replace("<", "&lt;").replace(">", "&gt;") in page.text]


def test_logs_need_a_login(srv):
    anonymous = Browser(srv)
    try:
        assert anonymous.get("/logs").status_code == 303
        assert anonymous.get("/logs/feed?after=0").status_code == 303
    finally:
        anonymous.close()


def test_filters_by_app_level_text_and_time(admin):
    everything = admin.get("/logs")
    assert everything.status_code == 200
    assert len(shown(everything)) == 4
    assert "<script>failed" not in everything.text  # escaped
    assert shown(admin.get("/logs?app=beta")) == ["slow query", "cache miss"]
    assert shown(admin.get("/logs?level=warn")) == ["payment <script>failed</script>", "slow query"]
    assert shown(admin.get("/logs?q=query")) == ["slow query"]
    assert shown(admin.get("/logs?q=QUERY")) == []  # case-sensitive, like kv prefixes
    # "until 09:30" includes 09:30:30 (the whole minute); "from 09:31" leaves it out.
    assert shown(admin.get("/logs?since=2026-03-02T00:00&until=2026-03-02T09:30")) == ["slow query"]
    assert shown(admin.get("/logs?since=2026-03-02T09:31")) == ["cache miss"]


def test_bad_filters_are_a_400(admin):
    for query in ("level=fatal", "since=yesterday", "q=" + "x" * 201):
        r = admin.get("/logs?" + query)
        assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_REQUEST"
    assert admin.get("/logs/feed?after=-1").status_code == 400


def test_the_feed_returns_new_matching_lines_only(srv, admin):
    page = admin.get("/logs?app=alpha&level=error")
    after = int(page.text.split('data-after="')[1].split('"')[0])
    assert admin.get(f"/logs/feed?after={after}&app=alpha&level=error").json()["data"] == []
    add_lines(
        srv,
        [
            ("alpha", "error", "disk on fire", "2026-03-03T00:00:00.000000Z"),
            ("alpha", "info", "fine", "2026-03-03T00:00:01.000000Z"),
            ("beta", "error", "other app", "2026-03-03T00:00:02.000000Z"),
        ],
    )
    r = admin.get(f"/logs/feed?after={after}&app=alpha&level=error")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert [line["message"] for line in r.json()["data"]] == ["disk on fire"]
