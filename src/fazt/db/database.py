"""The Database: one writer thread (all writes, BEGIN IMMEDIATE), readers in a thread pool.

Nothing here runs SQLite on the event loop thread: async callers await `write()` and
`read()`, which hand the work to threads. CLI code uses the `_sync` variants. CPU and file
work that needs no connection goes to fazt.cpu, not to these threads.
"""

import asyncio
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from fazt.db import disk, migrations
from fazt.db.connection import open_connection
from fazt.db.migrations import SchemaTooNewError

__all__ = ["Database", "SchemaTooNewError"]

T = TypeVar("T")
log = logging.getLogger("fazt")
_STOP = object()


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if any: after some errors (a full disk) SQLite has
    already rolled it back, and a ROLLBACK then would hide the real error behind "cannot
    rollback - no transaction is active"."""
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:  # the error that got us here is the one to report
        log.exception("ROLLBACK failed")


class Database:
    """A fazt database file with its single writer and pooled readers."""

    def __init__(self, path: Path, *, readers: int = 4) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="fazt-read")
        self._queue: queue.Queue = queue.Queue()
        self._writer_conn: sqlite3.Connection | None = None
        self._writer = threading.Thread(target=self._write_loop, name="fazt-writer", daemon=True)
        self._watch_conn: sqlite3.Connection | None = None
        self._watch_lock = threading.Lock()
        self._closed = False
        # A standby's database (fazt.backup.standby): every write is refused with this
        # error, except the follower's own (functions marked `standby_ok`).
        self.read_only: Exception | None = None

    @classmethod
    def open(cls, path: Path, **kwargs: Any) -> "Database":
        """Create the file if needed (mode 0600), migrate it and start the writer."""
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        db = cls(path, **kwargs)
        db._writer_conn = open_connection(path)
        try:
            migrations.migrate(db._writer_conn)
        except BaseException:
            db._writer_conn.close()
            raise
        db._writer.start()
        return db

    # -- writes ---------------------------------------------------------------------------

    def connection_counts(self) -> tuple[int, int]:
        """(open connections, writes waiting for the writer), for status answers."""
        with self._reader_lock:
            readers = len(self._reader_conns)
        return readers + (self._writer_conn is not None), self._queue.qsize()

    def submit_write(self, fn: Callable[..., T], *args: Any) -> "Future[T]":
        """Queue fn(conn, *args) to run in one IMMEDIATE transaction on the writer thread."""
        if self._closed:
            raise RuntimeError("database is closed")
        if self.read_only is not None and not getattr(fn, "standby_ok", False):
            raise self.read_only
        future: Future = Future()
        self._queue.put((fn, args, future))
        return future

    def write_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return self.submit_write(fn, *args).result()

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self.submit_write(fn, *args))

    def _write_loop(self) -> None:
        conn = self._writer_conn
        assert conn is not None
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            fn, args, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn, *args)
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
            except sqlite3.Error as exc:
                translated = disk.translate(exc, self.path)
                if translated is not None:  # the operator's to fix: say so in the log
                    log.error("a write failed: %s (%s)", translated.message, exc)
                future.set_exception(translated or exc)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
        conn.execute("PRAGMA optimize")
        conn.close()

    # -- reads ----------------------------------------------------------------------------

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (created on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self.path)
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    def read_sync(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(self.reader(), *args)
        except sqlite3.Error as exc:
            translated = disk.translate(exc, self.path)
            if translated is None:
                raise
            raise translated from exc

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self._read_in_pool, fn, args)

    def _read_in_pool(self, fn: Callable[..., T], args: tuple) -> T:
        return self.read_sync(fn, *args)

    async def data_version(self) -> int:
        """A number that changes whenever a commit lands (from our writer or another
        process), to notice changes made elsewhere; cheap enough to poll every second."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self._data_version)

    def _data_version(self) -> int:
        # Its own connection: PRAGMA data_version is per connection, so comparing values
        # read on different pooled readers would see changes that never happened.
        with self._watch_lock:
            if self._watch_conn is None:
                self._watch_conn = open_connection(self.path)
            return self._watch_conn.execute("PRAGMA data_version").fetchone()[0]

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Finish queued writes, then close every connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._writer.join()
        self.pool.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        with self._watch_lock:
            if self._watch_conn is not None:
                self._watch_conn.close()
                self._watch_conn = None

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
