"""The byte-bounded LRU in front of SQLite."""

from fazt.hosting.cache import ENTRY_OVERHEAD, ByteLRU

UNIT = 100 + ENTRY_OVERHEAD  # the cost of one 100-byte entry


def test_get_and_put():
    cache = ByteLRU(10 * UNIT)
    assert cache.get("a") is None
    cache.put("a", "A", 100)
    assert cache.get("a") == "A"
    assert len(cache) == 1
    assert cache.used == UNIT


def test_evicts_least_recently_used_by_bytes():
    cache = ByteLRU(3 * UNIT)
    for key in "abc":
        cache.put(key, key.upper(), 100)
    assert len(cache) == 3
    cache.put("d", "D", 100)
    assert cache.get("a") is None
    assert [cache.get(k) for k in "bcd"] == ["B", "C", "D"]
    assert cache.used == 3 * UNIT


def test_get_refreshes_recency():
    cache = ByteLRU(3 * UNIT)
    for key in "abc":
        cache.put(key, key, 100)
    assert cache.get("a") == "a"  # now b is the oldest
    cache.put("d", "d", 100)
    assert cache.get("b") is None
    assert cache.get("a") == "a"


def test_a_large_entry_evicts_as_many_as_needed():
    cache = ByteLRU(4 * UNIT)
    for key in "abcd":
        cache.put(key, key, 100)
    cache.put("big", "BIG", 2 * UNIT + 100)  # costs three small entries
    assert cache.get("big") == "BIG"
    assert [cache.get(k) for k in "abcd"] == [None, None, None, "d"]
    assert cache.used <= cache.max_bytes


def test_entry_larger_than_the_cache_is_not_stored_and_evicts_nothing():
    cache = ByteLRU(3 * UNIT)
    cache.put("a", "a", 100)
    cache.put("huge", "x", 3 * UNIT)
    assert cache.get("huge") is None
    assert cache.get("a") == "a"
    assert cache.used == UNIT


def test_replacing_a_key_updates_the_byte_count():
    cache = ByteLRU(10 * UNIT)
    cache.put("a", "v1", 100)
    cache.put("a", "v2", 300)
    assert cache.get("a") == "v2"
    assert len(cache) == 1
    assert cache.used == 300 + ENTRY_OVERHEAD


def test_used_never_exceeds_the_limit():
    cache = ByteLRU(5000)
    for i in range(500):
        cache.put(i, i, (i * 37) % 1200)
        assert cache.used <= cache.max_bytes
        assert cache.used == sum(cost for _, cost in cache._items.values())
    assert cache.get(499) == 499


def test_clear():
    cache = ByteLRU(10 * UNIT)
    cache.put("a", "a", 100)
    cache.clear()
    assert len(cache) == 0
    assert cache.used == 0
    assert cache.get("a") is None


def test_drop_removes_matching_entries_and_their_bytes():
    cache = ByteLRU(10_000)
    for dep in (1, 2):
        for path in ("/a", "/b"):
            cache.put(("blog", dep, path, None), f"{dep}{path}", 100)
    cache.put(("shop", 1, "/a", None), "shop", 100)
    before = cache.used
    freed = cache.drop(lambda key: key[:2] == ("blog", 1))
    assert freed == 2 * (100 + ENTRY_OVERHEAD) and cache.used == before - freed
    assert cache.get(("blog", 1, "/a", None)) is None
    assert cache.get(("blog", 2, "/a", None)) == "2/a" and cache.get(("shop", 1, "/a", None))
    assert len(cache) == 3
