"""Exponential backoff: how long to wait before retry number n (base, 2*base, 4*base ...).

One rule for every retry loop (worker restarts, JavaScript worker processes, Litestream,
certificate orders); the loops keep their own counting of failures and their own sleep.
"""

from collections import namedtuple
from collections.abc import Callable

# 2**64 times any base is past every cap in use; stopping the exponent there keeps a long
# run of failures (a certificate failing for months) from overflowing a float.
MAX_DOUBLINGS = 64


# base: the wait after the first failure; cap: no wait is longer than this; jitter: up to
# this fraction of a wait is taken off at random (0: none). A named tuple, not a frozen
# dataclass: the supervisor imports this, and dataclasses costs it ~1 MB for its whole life.
_Policy = namedtuple("_Policy", "base cap jitter", defaults=(0.0,))


class Backoff(_Policy):
    __slots__ = ()

    def delay(self, attempt: int, rand: Callable[[], float] | None = None) -> float:
        """Seconds to wait before retry `attempt` (1, 2, 3 ...); 0 before the first try.
        `rand` (default random.random) draws the jitter."""
        if attempt < 1:
            return 0.0
        wait = min(self.base * 2.0 ** min(attempt - 1, MAX_DOUBLINGS), self.cap)
        if not self.jitter:
            return wait
        if rand is None:
            import random  # only with jitter: the supervisor (none) stays without it

            rand = random.random
        # Jitter only shortens a wait, so `cap` stays the longest one.
        return wait * (1.0 - self.jitter * rand())
