"""The server's side of JS workers' kv writes (kv_pipe.py): committed in groups.

Writes arrive from the workers' pipes on the event loop. The first one schedules a
batch for the end of the loop's current iteration, so that every write read in that
iteration goes into it; the batch is one transaction on the database's single writer
thread (`kv.store_batch`: one commit, one set of locks, for many requests); writes that
arrive while it runs wait for the next batch. Only one batch is in flight at a time, so
batches commit in the order the writes arrived. `done(tokens, errors)` runs on the loop
once a batch has committed (each error None, or the message of a refused write; all of
them one message when the whole transaction failed). docs/decisions/010-kv-path.md.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from fazt.db import Database
from fazt.storage import kv

log = logging.getLogger("fazt.runtime")


class GroupCommit:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.done: Callable[[list[Any], list[str | None]], None] = lambda tokens, errors: None
        self._tokens: list[Any] = []
        self._writes: list[kv.Write] = []
        self._scheduled = False  # a batch is in flight or about to start
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, token: Any, write: kv.Write) -> None:
        """Queue one write; `token` comes back in done() once it is committed."""
        self._tokens.append(token)
        self._writes.append(write)
        if not self._scheduled:
            self._scheduled = True
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self._start)

    def _start(self) -> None:
        tokens, writes = self._tokens, self._writes
        if not tokens:
            self._scheduled = False
            return
        self._tokens, self._writes = [], []
        try:
            future = self.db.submit_write(kv.store_batch, writes)
        except Exception as exc:  # closed, or a read-only standby
            self._finish(tokens, None, exc)
            return
        future.add_done_callback(lambda f: self._committed(tokens, f))

    def _committed(self, tokens: list, future: Future) -> None:
        """On the writer thread: hand the outcome to the loop."""
        loop = self._loop
        assert loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(self._finish, tokens, future, None)

    def _finish(self, tokens: list, future: "Future | None", failed: Exception | None) -> None:
        if future is not None:
            try:
                errors = future.result()
            except Exception as exc:
                failed = exc
        if failed is not None:
            log.error("kv writes from JavaScript failed: %s", failed)
            # (the reason may name server paths: the server's log has it, not the client)
            errors = ["a storage write failed on the server"] * len(tokens)
        try:
            self.done(tokens, errors)
        finally:
            self._scheduled = False
            if self._tokens:
                self._scheduled = True
                self._start()
