"""fazt.storage.ds through AppStorage: every method, operator and edge case."""

import json
import uuid

import pytest

from fazt.storage import document_query, documents
from fazt.storage.bindings import StorageError

PEOPLE = [
    {"id": "ann", "name": "Ann", "age": 30, "tags": ["admin", "dev"], "addr": {"city": "Oslo"}},
    {"id": "bob", "name": "Bob", "age": 25, "tags": ["dev"], "addr": {"city": "Rome", "zip": 1}},
    {"id": "cat", "name": "Cat", "age": "40", "tags": [], "nick": None, "active": True},
    {"id": "dan", "name": "Dan", "age": 35.5, "active": False, "scores": [1, 2.5, {"x": 1}]},
]


def insert(st, coll, doc):
    return json.loads(st.ds_insert(coll, json.dumps(doc)))


def find(st, query=None, options=None, coll="people"):
    return json.loads(
        st.ds_find(coll, json.dumps(query if query is not None else {}), json.dumps(options or {}))
    )


def ids(st, query=None, options=None, coll="people"):
    return [d["id"] for d in find(st, query, options, coll)]


@pytest.fixture
def people(st):
    for doc in PEOPLE:
        insert(st, "people", doc)
    return st


# -- insert / findOne ---------------------------------------------------------------------


def test_insert_returns_document_with_uuid_and_timestamps(st):
    doc = insert(st, "notes", {"text": "héllo ☃", "n": 1})
    assert str(uuid.UUID(doc["id"])) == doc["id"]
    assert doc["text"] == "héllo ☃" and doc["n"] == 1
    assert doc["_createdAt"] == doc["_updatedAt"] and doc["_createdAt"].endswith("Z")
    again = json.loads(st.ds_find_one("notes", json.dumps(doc["id"])))
    assert again == doc


def test_insert_keeps_a_given_string_id_and_refuses_duplicates(st):
    insert(st, "c", {"id": "user-123", "name": "Bob"})
    with pytest.raises(StorageError, match="already exists"):
        insert(st, "c", {"id": "user-123", "name": "Other"})
    assert json.loads(st.ds_find_one("c", '"user-123"'))["name"] == "Bob"
    insert(st, "other", {"id": "user-123"})  # ids are per collection


@pytest.mark.parametrize("bad_id", [5, "", None, ["x"], "x" * 129])
def test_insert_refuses_non_string_ids(st, bad_id):
    doc = {"id": bad_id} if bad_id is not None else {"id": None}
    if bad_id is None:
        # id: null means "no id": a UUID is generated.
        assert uuid.UUID(insert(st, "c", doc)["id"])
        return
    with pytest.raises(StorageError):
        insert(st, "c", doc)


def test_insert_ignores_client_timestamps(st):
    doc = insert(st, "c", {"_createdAt": "1999", "_updatedAt": "1999", "x": 1})
    assert doc["_createdAt"] != "1999"
    stored = find(st, coll="c")[0]
    assert stored["_createdAt"] == doc["_createdAt"]


@pytest.mark.parametrize("doc", ["[1,2]", '"text"', "3", "null", "{bad"])
def test_insert_needs_an_object(st, doc):
    with pytest.raises(StorageError):
        st.ds_insert("c", doc)


def test_find_one_by_query_and_missing(people):
    assert json.loads(people.ds_find_one("people", '{"name": "Bob"}'))["id"] == "bob"
    assert people.ds_find_one("people", '{"name": "Nobody"}') is None
    assert people.ds_find_one("people", '"nobody"') is None
    # The first match in insertion order.
    assert json.loads(people.ds_find_one("people", "{}"))["id"] == "ann"
    with pytest.raises(StorageError):
        people.ds_find_one("people", "5")


def test_document_size_and_depth_limits(st):
    big = "x" * (documents.MAX_DOCUMENT_BYTES - 20)
    insert(st, "c", {"b": big})
    with pytest.raises(StorageError, match="limit"):
        insert(st, "c", {"b": big + "x" * 40})
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(StorageError, match="nested"):
        insert(st, "c", deep)
    assert st.ds_count("c", "{}") == 1


# -- equality -----------------------------------------------------------------------------


def test_find_all_in_insertion_order(people):
    assert ids(people) == ["ann", "bob", "cat", "dan"]
    assert ids(people, None) == ids(people, {})
    assert json.loads(people.ds_find("people", "null", "null"))[0]["id"] == "ann"


def test_equality_is_type_aware(people):
    assert ids(people, {"age": 30}) == ["ann"]
    assert ids(people, {"age": "40"}) == ["cat"]
    assert ids(people, {"age": 40}) == []
    assert ids(people, {"age": 35.5}) == ["dan"]
    assert ids(people, {"active": True}) == ["cat"]
    assert ids(people, {"active": False}) == ["dan"]
    assert ids(people, {"addr.zip": True}) == []  # 1 is not true
    assert ids(people, {"addr.zip": 1.0}) == ["bob"]  # 1.0 is 1 in JSON


def test_equality_on_dotted_paths_and_multiple_fields(people):
    assert ids(people, {"addr.city": "Rome"}) == ["bob"]
    assert ids(people, {"addr.city": "Rome", "name": "Ann"}) == []
    assert ids(people, {"addr.city": "Oslo", "name": "Ann"}) == ["ann"]
    assert ids(people, {"addr.nothing.deeper": "x"}) == []


def test_null_equality_matches_null_or_missing(people):
    assert ids(people, {"nick": None}) == ["ann", "bob", "cat", "dan"]
    assert ids(people, {"active": None}) == ["ann", "bob"]
    assert ids(people, {"nick": {"$ne": None}}) == []
    assert ids(people, {"active": {"$ne": None}}) == ["cat", "dan"]


def test_object_and_array_equality_is_exact(people):
    assert ids(people, {"addr": {"city": "Oslo"}}) == ["ann"]
    assert ids(people, {"addr": {"city": "Rome"}}) == []  # bob also has zip
    assert ids(people, {"addr": {"zip": 1, "city": "Rome"}}) == ["bob"]  # key order is free
    assert ids(people, {"addr": {}}) == []
    assert ids(people, {"tags": ["dev"]}) == ["bob"]
    assert ids(people, {"tags": ["dev", "admin"]}) == []  # array order matters
    assert ids(people, {"tags": []}) == ["cat"]
    assert ids(people, {"scores": [1, 2.5, {"x": 1}]}) == ["dan"]


def test_id_is_queryable(people):
    assert ids(people, {"id": "bob"}) == ["bob"]
    assert ids(people, {"id": {"$in": ["ann", "dan", "zed"]}}) == ["ann", "dan"]
    assert ids(people, {"id": {"$ne": "ann"}}) == ["bob", "cat", "dan"]
    assert ids(people, {"id": {"$gt": "bob"}}) == ["cat", "dan"]
    assert ids(people, {"id": {"$contains": "a"}}) == ["ann", "cat", "dan"]
    assert ids(people, {"id": 5}) == []
    assert ids(people, {"id": {"$exists": True}}) == ["ann", "bob", "cat", "dan"]


# -- operators ----------------------------------------------------------------------------


def test_eq_and_ne(people):
    assert ids(people, {"name": {"$eq": "Cat"}}) == ["cat"]
    assert ids(people, {"age": {"$ne": 30}}) == ["bob", "cat", "dan"]
    # $ne matches a missing field.
    assert ids(people, {"nick": {"$ne": "x"}}) == ["ann", "bob", "cat", "dan"]


def test_comparisons_are_numeric_or_textual_never_mixed(people):
    assert ids(people, {"age": {"$gt": 25}}) == ["ann", "dan"]  # "40" is a string
    assert ids(people, {"age": {"$gte": 25}}) == ["ann", "bob", "dan"]
    assert ids(people, {"age": {"$lt": 30}}) == ["bob"]
    assert ids(people, {"age": {"$lte": 30}}) == ["ann", "bob"]
    assert ids(people, {"age": {"$gt": 25, "$lt": 35}}) == ["ann"]
    assert ids(people, {"age": {"$gte": "3"}}) == ["cat"]
    assert ids(people, {"name": {"$gte": "B", "$lt": "D"}}) == ["bob", "cat"]
    assert ids(people, {"missing": {"$lt": 1000}}) == []


@pytest.mark.parametrize("arg", [None, True, [1], {"a": 1}])
def test_comparisons_refuse_other_types(people, arg):
    with pytest.raises(StorageError, match=r"\$gt"):
        find(people, {"age": {"$gt": arg}})


def test_in_and_nin(people):
    assert ids(people, {"age": {"$in": [25, "40", 99]}}) == ["bob", "cat"]
    assert ids(people, {"age": {"$in": []}}) == []
    assert ids(people, {"nick": {"$in": [None]}}) == ["ann", "bob", "cat", "dan"]
    assert ids(people, {"addr": {"$in": [{"city": "Oslo"}]}}) == ["ann"]
    assert ids(people, {"age": {"$nin": [25, 30]}}) == ["cat", "dan"]
    assert ids(people, {"age": {"$nin": []}}) == ["ann", "bob", "cat", "dan"]
    # $nin matches a missing field.
    assert ids(people, {"active": {"$nin": [True]}}) == ["ann", "bob", "dan"]
    with pytest.raises(StorageError, match="array"):
        find(people, {"age": {"$in": 25}})
    with pytest.raises(StorageError, match="at most"):
        find(people, {"age": {"$in": list(range(document_query.MAX_IN_VALUES + 1))}})


def test_contains_on_arrays_and_strings(people):
    assert ids(people, {"tags": {"$contains": "dev"}}) == ["ann", "bob"]
    assert ids(people, {"tags": {"$contains": "de"}}) == []  # elements, not substrings
    assert ids(people, {"name": {"$contains": "a"}}) == ["cat", "dan"]  # case-sensitive
    assert ids(people, {"name": {"$contains": "A"}}) == ["ann"]
    assert ids(people, {"scores": {"$contains": 2.5}}) == ["dan"]
    assert ids(people, {"scores": {"$contains": {"x": 1}}}) == ["dan"]
    assert ids(people, {"scores": {"$contains": "1"}}) == []
    assert ids(people, {"age": {"$contains": 3}}) == []  # not an array
    assert ids(people, {"missing": {"$contains": "x"}}) == []


def test_contains_null_and_booleans_in_arrays(st):
    insert(st, "c", {"id": "a", "v": [None, True]})
    insert(st, "c", {"id": "b", "v": [1, "true"]})
    assert ids(st, {"v": {"$contains": None}}, coll="c") == ["a"]
    assert ids(st, {"v": {"$contains": True}}, coll="c") == ["a"]
    assert ids(st, {"v": {"$contains": 1}}, coll="c") == ["b"]


def test_exists(people):
    assert ids(people, {"nick": {"$exists": True}}) == ["cat"]  # null but present
    assert ids(people, {"nick": {"$exists": False}}) == ["ann", "bob", "dan"]
    assert ids(people, {"addr.zip": {"$exists": True}}) == ["bob"]
    with pytest.raises(StorageError):
        find(people, {"nick": {"$exists": 1}})


def test_or_and_and(people):
    assert ids(people, {"$or": [{"name": "Ann"}, {"age": {"$lt": 26}}]}) == ["ann", "bob"]
    assert ids(people, {"$or": [{"name": "Ann"}, {"name": "Zed"}], "age": 30}) == ["ann"]
    assert ids(people, {"$or": [{"name": "Ann"}, {"$or": [{"id": "dan"}]}]}) == ["ann", "dan"]
    assert ids(people, {"$and": [{"tags": {"$contains": "dev"}}, {"age": {"$gt": 26}}]}) == ["ann"]
    for bad in [{"$or": []}, {"$or": {"name": "Ann"}}, {"$or": ["x"]}]:
        with pytest.raises(StorageError):
            find(people, bad)


@pytest.mark.parametrize(
    "query",
    [
        {"$where": "1"},
        {"$regex": "x"},
        {"age": {"$regex": ".*"}},
        {"age": {"$gt": 1, "plain": 2}},
        {"age": {"$exists": True, "$foo": 1}},
        {"age": {"$gt": 1, ") OR 1=1 --": 2}},
        {"age": {"$gt) OR (1=1": 1}},
    ],
)
def test_unknown_or_mixed_operators_are_errors(people, query):
    with pytest.raises(StorageError):
        find(people, query)


def test_query_must_be_an_object(people):
    with pytest.raises(StorageError):
        people.ds_find("people", "[1]", "{}")
    with pytest.raises(StorageError):
        people.ds_count("people", '"x"')


# -- options ------------------------------------------------------------------------------


def test_sort_limit_offset(people):
    assert ids(people, {}, {"sort": {"name": -1}}) == ["dan", "cat", "bob", "ann"]
    assert ids(people, {}, {"sort": {"addr.city": "desc"}}) == ["bob", "ann", "cat", "dan"]
    # Missing sorts first ascending; ties keep insertion order.
    assert ids(people, {}, {"sort": {"active": 1}}) == ["ann", "bob", "dan", "cat"]
    assert ids(people, {}, {"sort": {"id": -1}, "limit": 2}) == ["dan", "cat"]
    assert ids(people, {}, {"sort": {"id": -1}, "limit": 2, "offset": 2}) == ["bob", "ann"]
    assert ids(people, {}, {"limit": 0}) == []
    assert ids(people, {}, {"offset": 10}) == []
    assert ids(people, {}, {"sort": {"_createdAt": -1, "id": 1}})[0] in {"dan", "cat"}


@pytest.mark.parametrize(
    "options",
    [
        {"limit": -1},
        {"limit": documents.MAX_FIND_LIMIT + 1},
        {"limit": "10"},
        {"limit": 1.5},
        {"limit": True},
        {"offset": -1},
        {"sort": {"name": 2}},
        {"sort": {"name": True}},
        {"sort": "name"},
        {"order": "asc"},
        {"sort": {f"f{i}": 1 for i in range(document_query.MAX_SORT_FIELDS + 1)}},
        {"sort": {"name); DROP TABLE app_documents;--": 1, 'a"b': 1}},
    ],
)
def test_bad_options_are_errors(people, options):
    with pytest.raises(StorageError):
        find(people, {}, options)


def test_find_limit_defaults_to_the_cap(st, monkeypatch):
    monkeypatch.setattr(documents, "MAX_FIND_LIMIT", 3)
    for i in range(5):
        insert(st, "c", {"i": i})
    assert len(find(st, coll="c")) == 3
    assert len(find(st, coll="c", options={"offset": 3})) == 2


# -- count / update / delete --------------------------------------------------------------


def test_count(people):
    assert people.ds_count("people", "{}") == 4
    assert people.ds_count("people", '{"tags": {"$contains": "dev"}}') == 2
    assert people.ds_count("nothing", "{}") == 0


def test_update_set_unset_inc_push(people):
    n = people.ds_update(
        "people",
        '{"id": "bob"}',
        json.dumps(
            {
                "$set": {"addr.city": "Milan", "new.deep.field": [1]},
                "$unset": {"addr.zip": 1, "not.there": 1},
                "$inc": {"age": 2, "visits": 1.5},
                "$push": {"tags": "ops", "log": {"a": 1}},
            }
        ),
    )
    assert n == 1
    bob = json.loads(people.ds_find_one("people", '"bob"'))
    assert bob["addr"] == {"city": "Milan"}
    assert bob["new"] == {"deep": {"field": [1]}}
    assert bob["age"] == 27 and bob["visits"] == 1.5
    assert bob["tags"] == ["dev", "ops"] and bob["log"] == [{"a": 1}]
    assert bob["_updatedAt"] > bob["_createdAt"]
    ann = json.loads(people.ds_find_one("people", '"ann"'))
    assert ann["_updatedAt"] == ann["_createdAt"] and ann["age"] == 30


def test_update_plain_fields_mean_set_and_return_matched_count(people):
    assert people.ds_update("people", '{"tags": {"$contains": "dev"}}', '{"team": "x"}') == 2
    assert ids(people, {"team": "x"}) == ["ann", "bob"]
    assert people.ds_update("people", '{"name": "Nobody"}', '{"team": "y"}') == 0
    assert people.ds_update("people", "{}", '{"$inc": {"n": 1}}') == 4
    assert people.ds_count("people", '{"n": 1}') == 4


def test_updated_values_are_queryable_with_exact_equality(people):
    people.ds_update("people", '{"id": "ann"}', '{"$set": {"addr.zip": 2}}')
    assert ids(people, {"addr": {"zip": 2, "city": "Oslo"}}) == ["ann"]
    people.ds_update("people", '{"id": "ann"}', '{"$inc": {"addr.zip": 0.5}}')
    people.ds_update("people", '{"id": "ann"}', '{"$inc": {"addr.zip": 0.5}}')
    assert ids(people, {"addr": {"zip": 3, "city": "Oslo"}}) == ["ann"]


@pytest.mark.parametrize(
    "changes",
    [
        {"$rename": {"a": "b"}},
        {"$set": {"x": 1}, "plain": 2},
        {"$set": ["x"]},
        {"$inc": {"age": "1"}},
        {"$inc": {"name": 1}},  # not a number
        {"$push": {"name": 1}},  # not an array
        {"$set": {"name.first": "A"}},  # name is a string
        {"$set": {"id": "new"}},
        {"$unset": {"_createdAt": 1}},
        {"$set": {"a..b": 1}},
        {"$set": {'a"b': 1}},
    ],
)
def test_bad_updates_are_errors_and_change_nothing(people, changes):
    before = find(people)
    with pytest.raises(StorageError):
        people.ds_update("people", "{}", json.dumps(changes))
    assert find(people) == before


def test_update_that_would_exceed_the_size_limit_is_refused(st):
    insert(st, "c", {"id": "a", "s": "x" * (documents.MAX_DOCUMENT_BYTES - 100)})
    with pytest.raises(StorageError, match="limit"):
        st.ds_update("c", "{}", json.dumps({"$push": {"more": "y" * 200}}))
    assert "more" not in json.loads(st.ds_find_one("c", '"a"'))


def test_delete(people):
    assert people.ds_delete("people", '{"age": {"$lt": 31}}') == 2
    assert ids(people) == ["cat", "dan"]
    assert people.ds_delete("people", '{"name": "Nobody"}') == 0
    assert people.ds_delete("people", "{}") == 2
    assert people.ds_count("people", "{}") == 0
    with pytest.raises(StorageError):
        people.ds_delete("people", None)


def test_unicode_fields_values_and_collections(st):
    insert(st, "日本", {"id": "x", "名前": {"姓": "山田"}, "emoji": "🎉"})
    assert ids(st, {"名前.姓": "山田"}, coll="日本") == ["x"]
    assert ids(st, {"emoji": {"$contains": "🎉"}}, coll="日本") == ["x"]
    assert st.ds_count("日本", "{}") == 1


# -- isolation and injection --------------------------------------------------------------


def test_apps_are_isolated(st, other):
    insert(st, "c", {"id": "same", "who": "one"})
    insert(other, "c", {"id": "same", "who": "two"})
    assert [d["who"] for d in find(st, coll="c")] == ["one"]
    assert other.ds_count("c", "{}") == 1
    assert st.ds_update("c", "{}", '{"who": "changed"}') == 1
    assert json.loads(other.ds_find_one("c", '"same"'))["who"] == "two"
    assert st.ds_delete("c", "{}") == 1
    assert other.ds_count("c", "{}") == 1


NASTY = [
    "a'); DROP TABLE app_documents;--",
    "x' OR '1'='1",
    "$.x",
    "$",
    "a[0]",
    "[0]",
    "a.b[*]",
    "') OR 1=1 --",
    "*",
    "a b",
    "%_",
]


@pytest.mark.parametrize("name", NASTY)
def test_injection_through_collection_names_is_plain_text(db, st, other, name):
    insert(other, "c", {"secret": 1})
    insert(st, name, {"id": "x", "v": 1})
    assert ids(st, coll=name) == ["x"]
    assert st.ds_count("c", "{}") == 0
    assert st.ds_delete(name, "{}") == 1
    assert other.ds_count("c", "{}") == 1


def _nested(field: str, value):
    """{a: {b: value}} for "a.b": how a dotted field is stored."""
    doc = value
    for part in reversed(field.split(".")):
        doc = {part: doc}
    return doc


@pytest.mark.parametrize("field", [f for f in NASTY if not f.startswith("$")])
def test_injection_through_field_names_is_plain_text(db, st, field):
    # "a.b[*]" means {"a": {"b[*]": ...}}; every other name is one literal key.
    insert(st, "c", {"id": "hit", **_nested(field, "v")})
    insert(st, "c", {"id": "miss", "other": "v"})
    assert ids(st, {field: "v"}, coll="c") == ["hit"]
    assert ids(st, {field: {"$ne": "v"}}, coll="c") == ["miss"]
    assert ids(st, {field: {"$exists": False}}, coll="c") == ["miss"]
    assert ids(st, {field: {"$in": ["v", "' OR 1=1"]}}, coll="c") == ["hit"]
    # Ascending: missing (null) first, so the order proves the path was used.
    assert ids(st, {}, {"sort": {field: 1}}, coll="c") == ["miss", "hit"]
    changes = {"$set": {field: "w"}, "$push": {field + "_log": 1}}
    assert st.ds_update("c", json.dumps({field: "v"}), json.dumps(changes)) == 1
    assert ids(st, {field: "w"}, coll="c") == ["hit"]
    assert st.ds_count("c", "{}") == 2
    tables = db.read_sync(
        lambda c: {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    )
    assert {"app_documents", "app_kv", "app_objects", "sites"} <= tables


@pytest.mark.parametrize("field", ["$.x", "$where", "$or); DROP TABLE sites;--"])
def test_dollar_field_names_at_top_level_are_operators_and_refused(st, field):
    with pytest.raises(StorageError, match="unknown query operator"):
        find(st, {field: 1}, coll="c")


@pytest.mark.parametrize("field", ['a"b', "a\\b", 'x"); DROP TABLE sites;--', "a..b", ".a", "a."])
def test_unaddressable_field_names_are_refused(st, field):
    insert(st, "c", {"id": "a", "x": 1})
    with pytest.raises(StorageError, match="field name"):
        find(st, {field: 1}, coll="c")
    with pytest.raises(StorageError, match="field name"):
        find(st, {}, {"sort": {field: 1}}, coll="c")
    assert st.ds_count("c", "{}") == 1


def test_nested_dollar_path_segments_are_plain_keys(st):
    insert(st, "c", {"id": "a", "x": {"$": {"y": 1}}})
    assert ids(st, {"x.$.y": 1}, coll="c") == ["a"]
    assert ids(st, {"x.$": {"y": 1}}, coll="c") == ["a"]


def test_sql_in_values_is_just_data(st):
    value = "'); DELETE FROM app_documents; --"
    insert(st, "c", {"id": "a", "v": value})
    assert ids(st, {"v": value}, coll="c") == ["a"]
    assert ids(st, {"v": {"$contains": "DELETE"}}, coll="c") == ["a"]
    assert st.ds_count("c", "{}") == 1


@pytest.mark.parametrize("name", ["", None, 5, "x" * (documents.MAX_COLLECTION_CHARS + 1)])
def test_bad_collection_names(st, name):
    with pytest.raises(StorageError):
        st.ds_insert(name, "{}")


def test_query_condition_cap(st):
    with pytest.raises(StorageError, match="conditions"):
        find(st, {"$or": [{"a": i} for i in range(document_query.MAX_CONDITIONS + 1)]}, coll="c")


def test_huge_integers_do_not_crash(st):
    insert(st, "c", {"id": "a", "n": 2**70})
    assert ids(st, {"n": {"$gt": 2**64}}, coll="c") == ["a"]


def test_update_is_all_or_nothing_across_documents(st):
    insert(st, "c", {"id": "a", "n": 1})
    insert(st, "c", {"id": "b", "n": "one"})
    with pytest.raises(StorageError, match=r"\$inc"):
        st.ds_update("c", "{}", '{"$inc": {"n": 1}}')
    assert [d["n"] for d in find(st, coll="c")] == [1, "one"]


def test_find_result_size_cap_is_an_error(st, monkeypatch):
    insert(st, "c", {"s": "x" * 100})
    insert(st, "c", {"s": "y" * 100})
    monkeypatch.setattr(documents, "MAX_RESULT_BYTES", 150)
    with pytest.raises(StorageError, match="smaller limit"):
        find(st, coll="c")
    assert len(find(st, coll="c", options={"limit": 1})) == 1


def test_documents_come_back_with_sorted_keys(st):
    doc = insert(st, "c", {"z": 1, "a": {"y": 1, "b": 2}})
    assert list(doc) == ["id", "a", "z", "_createdAt", "_updatedAt"]
    assert list(find(st, coll="c")[0]["a"]) == ["b", "y"]
