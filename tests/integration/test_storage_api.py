"""The storage browsing API (/api/apps/{name}/storage...) against a real server.

Data is put in through AppStorage on the server's database file from the test process
(WAL allows a second connection while the server runs), then read back over HTTP.
"""

import base64
import json

import pytest

from fazt.db import Database
from fazt.storage.bindings import AppStorage
from tests.conftest import write_site


@pytest.fixture
def app(shared_server, tmp_path, site_name):
    """Two apps of this test's own on the module's server: (server, storage, other's)."""
    server, notes, other = shared_server, site_name, f"{site_name}-other"
    server.deploy(write_site(tmp_path / "site", {"index.html": "<h1>hi</h1>"}), notes)
    server.deploy(write_site(tmp_path / "site2", {"index.html": "<h1>other</h1>"}), other)
    with Database.open(server.db) as db:
        yield server, AppStorage(db, notes), AppStorage(db, other)


def data(response, status=200):
    assert response.status_code == status, response.text
    return response.json()["data"]


def error_code(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]["code"]


def test_empty_storage_has_zero_counts_and_empty_lists(app):
    server, st, _ = app
    assert data(server.api("GET", f"/api/apps/{st.app}/storage")) == {
        "kv": {"keys": 0},
        "collections": [],
        "objects": {"count": 0, "bytes": 0},
    }
    assert data(server.api("GET", f"/api/apps/{st.app}/storage/kv")) == []
    assert data(server.api("GET", f"/api/apps/{st.app}/storage/objects")) == []
    page = data(server.api("GET", f"/api/apps/{st.app}/storage/collections/none"))
    assert page["documents"] == [] and page["total"] == 0


def test_summary_kv_objects_and_documents_read_back(app):
    server, st, other = app
    st.kv_set("user:1", '{"name": "Ann"}')
    st.kv_set("user:2", '"two"', 60_000)
    st.kv_set("config", "true")
    other.kv_set("user:9", '"not mine"')
    for i in range(5):
        st.ds_insert("posts", json.dumps({"id": f"p{i}", "n": i}))
    st.ds_insert("my notes", '{"text": "é"}')
    other.ds_insert("posts", '{"x": 1}')
    st.s3_put("img/a.png", base64.b64encode(b"12345").decode(), "image/png")
    st.s3_put("doc.txt", base64.b64encode(b"abc").decode(), "text/plain")

    summary = data(server.api("GET", f"/api/apps/{st.app}/storage"))
    assert summary == {
        "kv": {"keys": 3},
        "collections": [{"name": "my notes", "count": 1}, {"name": "posts", "count": 5}],
        "objects": {"count": 2, "bytes": 8},
    }

    keys = data(server.api("GET", f"/api/apps/{st.app}/storage/kv", params={"prefix": "user:"}))
    assert [(k["key"], k["value"]) for k in keys] == [
        ("user:1", {"name": "Ann"}),
        ("user:2", "two"),
    ]
    assert keys[0]["expiresAt"] is None and keys[1]["expiresAt"].endswith("Z")
    assert len(data(server.api("GET", f"/api/apps/{st.app}/storage/kv"))) == 3

    page = data(
        server.api(
            "GET", f"/api/apps/{st.app}/storage/collections/posts", params={"limit": 2, "offset": 1}
        )
    )
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
    assert [d["id"] for d in page["documents"]] == ["p1", "p2"]
    assert page["documents"][0]["n"] == 1 and "_createdAt" in page["documents"][0]

    spaced = data(server.api("GET", f"/api/apps/{st.app}/storage/collections/my%20notes"))
    assert [d["text"] for d in spaced["documents"]] == ["é"]

    objs = data(server.api("GET", f"/api/apps/{st.app}/storage/objects", params={"prefix": "img/"}))
    assert [(o["path"], o["size"], o["mime"]) for o in objs] == [("img/a.png", 5, "image/png")]
    assert "data" not in objs[0] and "data_b64" not in objs[0]


def test_unknown_app_is_404_and_bad_paging_is_400(app):
    server, st, _ = app
    for path in [
        "/api/apps/nope/storage",
        "/api/apps/nope/storage/kv",
        "/api/apps/nope/storage/objects",
        "/api/apps/nope/storage/collections/x",
    ]:
        assert error_code(server.api("GET", path), 404) == "APP_NOT_FOUND"
    for params in [{"limit": "-1"}, {"limit": "abc"}, {"limit": "100000"}, {"offset": "x"}]:
        r = server.api("GET", f"/api/apps/{st.app}/storage/collections/c", params=params)
        assert error_code(r, 400) == "BAD_REQUEST"


def test_storage_api_needs_a_token_and_allows_a_deploy_key(app):
    server, st, _ = app
    st.kv_set("k", "1")
    r = server.request("GET", f"/api/apps/{st.app}/storage")
    assert r.status_code == 401
    key = server.create_key("dash", "deploy")
    assert data(server.api("GET", f"/api/apps/{st.app}/storage", token=key))["kv"]["keys"] == 1
    assert (
        error_code(server.api("POST", f"/api/apps/{st.app}/storage"), 405) == "METHOD_NOT_ALLOWED"
    )


def test_deleting_an_app_through_the_api_deletes_its_storage(app, tmp_path):
    server, st, other = app
    st.kv_set("k", "1")
    st.ds_insert("c", "{}")
    st.s3_put("p", "eA==")
    other.kv_set("k", "2")
    assert server.api("DELETE", f"/api/apps/{st.app}").status_code == 200
    rows = st.db.read_sync(
        lambda c: [
            c.execute(f"SELECT COUNT(*) FROM {t} WHERE app = ?", (st.app,)).fetchone()[0]
            for t in ("app_kv", "app_documents", "app_objects")
        ]
    )
    assert rows == [0, 0, 0]
    assert other.kv_get("k") == "2"
    # A new app with the same name starts empty.
    server.deploy(write_site(tmp_path / "again", {"index.html": "again"}), st.app)
    assert data(server.api("GET", f"/api/apps/{st.app}/storage")) == {
        "kv": {"keys": 0},
        "collections": [],
        "objects": {"count": 0, "bytes": 0},
    }
