"""fazt.storage.ds: per-app (or per-visitor) JSON documents in named collections.

Queries and sort options are compiled to SQL by document_query (which documents the query
language); this module runs them, scoped to one app and collection, and applies updates.
"""

import json
import sqlite3
from typing import Any

from fazt.storage.common import check_depth, check_size, check_text, dumps, now
from fazt.storage.document_query import (
    COLUMNS,
    compile_options,
    compile_query,
    is_number,
    segments,
)
from fazt.storage.errors import StorageError
from fazt.storage.scope import Owner, rows

MAX_COLLECTION_CHARS = 128
MAX_ID_CHARS = 128
MAX_DOCUMENT_BYTES = 1024 * 1024  # 1 MiB of canonical JSON per document
MAX_FIND_LIMIT = 1000  # find() returns at most this many documents (also the default)
MAX_RESULT_BYTES = 16 * 1024 * 1024  # a find() result bigger than this is an error
UPDATE_OPERATORS = ("$set", "$unset", "$inc", "$push")


def collection_name(collection: Any) -> str:
    return check_text("collection", collection, MAX_COLLECTION_CHARS)


# -- reading ------------------------------------------------------------------------------


def _document(row: sqlite3.Row) -> dict:
    return {
        "id": row["id"],
        **json.loads(row["data"]),
        "_createdAt": row["created_at"],
        "_updatedAt": row["updated_at"],
    }


_SELECT = "SELECT d.seq, d.id, d.data, d.created_at, d.updated_at FROM "


def _scope(app: Owner, collection: str) -> tuple[str, str, tuple]:
    """(table, `d.app = ? AND d.collection = ?` for the owner, its arguments)."""
    at = rows(app, "documents")
    return at.table, f"{at.match('d')} AND d.collection = ?", (*at.args, collection)


def find(
    conn: sqlite3.Connection, app: Owner, collection: str, query: Any, options: Any = None
) -> list[dict]:
    table, scope, sargs = _scope(app, collection_name(collection))
    where, params = compile_query(query)
    order, oparams, limit, offset = compile_options(options, MAX_FIND_LIMIT)
    cursor = conn.execute(
        f"{_SELECT}{table} AS d WHERE {scope} AND {where} ORDER BY {order} LIMIT ? OFFSET ?",
        (*sargs, *params, *oparams, limit, offset),
    )
    out, total = [], 0
    for row in cursor:
        total += len(row["data"])
        if total > MAX_RESULT_BYTES:
            raise StorageError(
                f"the find result is larger than {MAX_RESULT_BYTES} bytes; use a smaller limit"
            )
        out.append(_document(row))
    return out


def find_one(
    conn: sqlite3.Connection, app: Owner, collection: str, id_or_query: Any
) -> dict | None:
    """By id (a string) or by query (an object): the first match in insertion order."""
    if isinstance(id_or_query, str):
        id_or_query = {"id": id_or_query}
    elif not isinstance(id_or_query, dict):
        raise StorageError("findOne needs an id string or a query object")
    found = find(conn, app, collection, id_or_query, {"limit": 1})
    return found[0] if found else None


def count(conn: sqlite3.Connection, app: Owner, collection: str, query: Any) -> int:
    table, scope, sargs = _scope(app, collection_name(collection))
    where, params = compile_query(query)
    return conn.execute(
        f"SELECT COUNT(*) FROM {table} AS d WHERE {scope} AND {where}", (*sargs, *params)
    ).fetchone()[0]


def collections(conn: sqlite3.Connection, app: Owner) -> list[dict]:
    """[{name, count}] for every collection of the app (or visitor), by name."""
    at = rows(app, "documents")
    found = conn.execute(
        f"SELECT collection, COUNT(*) FROM {at.table} WHERE {at.match()} "
        "GROUP BY collection ORDER BY collection",
        at.args,
    ).fetchall()
    return [{"name": r[0], "count": r[1]} for r in found]


# -- writing ------------------------------------------------------------------------------


def _check_no_nul(doc: dict) -> None:
    """SQLite's JSON functions cut a string at NUL ("x\\u0000y" reads as "x"), so such a
    value would match queries it does not equal: refuse it."""
    stack: list[Any] = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise StorageError("strings in a document must not contain NUL characters")
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _encode(doc: dict) -> str:
    check_depth("document", doc)
    _check_no_nul(doc)
    data = dumps(doc)
    check_size("document", data, MAX_DOCUMENT_BYTES)
    return data


def insert(conn: sqlite3.Connection, app: Owner, collection: str, doc: Any) -> dict:
    """Store a document; `id` (a non-empty string) is kept, otherwise a random UUID."""
    collection = collection_name(collection)
    if not isinstance(doc, dict):
        raise StorageError("ds.insert needs a document object")
    doc = dict(doc)
    doc_id = doc.pop("id", None)
    if doc_id is None:
        import uuid  # here: uuid loads platform and more, which an idle worker lacks

        doc_id = str(uuid.uuid4())
    else:
        check_text("id", doc_id, MAX_ID_CHARS)
    doc.pop("_createdAt", None)
    doc.pop("_updatedAt", None)
    data = _encode(doc)
    at = rows(app, "documents")
    exists = conn.execute(
        f"SELECT 1 FROM {at.table} WHERE {at.match()} AND collection = ? AND id = ?",
        (*at.args, collection, doc_id),
    ).fetchone()
    if exists:
        raise StorageError(f"a document with id '{doc_id}' already exists in '{collection}'")
    stamp = now()
    conn.execute(
        f"INSERT INTO {at.table} ({at.columns}, collection, id, data, created_at, updated_at) "
        f"VALUES ({at.marks}, ?, ?, ?, ?, ?)",
        (*at.args, collection, doc_id, data, stamp, stamp),
    )
    return {"id": doc_id, **json.loads(data), "_createdAt": stamp, "_updatedAt": stamp}


def _parse_changes(changes: Any) -> list[tuple[str, list[str], Any]]:
    """Validate an update: [(operator, path segments, value)] in the order given."""
    if not isinstance(changes, dict):
        raise StorageError("update changes must be an object")
    if not any(k.startswith("$") for k in changes):
        changes = {"$set": changes} if changes else {}
    elif not all(k.startswith("$") for k in changes):
        raise StorageError("update changes mix $-operators and plain fields")
    steps = []
    for op, spec in changes.items():
        if op not in UPDATE_OPERATORS:
            raise StorageError(f"unknown update operator '{op}'")
        if not isinstance(spec, dict):
            raise StorageError(f"{op} needs an object of fields")
        for field, value in spec.items():
            parts = segments(field)
            if parts[0] in COLUMNS:
                raise StorageError(f"'{parts[0]}' cannot be changed")
            if op == "$inc" and not is_number(value):
                raise StorageError(f"$inc needs a number for '{field}'")
            steps.append((op, parts, value))
    return steps


def _apply(doc: dict, steps: list[tuple[str, list[str], Any]]) -> None:
    for op, parts, value in steps:
        field = ".".join(parts)
        parent: Any = doc
        for part in parts[:-1]:
            child = parent.get(part)
            if child is None:
                if op == "$unset":
                    parent = None
                    break
                child = parent[part] = {}
            elif not isinstance(child, dict):
                if op == "$unset":
                    parent = None
                    break
                raise StorageError(f"cannot {op} '{field}': '{part}' is not an object")
            parent = child
        if parent is None:
            continue
        last = parts[-1]
        if op == "$set":
            parent[last] = value
        elif op == "$unset":
            parent.pop(last, None)
        elif op == "$inc":
            current = parent.get(last, 0)
            if not is_number(current):
                raise StorageError(f"cannot $inc '{field}': it is not a number")
            parent[last] = current + value
        else:  # $push
            current = parent.get(last)
            if current is None:
                parent[last] = [value]
            elif isinstance(current, list):
                current.append(value)
            else:
                raise StorageError(f"cannot $push to '{field}': it is not an array")


def update(conn: sqlite3.Connection, app: Owner, collection: str, query: Any, changes: Any) -> int:
    """Apply changes to every matching document (all or nothing); the number matched."""
    table, scope, sargs = _scope(app, collection_name(collection))
    where, params = compile_query(query)
    steps = _parse_changes(changes)
    matched = conn.execute(
        f"SELECT d.seq, d.data FROM {table} AS d WHERE {scope} AND {where}", (*sargs, *params)
    ).fetchall()
    stamp = now()
    for row in matched:
        doc = json.loads(row["data"])
        _apply(doc, steps)
        conn.execute(
            f"UPDATE {table} SET data = ?, updated_at = ? WHERE seq = ?",
            (_encode(doc), stamp, row["seq"]),
        )
    return len(matched)


def replace(conn: sqlite3.Connection, app: Owner, collection: str, doc_id: str, doc: Any) -> bool:
    """Replace one document's whole body (the dashboard's editor); False if it is gone.
    `id`, `_createdAt` and `_updatedAt` in `doc` are ignored: they are not the body."""
    collection = collection_name(collection)
    check_text("id", doc_id, MAX_ID_CHARS)
    if not isinstance(doc, dict):
        raise StorageError("a document must be a JSON object")
    body = {k: v for k, v in doc.items() if k not in COLUMNS}
    at = rows(app, "documents")
    cur = conn.execute(
        f"UPDATE {at.table} SET data = ?, updated_at = ? "
        f"WHERE {at.match()} AND collection = ? AND id = ?",
        (_encode(body), now(), *at.args, collection, doc_id),
    )
    return cur.rowcount == 1


def delete(conn: sqlite3.Connection, app: Owner, collection: str, query: Any) -> int:
    """Delete every matching document ({} deletes the collection); the number deleted."""
    table, scope, sargs = _scope(app, collection_name(collection))
    if query is None:
        raise StorageError("ds.delete needs a query ({} deletes everything)")
    where, params = compile_query(query)
    cur = conn.execute(
        f"DELETE FROM {table} WHERE seq IN "
        f"(SELECT d.seq FROM {table} AS d WHERE {scope} AND {where})",
        (*sargs, *params),
    )
    return cur.rowcount
