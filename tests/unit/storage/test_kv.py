"""fazt.storage.kv through AppStorage, on a real database file."""

import json
import time

import pytest

from fazt.storage import compat_v09, kv
from fazt.storage.bindings import StorageError


def entries(st, prefix=""):
    return json.loads(st.kv_list(prefix))


def backdate(db, app, key):
    db.write_sync(
        lambda c: c.execute(
            "UPDATE app_kv SET expires_at = '2000-01-01T00:00:00.000000Z' "
            "WHERE app = ? AND key = ?",
            (app, key),
        )
    )


def raw_count(db, app):
    return db.read_sync(
        lambda c: c.execute("SELECT COUNT(*) FROM app_kv WHERE app = ?", (app,)).fetchone()[0]
    )


@pytest.mark.parametrize(
    "value",
    ["text", 0, -1.5, True, False, None, [1, "two", None], {"a": {"b": [1, 2]}}, "héllo ☃ 𝄞"],
)
def test_set_get_round_trips_every_json_type(st, value):
    st.kv_set("k", json.dumps(value))
    assert json.loads(st.kv_get("k")) == value


def test_null_value_is_distinct_from_missing(st):
    st.kv_set("n", "null")
    assert st.kv_get("n") == "null"
    assert st.kv_get("absent") is None


def test_set_overwrites_and_delete_reports_whether_it_existed(st):
    st.kv_set("k", "1")
    st.kv_set("k", "2")
    assert st.kv_get("k") == "2"
    assert st.kv_delete("k") is True
    assert st.kv_get("k") is None
    assert st.kv_delete("k") is False


def test_list_is_literal_case_sensitive_prefix_sorted(st):
    for key in ["user:b", "user:a", "User:c", "userx", "user%", "user_1", "a", "user:"]:
        st.kv_set(key, json.dumps(key))
    assert [e["key"] for e in entries(st, "user:")] == ["user:", "user:a", "user:b"]
    # LIKE wildcards are plain characters.
    assert [e["key"] for e in entries(st, "user%")] == ["user%"]
    assert [e["key"] for e in entries(st, "user_")] == ["user_1"]
    assert [e["key"] for e in entries(st, "")] == sorted(
        ["user:b", "user:a", "User:c", "userx", "user%", "user_1", "a", "user:"]
    )
    first = entries(st, "a")[0]
    assert first["value"] == "a" and "expiresAt" not in first


def test_list_prefix_with_unicode_and_quotes(st):
    st.kv_set("é'x", "1")
    st.kv_set("é'y", "2")
    st.kv_set("e'x", "3")
    assert [e["key"] for e in entries(st, "é'")] == ["é'x", "é'y"]


def test_ttl_sets_expires_at_and_expired_keys_are_invisible_and_swept(db, st):
    st.kv_set("t", '"v"', 60_000)
    st.kv_set("keep", "1")
    [entry] = entries(st, "t")
    # As v0.9: expiresAt is ms since the epoch (a number), 60 s after the write.
    assert type(entry["expiresAt"]) is int
    assert 59_000 <= entry["expiresAt"] - compat_v09.epoch_ms(entry["updatedAt"]) <= 60_001
    backdate(db, "app1", "t")
    assert st.kv_get("t") is None
    assert entries(st, "t") == []
    assert db.read_sync(kv.count_keys, "app1") == 1
    assert raw_count(db, "app1") == 2  # still there until a write sweeps it
    st.kv_set("other", "1")
    assert raw_count(db, "app1") == 2  # t swept, other added
    assert (
        db.read_sync(lambda c: c.execute("SELECT key FROM app_kv WHERE key='t'").fetchone()) is None
    )


def test_small_ttl_expires_without_backdating(st):
    st.kv_set("short", "1", 1)
    deadline = time.monotonic() + 5
    while st.kv_get("short") is not None:
        assert time.monotonic() < deadline, "a 1 ms TTL never expired"
    assert entries(st, "short") == []


def test_set_without_ttl_clears_an_earlier_ttl(db, st):
    st.kv_set("k", "1", 1000)
    st.kv_set("k", "2")
    expires = db.read_sync(
        lambda c: c.execute("SELECT expires_at FROM app_kv WHERE key='k'").fetchone()[0]
    )
    assert expires is None
    assert "expiresAt" not in entries(st, "k")[0]


def test_delete_of_an_expired_key_reports_false(db, st):
    st.kv_set("k", "1", 60_000)
    backdate(db, "app1", "k")
    assert st.kv_delete("k") is False


def test_sweep_expired_covers_all_apps(db, st, other):
    st.kv_set("k", "1", 60_000)
    other.kv_set("k", "1", 60_000)
    other.kv_set("forever", "1")
    backdate(db, "app1", "k")
    backdate(db, "app2", "k")
    assert db.write_sync(kv.sweep_expired) == 2
    assert raw_count(db, "app1") == 0 and raw_count(db, "app2") == 1


@pytest.mark.parametrize("ttl", [0, -5, float("inf"), float("nan"), True, "100", kv.MAX_TTL_MS + 1])
def test_bad_ttl_is_refused(st, ttl):
    with pytest.raises(StorageError):
        st.kv_set("k", "1", ttl)
    assert st.kv_get("k") is None


@pytest.mark.parametrize("key", ["", "x" * (kv.MAX_KEY_CHARS + 1), 5, None, "a\x00b", "\ud800"])
def test_bad_keys_are_refused(st, key):
    with pytest.raises(StorageError):
        st.kv_set(key, "1")


def test_key_at_the_length_limit_works(st):
    key = "k" * kv.MAX_KEY_CHARS
    st.kv_set(key, "1")
    assert st.kv_get(key) == "1"


@pytest.mark.parametrize("value", [None, "", "{bad", "NaN", "[Infinity]", "undefined"])
def test_bad_values_are_refused(st, value):
    with pytest.raises(StorageError):
        st.kv_set("k", value)


def test_value_size_limit(st):
    payload = "x" * (kv.MAX_VALUE_BYTES - 2)
    st.kv_set("big", json.dumps(payload))
    assert len(st.kv_get("big")) == kv.MAX_VALUE_BYTES
    with pytest.raises(StorageError, match="limit"):
        st.kv_set("bigger", json.dumps(payload + "x"))
    # Multi-byte characters count as bytes, not characters.
    with pytest.raises(StorageError, match="limit"):
        st.kv_set("wide", json.dumps("é" * (kv.MAX_VALUE_BYTES // 2)))


def test_value_nesting_limit(st):
    deep = "[" * 200 + "]" * 200
    with pytest.raises(StorageError, match="nested"):
        st.kv_set("deep", deep)


def test_list_is_capped(st, db, monkeypatch):
    monkeypatch.setattr(kv, "MAX_LIST_ENTRIES", 3)
    for i in range(5):
        st.kv_set(f"k{i}", str(i))
    assert [e["key"] for e in entries(st)] == ["k0", "k1", "k2"]


def test_apps_are_isolated(st, other):
    st.kv_set("shared", '"one"')
    other.kv_set("shared", '"two"')
    assert st.kv_get("shared") == '"one"' and other.kv_get("shared") == '"two"'
    assert [e["value"] for e in entries(other)] == ["two"]
    assert st.kv_delete("shared") is True
    assert other.kv_get("shared") == '"two"'


def test_injection_attempts_in_keys_and_prefixes_are_plain_text(db, st, other):
    nasty = ["a'); DROP TABLE app_kv;--", "' OR '1'='1", '"; DELETE FROM sites; --', "%", "*"]
    other.kv_set("secret", "1")
    for key in nasty:
        st.kv_set(key, json.dumps(key))
        assert json.loads(st.kv_get(key)) == key
    assert [(e["key"], e["value"]) for e in entries(st, "' OR '1'='1")] == [
        ("' OR '1'='1", "' OR '1'='1")
    ]
    assert st.kv_get("secret") is None
    assert other.kv_get("secret") == "1"
    assert len(entries(st)) == len(nasty)


def test_storage_of_an_app_that_no_longer_exists_is_a_storage_error(db):
    from fazt.storage.bindings import AppStorage

    with pytest.raises(StorageError):
        AppStorage(db, "ghost").kv_set("k", "1")


def test_object_values_keep_their_key_order(st):
    st.kv_set("o", '{"z": 1, "a": 2, "m": {"y": 1, "b": 2}}')
    assert list(json.loads(st.kv_get("o"))) == ["z", "a", "m"]
    assert list(json.loads(st.kv_get("o"))["m"]) == ["y", "b"]


def test_list_result_size_cap_is_an_error(st, monkeypatch):
    st.kv_set("a", json.dumps("x" * 100))
    st.kv_set("b", json.dumps("x" * 100))
    monkeypatch.setattr(kv, "MAX_LIST_BYTES", 150)
    with pytest.raises(StorageError, match="longer prefix"):
        st.kv_list("")
    assert len(entries(st, "a")) == 1
