"""The dashboard's Visitors table: each visitor's fazt.storage.user use, export (a JSON
download) and delete (data, or account and data), with CSRF and a typed confirmation."""

import json
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, running_server, write_site
from tests.integration.test_auth_sessions import Browser
from tests.integration.test_dashboard import csrf_of
from tests.integration.test_user_storage import APP, Visitor, sign_in


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("dashboard-users")
    with running_server(home / "home") as s:
        s.deploy(write_site(home / "app", APP), "notes")
        yield s


@pytest.fixture
def admin(srv) -> Iterator[Browser]:
    b = Browser(srv)
    assert b.login().status_code == 303
    yield b
    b.close()


def test_export_and_delete_one_visitors_data(srv, admin):
    host = "notes.localhost"
    gil = Visitor(srv, host, sign_in(srv, host, "gil@dash.test"))
    hal = Visitor(srv, host, sign_in(srv, host, "hal@dash.test"))
    for who in (gil, hal):
        who.ok((True, "kv", "set", "draft", "x" * 2000), (True, "ds", "insert", "n", {"a": 1}))
    page = admin.get("/apps/notes")
    assert page.status_code == 200
    row = page.text.split("dev:gil@dash.test", 1)[1].split("</tr>", 1)[0]
    assert "2 items" in row and "/apps/notes/users/export?user=dev%3Agil%40dash.test" in row
    r = admin.get("/apps/notes/users/export?user=dev%3Agil%40dash.test")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    exported = json.loads(r.content)
    assert exported["kv"][0]["value"] == "x" * 2000 and exported["documents"]["n"][0]["a"] == 1
    token = csrf_of(page)
    form = {"csrf_token": token, "user": "dev:gil@dash.test", "what": "data"}
    # without the typed id, or without the CSRF token: refused, nothing deleted
    assert admin.post("/apps/notes/users/delete", {**form, "confirm": "gil"}).status_code == 400
    forged = {**form, "csrf_token": "x", "confirm": "dev:gil@dash.test"}
    assert admin.post("/apps/notes/users/delete", forged).status_code == 403
    assert gil.user("kv", "get", "draft") == "x" * 2000
    r = admin.post("/apps/notes/users/delete", {**form, "confirm": "dev:gil@dash.test"})
    assert r.status_code == 303 and "done=user-data-deleted" in r.headers["location"]
    assert gil.user("kv", "get", "draft") is None and gil.user("ds", "count", "n", {}) == 0
    assert hal.user("kv", "get", "draft") == "x" * 2000
    # the account too: hal's session ends, the row leaves the table
    account = {**form, "user": "dev:hal@dash.test", "what": "account"}
    r = admin.post("/apps/notes/users/delete", {**account, "confirm": "dev:hal@dash.test"})
    assert r.status_code == 303
    assert "AUTH_REQUIRED" in hal.run((True, "kv", "get", "draft"))[0]["error"]
    assert "dev:hal@dash.test" not in admin.get("/apps/notes").text
