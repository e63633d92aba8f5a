"""In-memory rate limits keyed by client address: sliding-window failure counters and
token buckets."""

import math
import time
from collections import defaultdict, deque
from collections.abc import Hashable


class FailureLimiter:
    """Blocks a key after `limit` failures within `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures[key]
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        return stamps

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may try again; 0 when it is not blocked."""
        now = time.monotonic()
        stamps = self._recent(key, now)
        if len(stamps) < self.limit:
            if not stamps:
                self._failures.pop(key, None)
            return 0
        return max(1, int(stamps[0] + self.window - now) + 1)

    def fail(self, key: str) -> None:
        self._recent(key, time.monotonic()).append(time.monotonic())


class TokenBuckets:
    """A token bucket per key (`rate` tokens a second, at most `burst`), in a table of at
    most `max_keys` entries, so a flood of addresses cannot grow memory without bound.

    take() is O(1) on the hot path: one dict lookup and a few float operations.
    """

    __slots__ = ("_table", "burst", "max_keys", "rate")

    def __init__(self, rate: float, burst: float, max_keys: int = 20_000) -> None:
        self.rate, self.burst, self.max_keys = rate, max(burst, 1.0), max_keys
        # key -> [tokens, time of the last update]; a list, so it is updated in place
        self._table: dict[Hashable, list[float]] = {}

    def __len__(self) -> int:
        return len(self._table)

    def take(self, key: Hashable, now: float | None = None) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is there."""
        if now is None:
            now = time.monotonic()
        bucket = self._table.get(key)
        if bucket is None:
            if len(self._table) >= self.max_keys:
                self._make_room(now)
            self._table[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return (1.0 - tokens) / self.rate if self.rate > 0 else 3600.0
        bucket[0] = tokens - 1.0
        return 0.0

    def forget(self, key: Hashable) -> None:
        self._table.pop(key, None)

    def _make_room(self, now: float) -> None:
        """Forget the keys whose bucket is full again (the same as no entry); if every key
        is still busy, forget the oldest tenth (they get a fresh, full bucket)."""
        rate, burst = self.rate, self.burst
        table = self._table
        for key in [k for k, (t, at) in table.items() if t + (now - at) * rate >= burst]:
            del table[key]
        if len(table) >= self.max_keys:
            for key in list(table)[: max(1, self.max_keys // 10)]:
                del table[key]


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
