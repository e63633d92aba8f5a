"""What the dashboard's storage browser adds to the storage modules: kv pages (`after`)
and replacing a document's body."""

import json

import pytest

from fazt.storage import documents, kv
from fazt.storage.bindings import StorageError


def test_kv_pages_on_after_a_key_within_the_prefix(db):
    def fill(conn):
        for key in ("a1", "a2", "a3", "b1"):
            kv.store_value(conn, "app1", key, json.dumps(key), None)

    db.write_sync(fill)
    page = db.read_sync(kv.list_entries, "app1", "a", "", 2)
    assert [e["key"] for e in page] == ["a1", "a2"]
    rest = db.read_sync(kv.list_entries, "app1", "a", "a2", 2)
    assert [e["key"] for e in rest] == ["a3"]
    assert [e["key"] for e in db.read_sync(kv.list_entries, "app1")] == ["a1", "a2", "a3", "b1"]


def test_replace_keeps_id_and_creation_and_ignores_them_in_the_body(db):
    made = db.write_sync(documents.insert, "app1", "c", {"id": "x", "a": 1, "b": 2})
    changed = {"a": 5, "id": "other", "_createdAt": "1999", "_updatedAt": "1999"}
    assert db.write_sync(documents.replace, "app1", "c", "x", changed) is True
    doc = db.read_sync(documents.find_one, "app1", "c", "x")
    assert {k: doc[k] for k in ("id", "a")} == {"id": "x", "a": 5} and "b" not in doc
    assert doc["_createdAt"] == made["_createdAt"] and doc["_updatedAt"] >= made["_updatedAt"]
    assert db.write_sync(documents.replace, "app1", "c", "missing", {}) is False
    assert db.write_sync(documents.replace, "app2", "c", "x", {}) is False  # another app's


@pytest.mark.parametrize("body", [[1], "text", {"s": "a\x00b"}])
def test_replace_refuses_what_insert_refuses_and_changes_nothing(db, body):
    db.write_sync(documents.insert, "app1", "c", {"id": "y", "a": 1})
    with pytest.raises(StorageError):
        db.write_sync(documents.replace, "app1", "c", "y", body)
    assert db.read_sync(documents.find_one, "app1", "c", "y")["a"] == 1
