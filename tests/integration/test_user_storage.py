"""fazt.storage.user (issue 21 item 2): each signed-in visitor's kv / ds / s3, against a
real server, visitors signed in through the local dev provider (*.localhost).

The app under test runs any storage call it is sent (`api/op.js`), as the visitor whose
session cookie came with the request, so the tests can try every API and spelling."""

import base64
import json
import sqlite3
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FaztServer, write_site

OP_JS = """
module.exports = (req) => {
  const out = [];
  for (const o of req.body.ops) {
    const base = o.user ? fazt.storage.user : fazt.storage;
    try {
      let v = base[o.api][o.op](...o.args);
      if (o.api === "s3" && o.op === "get" && v) v = { path: v.path, text: v.text, size: v.size };
      out.push({ ok: true, value: v === undefined ? null : v });
    } catch (e) {
      out.push({ ok: false, error: String(e.message) });
    }
  }
  return out;
};
"""
APP = {
    "index.html": "<h1>user storage</h1>",
    "api/op.js": OP_JS,
    # not caught: the handler's answer is the 401 itself
    "api/need.js": "module.exports = () => ({ v: fazt.storage.user.kv.get('x') });",
}


@pytest.fixture
def server(shared_server):
    return shared_server


@pytest.fixture(scope="module")
def app_host(shared_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("user-storage")
    for site in ("us1", "us2"):
        shared_server.deploy(write_site(root / site, APP), site)
    return "us1.localhost"


def sign_in(srv: FaztServer, host: str, email: str) -> str:
    """A dev-provider sign-in; the session cookie header."""
    r = srv.get("/_fazt/auth/login", host=host, params={"provider": "dev", "next": "/"})
    assert r.status_code == 200, r.text
    state = r.cookies.get("fazt_auth_state") or r.headers["set-cookie"].split(";")[0].split("=")[1]
    r = srv.request(
        "POST",
        "/_fazt/auth/dev",
        host=host,
        headers={"cookie": f"fazt_auth_state={state}"},
        data={"state": state, "name": email.split("@")[0], "email": email},
    )
    assert r.status_code == 303, r.text
    for line in r.headers.get_list("set-cookie"):
        if line.startswith("fazt_visitor="):
            return line.split(";", 1)[0]
    raise AssertionError("no session cookie")


class Visitor:
    """Storage calls as one visitor (cookie None: nobody signed in)."""

    def __init__(self, srv: FaztServer, host: str, cookie: str | None) -> None:
        self.srv, self.host, self.cookie = srv, host, cookie

    def run(self, *ops: tuple) -> list[dict]:
        """ops: (user?, api, op, *args); the results in order."""
        body = {
            "ops": [{"user": u, "api": a, "op": o, "args": list(rest)} for u, a, o, *rest in ops]
        }
        headers = {"cookie": self.cookie} if self.cookie else {}
        r = self.srv.request("POST", "/api/op", host=self.host, json=body, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    def ok(self, *ops: tuple) -> list:
        results = self.run(*ops)
        for op, res in zip(ops, results, strict=True):
            assert res["ok"], (op, res)
        return [res["value"] for res in results]

    def user(self, api: str, op: str, *args) -> object:
        return self.ok((True, api, op, *args))[0]


@pytest.fixture(scope="module")
def alice(shared_server, app_host):
    return Visitor(shared_server, app_host, sign_in(shared_server, app_host, "alice@us.test"))


@pytest.fixture(scope="module")
def bob(shared_server, app_host):
    return Visitor(shared_server, app_host, sign_in(shared_server, app_host, "bob@us.test"))


@contextmanager
def setting(srv: FaztServer, key: str, value: str):
    """A live setting, written where the server reads it, put back afterwards."""
    conn = sqlite3.connect(srv.db)
    try:
        with conn:
            conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))
        yield
    finally:
        with conn:
            conn.execute("DELETE FROM settings WHERE key = ?", (key,))
        conn.close()


def test_visitors_see_only_their_own_rows_by_every_api(alice, bob):
    for who in (alice, bob):
        name = "alice" if who is alice else "bob"
        who.ok(
            (True, "kv", "set", "note", {"by": name}),
            (True, "kv", "set", f"only-{name}", 1),
            (True, "ds", "insert", "drafts", {"id": "d1", "by": name, "n": 1}),
            (True, "ds", "insert", "drafts", {"by": name, "n": 2}),
            (True, "s3", "put", "f/a.txt", f"text of {name}"),
        )
    for who, name, other in ((alice, "alice", "bob"), (bob, "bob", "alice")):
        got = who.ok(
            (True, "kv", "get", "note"),
            (True, "kv", "get", f"only-{other}"),
            (True, "kv", "list", ""),
            (True, "ds", "find", "drafts", {}),
            (True, "ds", "find", "drafts", {"$or": [{"by": other}, {"by": {"$ne": name}}]}),
            (True, "ds", "findOne", "drafts", "d1"),
            (True, "ds", "count", "drafts", {}),
            (True, "s3", "get", "f/a.txt"),
            (True, "s3", "list", ""),
        )
        note, theirs, listed, found, tricky, one, count, obj, objs = got
        assert note == {"by": name} and theirs is None
        assert sorted(e["key"] for e in listed) == ["note", f"only-{name}"]
        assert {d["by"] for d in found} == {name} and len(found) == 2
        assert tricky == [] and one["by"] == name and count == 2
        assert obj["text"] == f"text of {name}" and [o["path"] for o in objs] == ["f/a.txt"]
    # writes and deletes reach the writer's own rows only
    assert alice.user("ds", "update", "drafts", {}, {"$set": {"seen": True}}) == 2
    assert alice.user("ds", "delete", "drafts", {}) == 2
    assert alice.user("kv", "delete", "note") is True
    assert alice.user("s3", "delete", "f/a.txt") is True
    assert bob.ok(
        (True, "ds", "count", "drafts", {"seen": True}),
        (True, "ds", "count", "drafts", {}),
        (True, "kv", "get", "note"),
        (True, "s3", "get", "f/a.txt"),
    ) == [0, 2, {"by": "bob"}, {"path": "f/a.txt", "text": "text of bob", "size": 11}]


def test_app_storage_and_user_storage_do_not_see_each_other(alice):
    alice.ok(
        (False, "kv", "set", "shared-name", "app's"),
        (False, "ds", "insert", "drafts", {"id": "app-doc"}),
        (False, "s3", "put", "f/app.txt", "app's"),
        (True, "kv", "set", "shared-name", "alice's"),
        (True, "ds", "insert", "drafts", {"id": "user-doc"}),
        (True, "s3", "put", "f/user.txt", "alice's"),
    )
    app_view = alice.ok(
        (False, "kv", "get", "shared-name"),
        (False, "ds", "find", "drafts", {}),
        (False, "s3", "list", "f/"),
    )
    user_view = alice.ok(
        (True, "kv", "get", "shared-name"),
        (True, "ds", "find", "drafts", {"id": {"$in": ["app-doc", "user-doc"]}}),
        (True, "s3", "list", "f/"),
    )
    assert app_view[0] == "app's" and [d["id"] for d in app_view[1]] == ["app-doc"]
    assert [o["path"] for o in app_view[2]] == ["f/app.txt"]
    assert user_view[0] == "alice's" and [d["id"] for d in user_view[1]] == ["user-doc"]
    assert [o["path"] for o in user_view[2]] == ["f/user.txt"]


def test_the_same_visitor_in_another_app_has_other_rows(server, alice):
    alice.user("kv", "set", "per-app", "in us1")
    elsewhere = Visitor(server, "us2.localhost", sign_in(server, "us2.localhost", "alice@us.test"))
    assert elsewhere.user("kv", "get", "per-app") is None
    assert elsewhere.user("kv", "list", "") == []
    # a us1 session is not a us2 session: nobody is signed in there with it
    stolen = Visitor(server, "us2.localhost", alice.cookie)
    assert "AUTH_REQUIRED" in stolen.run((True, "kv", "list", ""))[0]["error"]


def test_nobody_signed_in_gets_auth_required(server, app_host):
    anonymous = Visitor(server, app_host, None)
    results = anonymous.run(
        (True, "kv", "get", "x"), (True, "ds", "find", "c", {}), (True, "s3", "list", "")
    )
    assert all(not r["ok"] and r["error"].startswith("AUTH_REQUIRED") for r in results)
    r = server.get("/api/need", host=app_host)
    assert r.status_code == 401 and r.json()["error"]["code"] == "AUTH_REQUIRED"
    # a forged cookie is nobody too
    forged = Visitor(server, app_host, "fazt_visitor=not-a-session")
    assert not forged.run((True, "kv", "get", "x"))[0]["ok"]


def test_quota_refuses_a_write_past_it_and_changes_nothing(server, app_host):
    carol = Visitor(server, app_host, sign_in(server, app_host, "carol@us.test"))
    with setting(server, "user_storage_max_bytes", "2000"):
        carol.user("kv", "set", "a", "x" * 1000)
        over = carol.run(
            (True, "kv", "set", "b", "y" * 1000),
            (True, "ds", "insert", "c", {"t": "z" * 1000}),
            (True, "s3", "put", "p", "w" * 1000),
            (True, "ds", "update", "c", {}, {"t": "v"}),
        )
        assert [r["ok"] for r in over[:3]] == [False, False, False], over
        assert all("USER_QUOTA_EXCEEDED" in r["error"] for r in over[:3])
        listed = carol.user("kv", "list", "")
        assert [e["key"] for e in listed] == ["a"]
        assert carol.user("ds", "count", "c", {}) == 0 and carol.user("s3", "list", "") == []
        # replacing with a smaller value and deleting are always allowed
        carol.user("kv", "set", "a", "small")
        carol.user("kv", "set", "b", "y" * 1000)
    with setting(server, "user_storage_max_items", "2"):
        refused = carol.run((True, "kv", "set", "c", 1))[0]
        assert not refused["ok"] and "items" in refused["error"]
        assert carol.user("kv", "delete", "a") is True
        carol.user("kv", "set", "c", 1)  # room again


KEYS = st.one_of(
    st.sampled_from(["", "..", "../x", "%", "*", "a/../b", "\\", "' OR 1=1 --", "a\u0000b"]),
    st.text(
        alphabet=st.sampled_from(list("ab/.%*_:-\\ '\"$[]{}\u00e9\u4e2d")), min_size=0, max_size=40
    ),
    st.text(min_size=500, max_size=520, alphabet="k"),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(key=KEYS)
def test_no_key_spelling_reaches_another_visitors_rows(alice, bob, key):
    written = alice.run(
        (True, "kv", "set", key, "secret"),
        (True, "s3", "put", key, "secret"),
        (True, "ds", "insert", "h", {"id": key, "v": "secret"}),
    )
    mine = alice.run((True, "kv", "get", key), (True, "s3", "list", ""))
    if written[0]["ok"]:  # the spelling is valid: alice sees her row
        assert mine[0]["value"] == "secret"
    else:  # refused spellings (empty, NUL, too long) store nothing
        assert mine[0].get("value") is None
    seen = bob.run(
        (True, "kv", "get", key),
        (True, "kv", "list", key[:3]),
        (True, "s3", "get", key),
        (True, "s3", "list", key[:3]),
        (True, "ds", "find", "h", {"$or": [{"id": key}, {"v": "secret"}, {"id": {"$ne": ""}}]}),
        (True, "ds", "findOne", "h", key),
        (False, "kv", "get", key),
        (False, "ds", "find", "h", {}),
    )
    for res in seen:  # bob has rows of his own, but never one of alice's
        assert "secret" not in json.dumps(res.get("value")), (key, res)
    alice.run(
        (True, "kv", "delete", key), (True, "s3", "delete", key), (True, "ds", "delete", "h", {})
    )


def test_user_ids_cross_the_pipe_as_json(server, app_host):
    """An id with spaces, quotes and non-ASCII (an OIDC subject may have any) is one user."""
    odd = Visitor(server, app_host, sign_in(server, app_host, 'o d"d\u00e9@us.test'))
    odd.user("kv", "set", "k", "odd")
    assert odd.user("kv", "get", "k") == "odd"
    conn = sqlite3.connect(server.db)
    try:
        rows = conn.execute("SELECT user_id FROM user_kv WHERE key = 'k'").fetchall()
    finally:
        conn.close()
    assert rows == [('dev:o d"d\u00e9@us.test',)]


def test_operators_list_export_purge_and_delete(server, app_host):
    dana = Visitor(server, app_host, sign_in(server, app_host, "dana@us.test"))
    erin = Visitor(server, app_host, sign_in(server, app_host, "erin@us.test"))
    for who in (dana, erin):
        who.ok(
            (True, "kv", "set", "k", {"v": 1}),
            (True, "ds", "insert", "notes", {"id": "n1", "t": "hello"}),
            (True, "s3", "put", "pic.bin", "\u00e9t\u00e9"),
        )
    r = server.api("GET", "/api/apps/us1/users")
    users = {u["id"]: u for u in r.json()["data"]["users"]}
    assert users["dev:dana@us.test"]["storage"]["items"] == 3
    assert users["dev:dana@us.test"]["storage"]["bytes"] > 0
    r = server.api("GET", "/api/apps/us1/users/dana@us.test/data")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    data = r.json()["data"]
    assert data["user"] == "dev:dana@us.test"
    assert data["kv"][0]["key"] == "k" and data["kv"][0]["value"] == {"v": 1}
    assert data["documents"]["notes"][0]["t"] == "hello"
    blob = data["objects"][0]
    assert base64.b64decode(blob["data_b64"]).decode() == "\u00e9t\u00e9"
    r = server.api("DELETE", "/api/apps/us1/users/dev:dana@us.test/data")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["deleted"] == {"kv": 1, "documents": 1, "objects": 1}
    assert dana.user("kv", "list", "") == [] and dana.user("s3", "list", "") == []
    assert erin.user("kv", "get", "k") == {"v": 1}  # only dana's went
    # deleting erin's account deletes her data and ends her session
    r = server.api("DELETE", "/api/apps/us1/users/erin@us.test")
    assert r.status_code == 200, r.text
    assert "AUTH_REQUIRED" in erin.run((True, "kv", "get", "k"))[0]["error"]
    conn = sqlite3.connect(server.db)
    try:
        left = [
            conn.execute(f"SELECT COUNT(*) FROM {t} WHERE user_id = ?", (erin_id,)).fetchone()[0]
            for t in ("user_kv", "user_documents", "user_objects", "user_storage_usage")
            for erin_id in ("dev:erin@us.test",)
        ]
    finally:
        conn.close()
    assert left == [0, 0, 0, 0]
    for path in ("/api/apps/us1/users/nobody@x/data", "/api/apps/us1/users/nobody@x"):
        r = server.api("GET" if path.endswith("data") else "DELETE", path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "USER_NOT_FOUND"


def test_cli_lists_exports_purges_and_removes(server, app_host, tmp_path):
    fay = Visitor(server, app_host, sign_in(server, app_host, "fay@us.test"))
    fay.ok((True, "kv", "set", "draft", "x" * 100), (True, "s3", "put", "a.txt", "hi"))
    listed = json.loads(server.cli("app", "users", "us1", "--json").stdout)
    mine = next(u for u in listed["users"] if u["id"] == "dev:fay@us.test")
    assert mine["storage"]["items"] == 2
    table = server.cli("app", "users", "list", "us1").stdout
    assert "fay@us.test" in table and "/ 2" in table
    out = tmp_path / "fay.json"
    server.cli("app", "users", "export", "us1", "fay@us.test", "-o", str(out))
    exported = json.loads(out.read_text())
    assert exported["kv"][0]["value"] == "x" * 100
    assert base64.b64decode(exported["objects"][0]["data_b64"]) == b"hi"
    assert json.loads(server.cli("app", "users", "export", "us1", "fay@us.test").stdout) == exported
    # without --yes it asks, and "no" changes nothing
    refused = server.cli("app", "users", "purge", "us1", "fay@us.test", check=False, input="n\n")
    assert refused.returncode != 0 and fay.user("kv", "get", "draft") == "x" * 100
    purged = server.cli("app", "users", "purge", "us1", "fay@us.test", "--yes", "--json")
    assert json.loads(purged.stdout)["deleted"] == {"kv": 1, "documents": 0, "objects": 1}
    assert fay.user("kv", "get", "draft") is None
    server.cli("app", "users", "remove", "us1", "fay@us.test", "--yes")
    gone = server.cli("app", "users", "export", "us1", "fay@us.test", check=False)
    assert gone.returncode != 0 and "USER_NOT_FOUND" in gone.stdout + gone.stderr
