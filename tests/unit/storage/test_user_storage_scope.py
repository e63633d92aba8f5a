"""UserStorage (fazt.storage.user) on a real database: the same calls as AppStorage, on
one visitor's rows; no spelling of a key, path, prefix or query reaches another visitor's
rows or the app's own; the usage the triggers keep is exact; a write past the quota
changes nothing; deleting the visitor deletes their data."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fazt.auth import visitors
from fazt.db import Database
from fazt.db import settings as db_settings
from fazt.hosting.deployments import delete_site, ensure_site
from fazt.storage import user_data, user_quota
from fazt.storage.bindings import AppStorage, StorageError, UserStorage
from fazt.storage.scope import UserScope

USERS = ("dev:alice@x.test", "dev:bob@x.test")


def _visitor(conn, app: str, user: str) -> None:
    email = user.split(":", 1)[1]
    visitors.sign_in(conn, app, "dev", email, {"email": email, "name": email})


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    with Database.open(tmp_path_factory.mktemp("user-scope") / "data.db") as database:
        for app in ("app1", "app2"):
            database.write_sync(ensure_site, app)
            for user in USERS:
                database.write_sync(_visitor, app, user)
        yield database


@pytest.fixture(scope="module")
def alice(db):
    return UserStorage(db, "app1", USERS[0])


@pytest.fixture(scope="module")
def bob(db):
    return UserStorage(db, "app1", USERS[1])


@pytest.fixture(scope="module")
def app(db):
    return AppStorage(db, "app1")


def _usage_recount(db, owner: UserScope) -> tuple[int, int]:
    """What the triggers' counter should say, counted from the rows."""

    def count(conn):
        a = (owner.app, owner.user)
        kv = conn.execute(
            "SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0),"
            " COUNT(*) FROM user_kv WHERE app = ? AND user_id = ?",
            a,
        ).fetchone()
        docs = conn.execute(
            "SELECT COALESCE(SUM(length(CAST(collection AS BLOB)) + length(CAST(id AS BLOB))"
            " + length(CAST(data AS BLOB))), 0), COUNT(*) FROM user_documents"
            " WHERE app = ? AND user_id = ?",
            a,
        ).fetchone()
        objs = conn.execute(
            "SELECT COALESCE(SUM(length(CAST(path AS BLOB)) + size), 0), COUNT(*)"
            " FROM user_objects WHERE app = ? AND user_id = ?",
            a,
        ).fetchone()
        return kv[0] + docs[0] + objs[0], kv[1] + docs[1] + objs[1]

    return db.read_sync(count)


def _quiet(call, *args):
    """The call's answer, or None when it refuses the spelling (StorageError)."""
    try:
        return call(*args)
    except StorageError:
        return None


SPELLINGS = st.one_of(
    st.sampled_from(["", "..", "../b", "%", "*", "_", "a%", "'", "a/../x", "//x", "\\"]),
    st.text(alphabet=st.sampled_from(list("ab/.%*_:-\\ '\"$é中")), max_size=30),
    st.text(min_size=510, max_size=515, alphabet="k"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=SPELLINGS, value=st.integers())
def test_no_spelling_crosses_from_one_visitor_to_another_or_the_app(alice, bob, app, key, value):
    text = json.dumps(value)
    stored = True
    try:
        alice.kv_set(key, text)
        alice.s3_put(key, "c2VjcmV0")
        alice.ds_insert("c", json.dumps({"id": key, "v": value}))
    except StorageError:
        stored = False
    if stored:
        assert alice.kv_get(key) == text
    prefix = key[:2]
    for reader in (bob, app):
        assert _quiet(reader.kv_get, key) is None and _quiet(reader.s3_get, key) is None
        assert _quiet(reader.ds_find_one, "c", json.dumps(key)) is None
        assert json.loads(reader.kv_list(prefix)) == []
        assert json.loads(reader.s3_list(prefix)) == []
        for query in ({}, {"$or": [{"id": key}, {"v": value}]}, {"id": {"$ne": ""}}):
            assert json.loads(reader.ds_find("c", json.dumps(query), "")) == []
            assert reader.ds_count("c", json.dumps(query)) == 0
    alice.ds_delete("c", "{}")
    for path in json.loads(alice.s3_list("")):
        alice.s3_delete(path["path"])
    for entry in json.loads(alice.kv_list("")):
        alice.kv_delete(entry["key"])
    assert _usage_recount(alice.db, alice.owner) == (0, 0)
    assert alice.db.read_sync(user_quota.usage, alice.owner) == (0, 0)


def test_usage_counter_matches_the_rows_after_every_kind_of_write(db):
    owner = UserScope("app2", USERS[0])
    s = UserStorage(db, "app2", USERS[0])
    s.kv_set("k", '"one"')
    s.kv_set("k", '"a longer value"')  # an upsert: the update trigger
    s.kv_set("t", "1", 60_000)
    s.ds_insert("notes", '{"id": "n", "t": "x"}')
    s.ds_update("notes", "{}", '{"$set": {"t": "much longer text"}, "$push": {"tags": "a"}}')
    s.s3_put("p/a.bin", "AAECAw==")
    s.s3_put("p/a.bin", "AAEC")  # replaced by a smaller object
    assert db.read_sync(user_quota.usage, owner) == _usage_recount(db, owner)
    assert db.read_sync(user_quota.usage, owner)[1] == 4
    s.ds_delete("notes", "{}")
    s.kv_delete("k")
    assert db.read_sync(user_quota.usage, owner) == _usage_recount(db, owner)


def test_a_write_past_the_quota_changes_nothing(db):
    s = UserStorage(db, "app2", USERS[1])
    db.write_sync(db_settings.put, "user_storage_max_bytes", "300")
    try:
        s.kv_set("a", json.dumps("x" * 200))
        before = db.read_sync(user_quota.usage, s.owner)
        with pytest.raises(StorageError, match="USER_QUOTA_EXCEEDED"):
            s.kv_set("b", json.dumps("y" * 200))
        with pytest.raises(StorageError, match="USER_QUOTA_EXCEEDED"):
            s.s3_put("big", "eXl5" * 40)
        with pytest.raises(StorageError, match="USER_QUOTA_EXCEEDED"):
            s.kv_set("a", json.dumps("z" * 400))  # growing an existing value
        assert db.read_sync(user_quota.usage, s.owner) == before
        assert s.kv_get("b") is None and s.kv_get("a") == json.dumps("x" * 200)
        assert json.loads(s.s3_list("")) == []
        s.kv_set("a", '"small"')  # shrinking is allowed
    finally:
        db.write_sync(lambda conn: conn.execute("DELETE FROM settings"))


def test_export_purge_and_account_deletion(db):
    def add(conn):
        _visitor(conn, "app2", "dev:carol@x.test")

    db.write_sync(add)
    s = UserStorage(db, "app2", "dev:carol@x.test")
    s.kv_set("k", '{"a": 1}')
    s.ds_insert("c", '{"id": "d", "x": 2}')
    s.s3_put("f.txt", "aGk=", "text/plain")
    data = db.read_sync(user_data.export, s.owner)
    assert data["kv"][0]["value"] == {"a": 1} and data["documents"]["c"][0]["x"] == 2
    assert data["objects"][0]["data_b64"] == "aGk="
    assert db.write_sync(user_data.purge, s.owner) == {"kv": 1, "documents": 1, "objects": 1}
    assert db.read_sync(user_quota.usage, s.owner) == (0, 0)
    s.kv_set("again", "1")
    db.write_sync(visitors.delete_user, "app2", "carol@x.test")
    assert db.read_sync(user_data.export, s.owner)["kv"] == []
    with pytest.raises(StorageError):  # no account: no rows can be written for it
        s.kv_set("k", "1")


def test_deleting_the_app_deletes_its_visitors_data(tmp_path):
    with Database.open(tmp_path / "data.db") as db:
        db.write_sync(ensure_site, "gone")
        db.write_sync(_visitor, "gone", USERS[0])
        s = UserStorage(db, "gone", USERS[0])
        s.kv_set("k", "1")
        s.s3_put("f", "aGk=")
        db.write_sync(delete_site, "gone")

        def left(conn):
            return [
                conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("user_kv", "user_objects", "user_storage_usage", "app_users")
            ]

        assert db.read_sync(left) == [0, 0, 0, 0]


FIELDS = st.sampled_from(["id", "v", "user_id", "app", "_createdAt", "owner", "a.b", "'"])
VALUES = st.one_of(st.integers(-3, 3), st.sampled_from(["", "x", USERS[0], "app1", "%"]))
CONDITIONS = st.one_of(
    VALUES,
    st.dictionaries(st.sampled_from(["$ne", "$gt", "$lte", "$eq"]), VALUES, min_size=1),
    st.fixed_dictionaries({"$in": st.lists(VALUES, max_size=3)}),
    st.fixed_dictionaries({"$exists": st.booleans()}),
)
QUERIES = st.recursive(
    st.dictionaries(FIELDS, CONDITIONS, max_size=3),
    lambda inner: st.builds(
        lambda op, parts: {op: parts},
        st.sampled_from(["$or", "$and"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=QUERIES, sort=st.sampled_from([{}, {"sort": {"user_id": 1}}, {"sort": {"v": -1}}]))
def test_no_document_query_reaches_another_visitors_documents(db, query, sort):
    alice = UserStorage(db, "app2", USERS[0])
    if alice.ds_count("q", "{}") == 0:
        for i in range(3):
            alice.ds_insert("q", json.dumps({"v": i, "user_id": USERS[1], "app": "app2"}))
    bob = UserStorage(db, "app2", USERS[1])
    for reader in (bob, AppStorage(db, "app2")):
        found = _quiet(reader.ds_find, "q", json.dumps(query), json.dumps(sort))
        assert found is None or json.loads(found) == []
        assert _quiet(reader.ds_count, "q", json.dumps(query)) in (None, 0)
        assert _quiet(reader.ds_update, "q", json.dumps(query), '{"$set": {"hit": 1}}') in (None, 0)
        assert _quiet(reader.ds_delete, "q", json.dumps(query)) in (None, 0)
    assert alice.ds_count("q", '{"hit": 1}') == 0 and alice.ds_count("q", "{}") == 3
