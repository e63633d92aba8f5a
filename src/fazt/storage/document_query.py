"""fazt.storage.document_query: the document query language compiled to SQL (operators, sort).

Queries compile to SQL over SQLite's JSON1 functions. Field names never reach the SQL
text: a field `a.b` becomes the JSON path `$."a"."b"`, which is passed as a *bound
parameter* to `json_type(d.data, ?)` / `json_extract(d.data, ?)`. Operators are a
whitelist; anything else is a StorageError. Values are bound parameters too.

Semantics (see docs/storage.md):
- Comparisons are type-aware: a number never equals a string, `true` never equals 1.
- `{f: null}` matches documents where f is null *or missing*.
- `{f: {...}}` (an object without `$` keys) and `{f: [...]}` are exact equality on the
  whole value (key order does not matter: documents are stored in canonical JSON).
- `$ne` / `$nin` match documents where the field is missing.
- `$gt/$gte/$lt/$lte` take a number or a string and only match fields of that type.
- `$contains`: on an array field, an element equal to the value; on a string field (with
  a string value), a case-sensitive substring.
- `id`, `_createdAt`, `_updatedAt` are columns, queryable and sortable like fields.
"""

from typing import Any

from fazt.storage.common import check_depth, check_text, check_unicode, dumps
from fazt.storage.errors import StorageError

MAX_FIELD_CHARS = 256
MAX_PATH_SEGMENTS = 32
MAX_OFFSET = 1_000_000_000
MAX_IN_VALUES = 500
MAX_CONDITIONS = 500  # leaf conditions in one query
MAX_SORT_FIELDS = 8

# Fields that are columns rather than JSON inside `data` (column names are constants).
COLUMNS = {"id": "d.id", "_createdAt": "d.created_at", "_updatedAt": "d.updated_at"}
COMPARISONS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
FIND_OPTIONS = {"sort", "limit", "offset"}

_NUMERIC = "IFNULL(json_type(d.data, ?), '') IN ('integer', 'real')"
_TYPE_IS = "IFNULL(json_type(d.data, ?), '') = ?"
_INT64 = 2**63 - 1
# Sort rank by JSON type (docs/storage.md): missing/null, then booleans and numbers, then
# strings, then arrays/objects. json_extract alone would sort an object's JSON text among
# the strings ('{"b":1}' before "~").
_SORT_RANK = (
    "CASE IFNULL(json_type(d.data, ?), 'null') WHEN 'null' THEN 0 WHEN 'text' THEN 2 "
    "WHEN 'object' THEN 3 WHEN 'array' THEN 3 ELSE 1 END"
)


def segments(field: Any) -> list[str]:
    """Split a field name on dots; each segment must be addressable in a JSON path."""
    check_text("field name", field, MAX_FIELD_CHARS)
    parts = field.split(".")
    if len(parts) > MAX_PATH_SEGMENTS:
        raise StorageError(f"field name '{field}' has more than {MAX_PATH_SEGMENTS} parts")
    for part in parts:
        if not part:
            raise StorageError(f"field name '{field}' has an empty part")
        if '"' in part or "\\" in part or any(ord(ch) < 0x20 for ch in part):
            raise StorageError(
                f"field name '{field}' contains a double quote, backslash or control "
                "character; such fields can be stored but not queried or updated"
            )
    return parts


def json_path(field: str) -> str:
    """`a.b` -> `$."a"."b"`: every segment quoted, so `$`, `[`, `'`, `*` are plain text."""
    return "$" + "".join(f'."{part}"' for part in segments(field))


def _bind_number(value: int | float) -> int | float:
    if isinstance(value, int) and abs(value) > _INT64:
        return float(value)
    return value


def is_number(value: Any) -> bool:
    """An int or float, not a bool (JSON numbers)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Compiler:
    """Builds one WHERE expression (always 0 or 1, never NULL) and its parameters."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.conditions = 0

    def _count(self) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise StorageError(f"the query has more than {MAX_CONDITIONS} conditions")

    def query(self, query: Any) -> str:
        if not isinstance(query, dict):
            raise StorageError("a query must be an object")
        parts = []
        for key, value in query.items():
            if key.startswith("$"):
                if key not in ("$or", "$and"):
                    raise StorageError(f"unknown query operator '{key}'")
                if not isinstance(value, list) or not value:
                    raise StorageError(f"{key} needs a non-empty array of queries")
                joiner = " OR " if key == "$or" else " AND "
                parts.append("(" + joiner.join(self.query(q) for q in value) + ")")
            elif isinstance(value, dict) and any(k.startswith("$") for k in value):
                if not all(k.startswith("$") for k in value):
                    raise StorageError(f"the condition on '{key}' mixes operators and plain fields")
                parts.append(self.operators(key, value))
            else:
                parts.append(self.equals(key, value))
        return "(" + " AND ".join(parts) + ")" if parts else "1"

    def operators(self, field: str, ops: dict) -> str:
        parts = []
        for op, arg in ops.items():
            if op == "$eq":
                parts.append(self.equals(field, arg))
            elif op == "$ne":
                parts.append("NOT " + self.equals(field, arg))
            elif op in COMPARISONS:
                parts.append(self.compare(field, op, arg))
            elif op in ("$in", "$nin"):
                if not isinstance(arg, list):
                    raise StorageError(f"{op} needs an array")
                if len(arg) > MAX_IN_VALUES:
                    raise StorageError(f"{op} takes at most {MAX_IN_VALUES} values")
                inner = "(" + " OR ".join(self.equals(field, v) for v in arg) + ")" if arg else "0"
                parts.append(inner if op == "$in" else "NOT " + inner)
            elif op == "$contains":
                parts.append(self.contains(field, arg))
            elif op == "$exists":
                if not isinstance(arg, bool):
                    raise StorageError("$exists needs true or false")
                parts.append(self.exists(field, arg))
            else:
                raise StorageError(f"unknown query operator '{op}'")
        return "(" + " AND ".join(parts) + ")"

    def equals(self, field: str, value: Any) -> str:
        self._count()
        if field in COLUMNS:
            if not isinstance(value, str):
                return "0"
            self.params.append(value)
            return f"({COLUMNS[field]} = ?)"
        path = json_path(field)
        if value is None:
            self.params.append(path)
            return "(IFNULL(json_type(d.data, ?), 'null') = 'null')"
        if isinstance(value, bool):
            self.params += [path, "true" if value else "false"]
            return f"({_TYPE_IS})"
        if is_number(value):
            self.params += [path, path, _bind_number(value)]
            return f"({_NUMERIC} AND json_extract(d.data, ?) = ?)"
        if isinstance(value, str):
            self.params += [path, "text", path, value]
            return f"({_TYPE_IS} AND json_extract(d.data, ?) = ?)"
        kind = "object" if isinstance(value, dict) else "array"
        self.params += [path, kind, path, dumps(value)]
        return f"({_TYPE_IS} AND json_extract(d.data, ?) = ?)"

    def compare(self, field: str, op: str, value: Any) -> str:
        self._count()
        sign = COMPARISONS[op]
        if not (is_number(value) or isinstance(value, str)):
            raise StorageError(f"{op} needs a number or a string")
        if field in COLUMNS:
            if not isinstance(value, str):
                return "0"
            self.params.append(value)
            return f"({COLUMNS[field]} {sign} ?)"
        path = json_path(field)
        if isinstance(value, str):
            self.params += [path, "text", path, value]
            return f"({_TYPE_IS} AND json_extract(d.data, ?) {sign} ?)"
        self.params += [path, path, _bind_number(value)]
        return f"({_NUMERIC} AND json_extract(d.data, ?) {sign} ?)"

    def contains(self, field: str, value: Any) -> str:
        self._count()
        if field in COLUMNS:
            if not isinstance(value, str):
                return "0"
            self.params.append(value)
            return f"(instr({COLUMNS[field]}, ?) > 0)"
        path = json_path(field)
        if value is None:
            element, eargs = "e.type = 'null'", []
        elif isinstance(value, bool):
            element, eargs = "e.type = ?", ["true" if value else "false"]
        elif is_number(value):
            element, eargs = "e.type IN ('integer', 'real') AND e.value = ?", [_bind_number(value)]
        elif isinstance(value, str):
            element, eargs = "e.type = 'text' AND e.value = ?", [value]
        else:
            kind = "object" if isinstance(value, dict) else "array"
            element, eargs = "e.type = ? AND e.value = ?", [kind, dumps(value)]
        self.params += [path, "array", path, *eargs]
        sql = f"({_TYPE_IS} AND EXISTS (SELECT 1 FROM json_each(d.data, ?) AS e WHERE {element}))"
        if isinstance(value, str):
            self.params += [path, "text", path, value]
            sql = f"({sql} OR ({_TYPE_IS} AND instr(json_extract(d.data, ?), ?) > 0))"
        return sql

    def exists(self, field: str, present: bool) -> str:
        self._count()
        if field in COLUMNS:
            return "1" if present else "0"
        self.params.append(json_path(field))
        return f"(json_type(d.data, ?) IS {'NOT ' if present else ''}NULL)"


def compile_query(query: Any) -> tuple[str, list[Any]]:
    """A query object (None = everything) -> (SQL expression over alias d, parameters)."""
    if query is None:
        return "1", []
    check_depth("query", query)
    compiler = _Compiler()
    sql = compiler.query(query)
    for param in compiler.params:  # sqlite3 would raise UnicodeEncodeError while binding
        if isinstance(param, str):
            check_unicode("query value", param)
    return sql, compiler.params


def compile_options(options: Any, max_limit: int) -> tuple[str, list[Any], int, int]:
    """{sort, limit, offset} -> (ORDER BY expression, its parameters, limit, offset).

    `max_limit` is both the default and the largest limit: the caller's result cap.
    """
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise StorageError("find options must be an object")
    unknown = set(options) - FIND_OPTIONS
    if unknown:
        raise StorageError(f"unknown find option(s): {', '.join(sorted(unknown))}")
    limit = _int_option("limit", options.get("limit"), max_limit, max_limit)
    offset = _int_option("offset", options.get("offset"), 0, MAX_OFFSET)
    order, params = [], []
    sort = options.get("sort")
    if sort is not None:
        if not isinstance(sort, dict):
            raise StorageError("sort must be an object like {field: 1} or {field: -1}")
        if len(sort) > MAX_SORT_FIELDS:
            raise StorageError(f"sort takes at most {MAX_SORT_FIELDS} fields")
        for field, direction in sort.items():
            if direction in (1, "asc"):
                word = "ASC"
            elif direction in (-1, "desc"):
                word = "DESC"
            else:
                raise StorageError(f"sort direction for '{field}' must be 1, -1, 'asc' or 'desc'")
            if isinstance(direction, bool):
                raise StorageError(f"sort direction for '{field}' must be 1, -1, 'asc' or 'desc'")
            if field in COLUMNS:
                order.append(f"{COLUMNS[field]} {word}")
            else:
                path = json_path(field)
                params += [path, path]
                order.append(f"{_SORT_RANK} {word}, json_extract(d.data, ?) {word}")
    order.append("d.seq ASC")
    return ", ".join(order), params, limit, offset


def _int_option(name: str, value: Any, default: int, maximum: int) -> int:
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise StorageError(f"{name} must be an integer from 0 to {maximum}")
    return value
