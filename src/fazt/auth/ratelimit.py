"""In-memory rate limits keyed by client address (see fazt.auth.clientip): sliding-window
failure counters and token buckets.

An attempt takes its slot *before* the expensive check it guards (`reserve`), so a burst
of concurrent requests cannot all pass the "under the limit?" test before any of them has
failed; a success gives its slot back (`release`).
"""

import math
import time
from collections import defaultdict, deque
from collections.abc import Hashable

MAX_KEYS = 100_000  # beyond this many addresses, forget the ones whose window has passed


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

    def _wait(self, stamps: deque[float], now: float) -> int:
        return max(1, int(stamps[0] + self.window - now) + 1)

    def reserve(self, key: str) -> tuple[float | None, int]:
        """Count an attempt now, before checking it: (its stamp, 0), or (None, seconds to
        wait) when `key` has used up its attempts. Hand the stamp to `release` on success."""
        now = time.monotonic()
        stamps = self._recent(key, now)
        if len(stamps) >= self.limit:
            return None, self._wait(stamps, now)
        if len(self._failures) > MAX_KEYS:
            self._sweep(now)
            stamps = self._failures[key]
        stamps.append(now)
        return now, 0

    def release(self, key: str, stamp: float | None) -> None:
        """Give back a reserved slot: the attempt succeeded, or was never checked."""
        stamps = self._failures.get(key)
        if stamp is None or stamps is None:
            return
        if stamp in stamps:  # else it has already left the window
            stamps.remove(stamp)
        if not stamps:
            self._failures.pop(key, None)

    def _sweep(self, now: float) -> None:
        """Forget idle addresses; if that is not enough, the longest-known ones, down to
        90% of MAX_KEYS (so sweeps stay rare: memory is bounded whatever the traffic)."""
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        excess = len(self._failures) - MAX_KEYS * 9 // 10
        for key in list(self._failures)[: max(0, excess)]:
            del self._failures[key]


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
