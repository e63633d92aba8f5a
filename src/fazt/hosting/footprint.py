"""What a cached object really costs in memory, so the static cache stays within its cap.

`deep_size` walks an object's tuples, lists, dicts and `__slots__` fields and adds up
`sys.getsizeof` of each object once. Values handed out by `share` (header pairs many
entries hold, like a MIME type or a deployment's Last-Modified) live once for all
entries, so they are not charged to any one of them.
"""

import sys
import threading
from typing import Any, TypeVar

SHARED_MAX = 4096  # distinct shared values kept; past it the table starts over (bounded)

T = TypeVar("T", str, tuple)
_shared: dict[Any, Any] = {}
_shared_ids: set[int] = set()  # valid while _shared holds the objects (ids not reused)
_lock = threading.Lock()  # entries are built in the database's reader threads


def share(value: T) -> T:
    """One copy of `value` (a string, or a tuple of strings) for every cache entry that
    holds an equal one."""
    with _lock:
        found = _shared.get(value)
        if found is not None:
            return found
        if len(_shared) >= SHARED_MAX:
            # Entries built before keep their copies uncounted: at most SHARED_MAX small
            # values per start-over, and this many distinct header values is unusual.
            _shared.clear()
            _shared_ids.clear()
        _shared[value] = value
        _shared_ids.add(id(value))
        return value


def deep_size(obj: Any) -> int:
    """Bytes held by `obj` and everything it reaches (shared strings and None excluded)."""
    seen: set[int] = set()
    todo, total = [obj], 0
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen or id(item) in _shared_ids:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, (tuple, list)):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        else:
            todo.extend(getattr(item, name) for name in getattr(type(item), "__slots__", ()))
    return total
