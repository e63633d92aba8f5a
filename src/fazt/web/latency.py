"""Request latency in a fixed-size histogram: p50/p99 without keeping any sample.

Recording is one bisect over constant bounds and one integer increment, with no
allocation, so it can run for every request. Counts cover the worker's life (a
replaced worker starts from zero).
"""

import bisect

# Bucket upper bounds in seconds: 0.1 ms to ~100 s, each 25% above the previous one
# (a quantile is reported as its bucket's upper bound: at most 25% high).
BOUNDS: tuple[float, ...] = tuple(0.0001 * 1.25**i for i in range(63))


class LatencyHistogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(BOUNDS) + 1)  # the last bucket: slower than every bound
        self.total = 0

    def record(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BOUNDS, seconds)] += 1
        self.total += 1

    def quantile(self, q: float) -> float | None:
        """The latency (seconds) below which a fraction `q` of the requests took; None
        before any request."""
        if not self.total:
            return None
        rank, seen = q * self.total, 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= rank and n:
                return BOUNDS[i] if i < len(BOUNDS) else float("inf")
        return BOUNDS[-1]
