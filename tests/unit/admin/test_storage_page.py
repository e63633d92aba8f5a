"""The storage browser's document query: a time budget on the reader it holds."""

import json
import sqlite3

import pytest

from fazt.admin import storage_page
from fazt.storage.errors import StorageError

SCHEMA = """CREATE TABLE app_documents (seq INTEGER PRIMARY KEY, app TEXT, collection TEXT,
    id TEXT, data TEXT, created_at TEXT, updated_at TEXT)"""


@pytest.fixture
def conn():
    c = sqlite3.connect(":memory:")
    c.row_factory = sqlite3.Row
    c.execute(SCHEMA)
    rows = [("a", "c", f"d{i}", json.dumps({"n": i}), "t", "t") for i in range(20_000)]
    c.executemany(
        "INSERT INTO app_documents (app, collection, id, data, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    yield c
    c.close()


def test_a_query_within_its_budget_pages_without_counting(conn):
    found = storage_page._find_page(conn, "a", "c", {"n": {"$gte": 19_990}}, None, 0)
    assert [d["id"] for d in found["documents"]] == [f"d{i}" for i in range(19_990, 20_000)]
    assert found["total"] is None and found["more"] is False
    everything = storage_page._find_page(conn, "a", "c", None, None, 0)
    assert everything["total"] == 20_000 and everything["more"] is True


def test_a_query_over_its_budget_is_refused_and_the_reader_is_left_clean(conn, monkeypatch):
    monkeypatch.setattr(storage_page, "QUERY_SECONDS", 0.0)
    with pytest.raises(StorageError, match="took longer than"):
        storage_page._find_page(conn, "a", "c", {"n": {"$gte": 19_990}}, None, 0)
    # The handler is removed: the connection's next reads are not interrupted.
    assert conn.execute("SELECT COUNT(*) FROM app_documents").fetchone()[0] == 20_000
