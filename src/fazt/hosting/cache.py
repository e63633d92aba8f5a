"""A least-recently-used cache bounded by bytes, used in front of SQLite for static files.

Keys include the deployment id, and deployments never change, so entries never go stale;
they are only evicted. Used from the event loop thread only. An entry costs the size its
caller gives (its key's and value's real footprint) plus the bookkeeping below.
"""

from collections import OrderedDict
from typing import Any

# The OrderedDict's slot and link node, the (value, cost) pair and its int: 150-190 bytes
# an entry measured with tracemalloc (CPython 3.11, 1k-50k entries), rounded up.
ENTRY_OVERHEAD = 200


class ByteLRU:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()

    def get(self, key: Any) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: Any, value: Any, size: int) -> None:
        cost = size + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.used -= old[1]
        self._items[key] = (value, cost)
        self.used += cost
        while self.used > self.max_bytes:
            _, (_, evicted) = self._items.popitem(last=False)
            self.used -= evicted

    def drop(self, unwanted) -> int:
        """Remove every entry whose key `unwanted(key)` is true; the bytes freed."""
        freed = 0
        for key in [k for k in self._items if unwanted(k)]:
            freed += self._items.pop(key)[1]
        self.used -= freed
        return freed

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self.used = 0
