"""fazt.storage.document_query on its own: what the compiled SQL text and parameters hold."""

import sqlite3

import pytest

from fazt.storage.document_query import compile_options, compile_query, json_path
from fazt.storage.errors import StorageError

HOSTILE = "a'); DROP TABLE app_documents; --"


def test_field_names_and_values_are_parameters_never_sql_text():
    sql, params = compile_query({HOSTILE: HOSTILE, "n": {"$gt": 3}})
    assert "DROP" not in sql
    assert json_path(HOSTILE) in params and HOSTILE in params and 3 in params
    assert sql.count("?") == len(params)


def test_json_paths_quote_every_segment():
    assert json_path("a.b") == '$."a"."b"'
    assert json_path("$x.[0]") == '$."$x"."[0]"'


@pytest.mark.parametrize("query", [{"$where": "1"}, {"a": {"$regex": "."}}, [], {"$or": []}])
def test_unknown_or_malformed_operators_are_errors(query):
    with pytest.raises(StorageError):
        compile_query(query)


def test_no_query_matches_everything():
    assert compile_query(None) == ("1", [])
    assert compile_query({}) == ("1", [])


def test_the_limit_cap_is_the_callers():
    assert compile_options(None, 7)[2:] == (7, 0)
    assert compile_options({"limit": 7, "offset": 2}, 7)[2:] == (7, 2)
    with pytest.raises(StorageError, match="0 to 7"):
        compile_options({"limit": 8}, 7)


def test_compiled_sql_runs_and_selects_by_type():
    """The expression is valid SQLite over alias d, and a number never equals a string."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, id TEXT, data TEXT)")
    conn.executemany(
        "INSERT INTO t (id, data) VALUES (?, ?)", [("a", '{"n": 1}'), ("b", '{"n": "1"}')]
    )
    where, params = compile_query({"n": 1})
    order, oparams, _, _ = compile_options({"sort": {"n": -1}}, 10)
    rows = conn.execute(
        f"SELECT d.id FROM t AS d WHERE {where} ORDER BY {order}", (*params, *oparams)
    ).fetchall()
    assert rows == [("a",)]
