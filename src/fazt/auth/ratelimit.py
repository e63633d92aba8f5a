"""In-memory sliding-window counters keyed by client IP (see fazt.auth.clientip).

An attempt takes its slot *before* the expensive check it guards (`reserve`), so a burst
of concurrent requests cannot all pass the "under the limit?" test before any of them has
failed; a success gives its slot back (`release`).
"""

import time
from collections import defaultdict, deque

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
