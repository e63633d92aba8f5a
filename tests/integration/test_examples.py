"""Every folder in examples/ deploys as it is and works over HTTP."""

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import running_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("examples") / "home") as server:
        for name in ("static-site", "leaderboard", "visit-counter", "heartbeat", "guestbook"):
            server.cli("deploy", str(EXAMPLES / name))
        yield server


def host(srv, site: str) -> str:
    return f"{site}.localhost:{srv.port}"


def test_static_site(srv):
    h = host(srv, "static-site")
    assert "<h1>A static site on fazt</h1>" in srv.get("/", host=h).text
    assert "<h1>About</h1>" in srv.get("/about", host=h).text
    missing = srv.get("/nowhere", host=h)
    assert missing.status_code == 404 and "no such page" in missing.text
    css = srv.get("/assets/site.css", host=h)
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_leaderboard(srv):
    h = host(srv, "leaderboard")
    assert "Click race" in srv.get("/", host=h).text
    assert srv.get("/api/scores", host=h).json() == []
    for player, score in [("ann", 31), ("bob", 44), ("cy", 12)]:
        r = srv.request("POST", "/api/scores", host=h, json={"player": player, "score": score})
        assert r.status_code == 201, r.text
    # The same player again within two seconds is rate-limited (kv with a TTL).
    again = srv.request("POST", "/api/scores", host=h, json={"player": "ann", "score": 99})
    assert again.status_code == 429
    for bad in (
        {"player": "", "score": 3},
        {"player": "x", "score": 1.5},
        {"player": "x", "score": 5000},
        {"score": 3},
    ):
        assert srv.request("POST", "/api/scores", host=h, json=bad).status_code == 400
    top = srv.get("/api/scores", host=h).json()
    assert top == [
        {"player": "bob", "score": 44},
        {"player": "ann", "score": 31},
        {"player": "cy", "score": 12},
    ]


def test_visit_counter(srv):
    h = host(srv, "visit-counter")
    assert srv.get("/api/hit", host=h).json() == {"visits": 0}
    for expected in (1, 2, 3):
        assert srv.request("POST", "/api/hit", host=h).json() == {"visits": expected}
    assert srv.get("/api/anything", host=h).json() == {"visits": 3}


def test_heartbeat(srv):
    """The job itself is run by hand here (tests/integration/test_jobs.py runs jobs on
    their schedule)."""
    h = host(srv, "heartbeat")
    status = srv.get("/api/status", host=h).json()
    assert status == {"label": "Every five minutes", "ticks": 0, "recent": []}
    assert srv.request("POST", "/api/tick", host=h).status_code == 403  # not the scheduler
    assert srv.get("/private/config.json", host=h).status_code == 404
    for _ in range(2):
        run = json.loads(srv.cli("app", "jobs", "run", "heartbeat", "tick", "--json").stdout)
        assert (run["run"]["status"], run["run"]["http_status"]) == ("ok", 200)
    status = srv.get("/api/status", host=h).json()
    assert status["ticks"] == 2 and len(status["recent"]) == 2
    jobs = json.loads(srv.cli("app", "jobs", "heartbeat", "--json").stdout)["jobs"]
    assert [(j["name"], j["schedule"], len(j["runs"])) for j in jobs] == [
        ("tick", "*/5 * * * *", 2)
    ]


def _dev_sign_in(srv, h: str, name: str) -> str:
    """Sign in with the dev provider (a *.localhost host); the session cookie header.
    The test client's own cookie jar is emptied: each request names its visitor."""
    srv.http.cookies.clear()
    r = srv.get("/_fazt/auth/login", host=h, params={"provider": "dev", "next": "/"})
    state = r.headers["set-cookie"].split(";", 1)[0]
    form = {"state": state.split("=", 1)[1], "name": name, "email": f"{name}@dev.test"}
    r = srv.request("POST", "/_fazt/auth/dev", host=h, headers={"cookie": state}, data=form)
    assert r.status_code == 303, r.text
    srv.http.cookies.clear()
    return r.headers["set-cookie"].split(";", 1)[0]


def test_guestbook(srv):
    """Browser version with a real OpenID Connect provider: tests/browser."""
    h = host(srv, "guestbook")
    assert "<h1>Guestbook</h1>" in srv.get("/", host=h).text
    anonymous = srv.get("/api/entries", host=h).json()
    assert anonymous["user"] is None and anonymous["signIn"].endswith("provider=dev&next=/")
    r = srv.request("POST", "/api/entries", host=h, json={"text": "hi"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
    ann, bob = _dev_sign_in(srv, h, "ann"), _dev_sign_in(srv, h, "bob")
    for cookie, text, draft in [(ann, "ann public", False), (ann, "ann draft", True),
                                (bob, "bob draft", True)]:  # fmt: skip
        r = srv.request(
            "POST", "/api/entries", host=h, headers={"cookie": cookie},
            json={"text": text, "draft": draft},
        )  # fmt: skip
        assert r.status_code == 201, r.text
    seen = {
        who: srv.get("/api/entries", host=h, headers={"cookie": c}).json()
        for who, c in (("ann", ann), ("bob", bob))
    }
    assert [e["text"] for e in seen["ann"]["drafts"]] == ["ann draft"]
    assert [e["text"] for e in seen["bob"]["drafts"]] == ["bob draft"]
    assert [e["text"] for e in seen["bob"]["entries"]] == ["ann public"]
    assert srv.get("/api/entries", host=h).json()["drafts"] == []
    # drafts are each visitor's own rows (fazt.storage.user), not the app's
    assert _draft_owners(srv) == {
        "app_documents": [],
        "user_documents": [("dev:ann@dev.test", "ann draft"), ("dev:bob@dev.test", "bob draft")],
    }


def _draft_owners(srv) -> dict:
    conn = sqlite3.connect(srv.db)
    try:
        return {
            "app_documents": conn.execute(
                "SELECT id FROM app_documents WHERE app = 'guestbook'"
                " AND json_extract(data, '$.draft') = 1"
            ).fetchall(),
            "user_documents": conn.execute(
                "SELECT user_id, json_extract(data, '$.text') FROM user_documents"
                " WHERE app = 'guestbook' AND collection = 'drafts' ORDER BY user_id"
            ).fetchall(),
        }
    finally:
        conn.close()
