"""The analytics service: an in-memory buffer of hits, flushed in batches by one task.

Request handlers only append to a list (no I/O on the request path). Every
FLUSH_SECONDS, or as soon as BATCH_SIZE hits are waiting, one `db.write` stores them with
their rollups. The buffer is bounded: when the database cannot keep up, new hits are
dropped and counted rather than growing memory without limit. `close()` (on graceful
shutdown) flushes everything that is left.
"""

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import Counter

from fazt.analytics import store
from fazt.analytics.store import Event
from fazt.db import Database, settings
from fazt.periodic import cancel_and_wait, periodic

log = logging.getLogger("fazt")

FLUSH_SECONDS = 1.0
BATCH_SIZE = 1000
MAX_BUFFER = 100_000  # ~20 MB of hits at most, then new ones are dropped
PRUNE_SECONDS = 3600.0


class Analytics:
    def __init__(self, db: Database, max_buffer: int = MAX_BUFFER) -> None:
        self.db = db
        self.max_buffer = max_buffer
        self.events: list[Event] = []
        self.clicks: Counter[str] = Counter()
        # Incremented by the app on every request, 5xx answer (a bare int: the hot path).
        self.requests = 0
        self.errors = 0
        self.dropped = 0  # hits refused because the buffer was full, or lost in a failed write
        self._salt: tuple[str, bytes] | None = None
        self.trusted_proxies: tuple | None = None  # the setting, read on first use
        self._wake: asyncio.Event | None = None
        self._flushing: asyncio.Lock | None = None
        self._tasks: list[asyncio.Task] = []

    # -- recording (called on the event loop by request handlers) ----------------------------

    def add(self, event: Event) -> None:
        if len(self.events) >= self.max_buffer:
            if not self.dropped % 10_000:  # say so, without a line per dropped hit
                log.warning("analytics buffer full (%d hits): dropping new hits", len(self.events))
            self.dropped += 1
            return
        self.events.append(event)
        if len(self.events) >= BATCH_SIZE and self._wake is not None:
            self._wake.set()

    def click(self, slug: str) -> None:
        self.clicks[slug] += 1

    async def visitor(self, site: str, ip: str, user_agent: str) -> str:
        """The visitor hash for today: sha256(salt of the day, site, IP, user agent)."""
        now = int(time.time())
        day = store.day_of(now)
        if self._salt is None or self._salt[0] != day:
            self._salt = (day, await self.db.write(store.salt_for, day))
        material = b"\n".join((self._salt[1], site.encode(), ip.encode(), user_agent.encode()))
        return hashlib.sha256(material).hexdigest()[:32]

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the flush and prune tasks on the running loop."""
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._tasks = [
            asyncio.ensure_future(self._flush_loop()),
            asyncio.ensure_future(
                periodic(PRUNE_SECONDS, self._prune, "pruning old analytics", now=True)
            ),
        ]

    async def close(self) -> None:
        """Stop the tasks and write everything still buffered."""
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        await self.flush()

    async def flush(self) -> None:
        """Write the buffered hits, counters and clicks in one transaction."""
        if self._flushing is None:
            self._flushing = asyncio.Lock()
        async with self._flushing:
            events, self.events = self.events, []
            clicks, self.clicks = self.clicks, Counter()
            requests, errors = self.requests, self.errors
            self.requests = self.errors = 0
            if not (events or clicks or requests or errors):
                return
            metrics = {store.hour_of(time.time()): (requests, errors)} if requests else {}
            try:
                # Shielded: a cancelled flush task (at shutdown) must not cancel the write.
                await asyncio.shield(
                    self.db.write(store.write_batch, events, metrics, dict(clicks))
                )
            except Exception:
                self.dropped += len(events)
                log.exception("writing %d analytics events failed; they are lost", len(events))

    async def _flush_loop(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            self._wake.clear()
            await self.flush()

    async def _prune(self) -> None:
        await self.prune()

    async def prune(self) -> int:
        """Delete what is older than the `analytics_retention_days` setting; the count of
        events deleted. In chunks: other writes go in between."""
        days = await self.db.read(settings.get_int, "analytics_retention_days")
        before = int(time.time()) - days * 86400
        deleted = 0
        while True:
            n = await self.db.write(store.prune_events, before)
            deleted += n
            if n < store.PRUNE_CHUNK:
                break
        await self.db.write(store.prune_rest, before)
        return deleted
