"""In-memory sliding-window counters keyed by client IP (the socket peer, never a header)."""

import time
from collections import defaultdict, deque


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
