"""Fuzzing fazt.storage.ds queries against a reference evaluator of docs/storage.md.

Random documents go into a real SQLite database through AppStorage (the API the JavaScript
runtime calls, JSON text in and out); random queries, sorts and pages must return exactly
the documents, in exactly the order, that `matches` and `reference_order` below select.
Those two follow the documented semantics, not the SQL. Malformed queries must raise
StorageError (which the app sees as an Error and the API as a 400), never anything else.

Numbers are generated the way JavaScript's JSON.stringify writes them (integral values
below 1e21 as integer digits), since that is the only way documents reach the store.
"""

import contextlib
import json
import operator
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from fazt.db import Database
from fazt.hosting.deployments import ensure_site
from fazt.storage.bindings import AppStorage, StorageError
from fazt.storage.common import dumps

MISSING = object()
COLUMNS = ("id", "_createdAt", "_updatedAt")
# Document keys: plain, SQL-LIKE wildcards and a quote, non-ASCII, and "0" (no array indexing).
KEYS = ("a", "b", "c", "k'%_", "é", "0")
COMPARE = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}

# A database shared by the examples of this module; each example uses its own collection.
# (Hypothesis runs many examples per test: a function-scoped fixture would be shared anyway.)


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    with Database.open(tmp_path_factory.mktemp("fuzz") / "data.db") as database:
        database.write_sync(ensure_site, "fuzzapp")
        yield AppStorage(database, "fuzzapp")


# -- the reference evaluator (docs/storage.md, "Queries" and "Options for find") -----------


def is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def same(a, b):
    """JSON equality, type-aware: 1 != "1", true != 1; key order never matters."""
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, bool) or isinstance(b, bool) or is_number(a) or is_number(b):
        return type(a) is type(b) and a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return False


def lookup(stored, field):
    """The value at a dotted field (nested objects only), or MISSING."""
    if field in COLUMNS:
        return stored[field]
    current = stored["data"]
    for part in field.split("."):
        if not isinstance(current, dict) or part not in current:
            return MISSING
        current = current[part]
    return current


def equals(value, wanted):
    if wanted is None:
        return value is MISSING or value is None
    return value is not MISSING and same(value, wanted)


def contains(value, wanted):
    if isinstance(value, list):
        return any(same(element, wanted) for element in value)
    return isinstance(value, str) and isinstance(wanted, str) and wanted in value


def compare(value, op, bound):
    if is_number(bound):
        return is_number(value) and COMPARE[op](value, bound)
    return isinstance(value, str) and COMPARE[op](value, bound)


def operator_holds(value, op, arg):
    if op == "$eq":
        return equals(value, arg)
    if op == "$ne":
        return not equals(value, arg)
    if op in COMPARE:
        return compare(value, op, arg)
    if op == "$in":
        return any(equals(value, v) for v in arg)
    if op == "$nin":
        return not any(equals(value, v) for v in arg)
    if op == "$contains":
        return contains(value, arg)
    if op == "$exists":
        return (value is not MISSING) == arg
    raise AssertionError(op)


def matches(stored, query):
    for key, cond in query.items():
        if key == "$or":
            ok = any(matches(stored, q) for q in cond)
        elif key == "$and":
            ok = all(matches(stored, q) for q in cond)
        elif isinstance(cond, dict) and any(k.startswith("$") for k in cond):
            value = lookup(stored, key)
            ok = all(operator_holds(value, op, arg) for op, arg in cond.items())
        else:
            ok = equals(lookup(stored, key), cond)
        if not ok:
            return False
    return True


def sort_key(value):
    """Ascending: missing/null, then false/true and numbers, then strings, then objects/arrays."""
    if value is MISSING or value is None:
        return (0, 0)
    if isinstance(value, bool) or is_number(value):
        return (1, int(value) if isinstance(value, bool) else value)
    if isinstance(value, str):
        return (2, value)
    return (3, dumps(value))


def reference_order(stored_docs, query, options):
    """The ids find() must return: matches in insertion order, stably sorted, paged."""
    found = [d for d in stored_docs if matches(d, query)]
    options = options or {}
    for field, direction in reversed(list((options.get("sort") or {}).items())):
        found.sort(key=lambda d, f=field: sort_key(lookup(d, f)), reverse=direction in (-1, "desc"))
    offset = options.get("offset", 0)
    limit = options.get("limit", 1000)
    return [d["id"] for d in found[offset : offset + limit]]


# -- strategies ---------------------------------------------------------------------------


def js_number(value: float) -> int | float:
    """What JSON.stringify then JSON parsing gives a double: integral values as integers."""
    return int(value) if value.is_integer() and abs(value) < 1e21 else value


numbers = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2**31, 2**53, -(2**53), 9223372036854776000, 1e21, 1e300]),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False).map(js_number),
)
# Few characters, so equal and overlapping strings are common; all the troublemakers for
# SQL text (quotes, LIKE wildcards, backslash, NUL) and for byte order (é, emoji).
strings = st.one_of(
    st.sampled_from(["", "a", "b", "ab", "A", "'", "%", "_"]),
    st.text(alphabet="ab'\"%_\\\x00é😀 ", max_size=5),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, strings)
# Values common to documents and queries, so that conditions often match some documents.
common = st.sampled_from(
    [None, True, False, 0, 1, 2, -1, 1.5, "", "a", "b", "ab", "a'%", [], ["a"], [1, "a"], {"a": 1}]
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)
values = st.one_of(common, common, values)
# Most documents use the first keys, so fields are often shared.
doc_keys = st.one_of(st.sampled_from(KEYS[:2]), st.sampled_from(KEYS))
documents = st.dictionaries(doc_keys, values, max_size=4)
fields = st.one_of(
    doc_keys,
    st.lists(st.sampled_from(KEYS), min_size=2, max_size=3).map(".".join),
    st.sampled_from(COLUMNS),
)
OPERATORS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$exists"]


# Queries are generated as templates before the documents are known: a Pick stands for a
# (path, value) found in the documents, so that conditions often match some documents and
# not just none or all. `resolve` swaps them in. (Building strategies from the documents in
# each example would cost more time than the database does.)
@dataclass(frozen=True)
class Pick:
    index: int
    part: str  # "field", "value", "scalar" or "pair"
    op: str | None = None
    other: Any = None


def paths_and_values(docs):
    """Every (dotted path, value) in the documents, nested objects and array elements too."""
    found = []

    def walk(prefix, value):
        found.append((prefix, value))
        if isinstance(value, dict):
            for key, child in value.items():
                walk(f"{prefix}.{key}", child)
        elif isinstance(value, list):
            for child in value:
                walk(prefix, child)  # an element: a $contains operand for this path

    for doc in docs:
        for key, value in doc.items():
            walk(key, value)
    return found


def resolve(template, pairs):
    """The query or options a template stands for over these (path, value) pairs."""
    if isinstance(template, Pick):
        if not pairs:
            return (
                {"a": None} if template.part == "pair" else "a" if template.part == "field" else 0
            )
        path, value = pairs[template.index % len(pairs)]
        if template.part == "field":
            return path
        if template.part == "value":
            return value
        if template.part == "scalar":  # a $gt/$lt... operand
            return value if is_number(value) or isinstance(value, str) else 0
        return paired_condition(path, value, template.op, template.other)
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if isinstance(value, Pick) and value.part == "pair":
                out.update(resolve(value, pairs))  # a pair is a whole condition
            else:
                out[resolve(key, pairs)] = resolve(value, pairs)
        return out
    if isinstance(template, list):
        return [resolve(item, pairs) for item in template]
    return template


def paired_condition(path, value, op, other):
    """{path: value}, or {path: {op: value}} ($in/$nin: [value, other])."""
    if op is None or (op in COMPARE and not (is_number(value) or isinstance(value, str))):
        return {path: value}
    return {path: {op: [value, other] if op in ("$in", "$nin") else value}}


picks = st.integers(0, 200)
field_templates = st.one_of(fields, st.builds(Pick, picks, st.just("field")))
value_templates = st.one_of(values, st.builds(Pick, picks, st.just("value")))
pair_templates = st.builds(
    Pick,
    picks,
    st.just("pair"),
    st.sampled_from([None, "$ne", "$in", "$nin", "$contains", *COMPARE, *COMPARE]),
    values,
)


def operand(op):
    if op in COMPARE:
        return numbers | strings | st.builds(Pick, picks, st.just("scalar"))
    if op in ("$in", "$nin"):
        return st.lists(value_templates, max_size=4)
    if op == "$exists":
        return st.booleans()
    return value_templates


operator_objects = st.lists(
    st.sampled_from(OPERATORS), min_size=1, max_size=2, unique=True
).flatmap(lambda ops: st.fixed_dictionaries({op: operand(op) for op in ops}))
# A plain value as a condition never looks like an operator object: generated object keys
# never start with "$", so such a condition means "exactly this object".
generic_leaves = st.dictionaries(
    field_templates, st.one_of(value_templates, operator_objects), max_size=2
)
# A pair under the key "" stands for one whole condition (resolve merges it in).
paired_leaves = st.dictionaries(st.just(""), pair_templates, min_size=1)
leaf_queries = st.one_of(paired_leaves, paired_leaves, generic_leaves)


def _with_logic(base, op, subqueries):
    return {**base, op: subqueries}


query_templates = st.one_of(
    paired_leaves,
    st.recursive(
        leaf_queries,
        lambda inner: st.builds(
            _with_logic,
            leaf_queries,
            st.sampled_from(["$or", "$and"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
        max_leaves=5,
    ),
)
option_templates = st.fixed_dictionaries(
    {},
    optional={
        "sort": st.dictionaries(
            field_templates, st.sampled_from([1, -1, "asc", "desc"]), max_size=2
        ),
        "limit": st.integers(0, 12),
        "offset": st.integers(0, 4),
    },
)


# -- helpers ------------------------------------------------------------------------------


def has_nul_string(value):
    if isinstance(value, str):
        return "\x00" in value
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    )
    return any(has_nul_string(child) for child in children)


def load(storage, docs):
    """Insert docs (ids doc-0, doc-1, ... with characters SQL might trip on) in order."""
    collection = f"fuzz-{uuid.uuid4().hex}"
    stored = []
    for i, doc in enumerate(docs):
        doc_id = f"doc-{i}'%_\\"
        text = json.dumps({**doc, "id": doc_id})
        if has_nul_string(doc):  # refused: see test_any_string_value_is_found...
            with pytest.raises(StorageError, match="NUL"):
                storage.ds_insert(collection, text)
            continue
        made = json.loads(storage.ds_insert(collection, text))
        data = {k: v for k, v in made.items() if k not in COLUMNS}
        stored.append({**{c: made[c] for c in COLUMNS}, "data": data})
    return collection, stored


def found_ids(storage, collection, query, options=None):
    text = storage.ds_find(collection, json.dumps(query), json.dumps(options or {}))
    return [d["id"] for d in json.loads(text)]


# -- properties ---------------------------------------------------------------------------

SLOW_OK = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(SLOW_OK, max_examples=settings.default.max_examples * 2)  # the one that matters most
@given(
    docs=st.lists(documents, min_size=2, max_size=8),
    query=query_templates,
    options=option_templates,
)
@example(  # objects/arrays sort after every string, not by their JSON text among strings
    docs=[{"a": "~"}, {"a": {"b": 1}}, {"a": "b"}], query={}, options={"sort": {"a": 1}}
)
@example(  # false/true sort among the numbers (as 0 and 1), before strings
    docs=[{"a": "x"}, {"a": True}, {"a": 2}, {"a": False}, {}],
    query={},
    options={"sort": {"a": -1}},
)
def test_find_returns_what_the_reference_selects(storage, docs, query, options):
    pairs = paths_and_values(docs)
    query, options = resolve(query, pairs), resolve(options, pairs)
    note(f"query={query!r} options={options!r}")
    collection, stored = load(storage, docs)
    hits = sum(matches(d, query) for d in stored)
    event("matched: " + ("none" if not hits else "all" if hits == len(stored) else "some"))
    assert found_ids(storage, collection, query, options) == reference_order(stored, query, options)
    assert storage.ds_count(collection, json.dumps(query)) == hits
    storage.ds_delete(collection, "{}")


@settings(SLOW_OK, max_examples=settings.default.max_examples // 2)
@given(docs=st.lists(documents, min_size=1, max_size=6), query=query_templates)
def test_delete_removes_exactly_the_matching_documents(storage, docs, query):
    query = resolve(query, paths_and_values(docs))
    note(f"query={query!r}")
    collection, stored = load(storage, docs)
    expected_gone = {d["id"] for d in stored if matches(d, query)}
    assert storage.ds_delete(collection, json.dumps(query)) == len(expected_gone)
    left = set(found_ids(storage, collection, {}))
    assert left == {d["id"] for d in stored} - expected_gone
    storage.ds_delete(collection, "{}")


# -- malformed queries: StorageError and nothing else -------------------------------------

# Keys that reach every branch of the compiler: operators real and made up, columns,
# dotted paths, empty parts, quotes, backslashes, control characters.
query_keys = st.one_of(
    st.sampled_from(
        [
            *OPERATORS,
            *("$or", "$and", "$regex", "$where", "$", "$x.y", "id", "_createdAt", "a", "a.b"),
            *("a..b", ".a", "a.", 'a"b', "a\\b", "a\x01", "a\x00", "sort", "limit"),
        ]
    ),
    st.text(max_size=6),
)
any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(query_keys, inner, max_size=4),
    max_leaves=12,
)


def storage_call_is_clean(call, *args):
    """The call either works or raises StorageError (sqlite3 errors must not escape)."""
    with contextlib.suppress(StorageError):
        call(*args)


@SLOW_OK
@given(query=any_json, options=any_json)
@example(query={"a": "\ud800"}, options={})  # a lone surrogate in a value
@example(query={"a": {"$in": ["ok", "\udfff"]}}, options={})
@example(query={"a": {"$contains": "\ud800"}}, options={})
@example(query={"a": {"$gt": "\ud800"}}, options={})
@example(query={"id": "\ud800"}, options={})
@example(query={"a": {"b": "\ud800"}}, options={})  # ... inside an object value
@example(query={}, options={"sort": {"\ud800": 1}})
def test_malformed_queries_raise_storage_error_only(storage, query, options):
    collection = "malformed"
    query_text, options_text = json.dumps(query), json.dumps(options)
    storage_call_is_clean(storage.ds_find, collection, query_text, options_text)
    storage_call_is_clean(storage.ds_count, collection, query_text)
    storage_call_is_clean(storage.ds_find_one, collection, query_text)
    storage_call_is_clean(storage.ds_update, collection, query_text, options_text)
    storage_call_is_clean(storage.ds_delete, collection, query_text)


@settings(max_examples=settings.default.max_examples // 4)
@given(text=st.text(max_size=60))
def test_arbitrary_query_text_raises_storage_error_only(storage, text):
    storage_call_is_clean(storage.ds_find, "malformed", text, "{}")
    storage_call_is_clean(storage.ds_find, "malformed", "{}", text)


# -- hard strings: quotes, %, _, backslashes, NUL, lone surrogates, long -------------------


def has_lone_surrogate(text):
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


@SLOW_OK
@given(text=st.text(max_size=40) | st.sampled_from(["%", "_", "\\", "'", '"', "\x00", "a%_"]))
@example(text="\ud800")
@example(text="x\x00y")
@example(text="' OR 1=1 --")
def test_any_string_value_is_found_by_equality_and_contains(storage, text):
    collection = f"strings-{uuid.uuid4().hex}"
    if has_lone_surrogate(text):
        with pytest.raises(StorageError):
            storage.ds_insert(collection, json.dumps({"s": text}))
        with pytest.raises(StorageError):
            storage.ds_find(collection, json.dumps({"s": text}), "{}")
        return
    if "\x00" in text:  # SQLite's JSON functions would cut it at the NUL: refused
        with pytest.raises(StorageError, match="NUL"):
            storage.ds_insert(collection, json.dumps({"s": text}))
        storage.ds_insert(collection, json.dumps({"id": "cut", "s": text.split("\x00")[0]}))
        assert found_ids(storage, collection, {"s": text}) == []
        assert found_ids(storage, collection, {"s": {"$contains": text}}) == []
        return
    storage.ds_insert(collection, json.dumps({"id": "target", "s": text, "l": [text]}))
    storage.ds_insert(collection, json.dumps({"id": "other", "s": text + "x", "l": [text + "x"]}))
    assert found_ids(storage, collection, {"s": text}) == ["target"]
    assert found_ids(storage, collection, {"l": {"$contains": text}}) == ["target"]
    assert found_ids(storage, collection, {"s": {"$contains": text}}) == ["target", "other"]
    assert found_ids(storage, collection, {"s": {"$lte": text}}) == ["target"]
    assert found_ids(storage, collection, {"s": {"$in": [text]}}) == ["target"]
    storage.ds_delete(collection, "{}")


def test_very_long_strings_are_compared_exactly(storage):
    collection = f"long-{uuid.uuid4().hex}"
    long_text = "'%_\\\"" * 100_000 + "é"  # 500,001 characters, under the 1 MiB document limit
    storage.ds_insert(collection, json.dumps({"id": "long", "s": long_text}))
    storage.ds_insert(collection, json.dumps({"id": "short", "s": long_text[:-1]}))
    assert found_ids(storage, collection, {"s": long_text}) == ["long"]
    assert found_ids(storage, collection, {"s": {"$gt": long_text[:-1]}}) == ["long"]
    assert found_ids(storage, collection, {"s": {"$contains": '\\"é'}}) == ["long"]
    with pytest.raises(StorageError):  # a field name over 256 characters
        storage.ds_find(collection, json.dumps({"a" * 257: 1}), "{}")
