"""The server's blob-store job: new blobs to the bucket, unused objects deleted.

While `blob_store_url` names a bucket, every `blob_store_every_seconds` a worker moves
blobs that arrived since (deploys and app writes still land in SQLite first: a deploy
never waits for the bucket) when `blob_store_new` is on, then runs the bucket's GC. The
work (network and hashing) runs on one thread of its own, never on the event loop or a
reader the static server needs; the writer only sees short transactions.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fazt.db import Database, settings
from fazt.errors import FaztError
from fazt.hosting import blob_remote
from fazt.objectstore.location import S3Error
from fazt.offload import move

log = logging.getLogger("fazt")
BATCH = 1000  # hashes per run: a big backlog is left to `fazt storage offload`


class OffloadJob:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fazt-offload")
        self._running: asyncio.Future | None = None

    async def tick(self) -> float:
        """Start a run unless one is under way; the seconds until the next tick."""
        values = await self.db.read(settings.all_settings)
        every = float(values.get("blob_store_every_seconds") or 60)
        if self.db.read_only is not None or (self._running and not self._running.done()):
            return every
        try:
            store = blob_remote.store_for(values)
        except ValueError as exc:
            log.error("blob store: %s", exc)
            return every
        if store is not None:
            loop = asyncio.get_running_loop()
            self._running = loop.run_in_executor(self._pool, self._run, store, values)
        return every

    def _run(self, store: blob_remote.BlobStore, values: dict[str, str]) -> None:
        try:
            if values.get("blob_store_new") == "1":
                report = move.to_bucket(self.db, store, limit=BATCH)
                if report.moved:
                    log.info("blob store: moved %d new blobs to %s", report.moved, store.where)
            keep = timedelta(days=int(values.get("blob_store_keep_days") or 7))
            deleted = move.collect(self.db, store, keep)
            if deleted:
                log.info("blob store: deleted %d unused objects from %s", deleted, store.where)
        except (FaztError, S3Error) as exc:
            log.warning("blob store: %s (tried again later)", exc)

    async def close(self) -> None:
        """Wait for a run under way (it is safe to stop between blobs: next start goes on)."""
        if self._running is not None:
            await asyncio.wait([self._running])
        self._pool.shutdown(wait=True)
