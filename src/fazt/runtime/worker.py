"""A JS worker process: runs requests' JavaScript, one at a time, for the server.

    python -m fazt.runtime.worker DB_PATH [--kv-via-server]

The server (executor.py) starts a few of these and kills one whose request passes its
deadline: that is how a runaway loop is stopped, so the QuickJS contexts here run
without a time limit and can call Python synchronously (fazt.storage, ...). See
docs/decisions/005-js-isolation.md.

Protocol on stdin/stdout: frames of a 4-byte big-endian length and UTF-8 text.
- server -> worker: `HEADER \\0 DEADLINE FRESH[ USER] \\0 REQUEST_JSON \\0 CONTEXT_JSON`,
  HEADER being JSON {"app", "dep", "entry", "mem", "stack"[, "src"]} (the same text for
  every request to one route of one deployment: parsed once), DEADLINE the deadline in
  time.monotonic() seconds, FRESH 1 or 0 (then `:COMMITTED`: how many of this worker's
  kv writes the server has committed), USER (absent when nobody is signed in) the
  JSON string of the signed-in visitor's id, which the server found from the session
  cookie: the only source of fazt.storage.user's scope. Several may be queued: they are
  run in order. `A<n>`: n of this worker's kv writes are committed (the answer to `F`).
- worker -> server: `R` once, when ready; `P[channel, message]` for
  fazt.realtime.publish (channel null: socket.broadcast of a root main.js; sent at
  once), `C0` or `C1` when a request needed a new context (from the spare one, or
  cold: the prelude evaluated on its path), then
  one `D` + HEADER_JSON + newline + BODY per request (HEADER: s, h, l, e, m, line, file);
  `B` before it builds a spare context (between requests, when no frame has come for
  SPARE_AFTER_IDLE_SECONDS) and `S` once it has. With --kv-via-server: `W...` for each
  kv.set and `F` to ask for an `A` (kv_pipe.py).

Storage runs on this process's own SQLite connection: reads directly, each write in
its own BEGIN IMMEDIATE transaction (SQLite's lock makes it one writer at a time with
the server's writer thread; the busy timeout waits for it); with --kv-via-server, kv.set
goes to the server's writer instead (kv_pipe.py, docs/decisions/010-kv-path.md).
"""

import collections
import contextlib
import ctypes
import fcntl
import json
import logging
import os
import select
import signal
import sqlite3
import struct
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import quickjs

from fazt.db.connection import open_connection
from fazt.runtime.kv_pipe import KvPipe, PipedStorage
from fazt.runtime.limits import Limits
from fazt.runtime.net import AppNet
from fazt.runtime.outcome import (
    FUNCTION_ERROR,
    Outcome,
    encode_outcome,
    timed_out,
)
from fazt.runtime.prelude import LEGACY_ENTRY
from fazt.runtime.private_files import PrivateFiles
from fazt.runtime.sandbox import Host, Job, Prepared, blank_context
from fazt.runtime.sources import load_sources
from fazt.storage import kv
from fazt.storage.bindings import AppStorage, StorageError, UserStorage

log = logging.getLogger("fazt.runtime.worker")
T = TypeVar("T")
STDLIB_DIR = Path(__file__).parent / "stdlib"
STDLIB_NAMES = frozenset({"lodash", "dayjs", "marked", "uuid", "validator", "zod", "cheerio"})
CONTEXTS = 16  # prepared contexts kept, most recently used first
SOURCE_SETS = 64  # deployments whose sources are kept
HEADERS_KEPT = 256  # parsed frame headers kept (one per route of a deployment)
MAX_CACHED_HEADER_CHARS = 1024  # longer ones (inline sources, in tests) are parsed each time
_LENGTH = struct.Struct(">I")
PR_SET_PDEATHSIG = 1
MAX_PUBLISHES_PER_REQUEST = 100
MAX_CHANNEL_CHARS = 128
CHECKPOINT_DELAY_SECONDS = 0.2
WAL_RESTART_FRAMES = 4096  # ~16 MB of WAL: then a checkpoint holds up JS writes once
KV_SWEEP_SECONDS = 1.0  # kv.set sweeps an app's expired keys at most this often here
# The spare context is built once no frame has come for this long: a request that follows
# another (the page's next call) is not held up by the ~10-30 ms of building it.
SPARE_AFTER_IDLE_SECONDS = 0.05
# os.read(fd, n) allocates n bytes first: 1 MiB per read was an mmap + munmap per request.
READ_CHUNK = 65536


class LocalDB:
    """The Database calls AppStorage makes, on this process's one connection.

    Its commits never checkpoint the WAL (an fsync of the database file, which measured
    10-30 ms on a busy machine, would stall the request that happened to trigger it): a
    background thread checkpoints (PASSIVE) shortly after writes instead, and once the WAL
    passes WAL_RESTART_FRAMES, once more holding the JS writers' turn (RESTART), so that
    the WAL starts over instead of growing for as long as writes keep coming.

    The JS workers take turns for writes with flock() on `DB.jslock` before BEGIN
    IMMEDIATE: a worker finding SQLite's lock taken would sleep in SQLite's busy handler
    (1 ms, then 2, 5...) although a kv.set holds it ~0.1 ms, while flock() wakes the next
    one as soon as the lock is released. (The server's own writer still meets them
    through SQLite's lock and busy timeout.)
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._wrote = threading.Event()
        self._turn: int | None = None  # the flock file descriptor
        # A warm standby's database (fazt.backup.standby.marker_path) takes no app writes:
        # the next position applied from the replica would silently undo them.
        self.standby = os.path.exists(f"{path}.standby.json")
        self.pipe: KvPipe | None = None  # kv.set through the server (--kv-via-server)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_connection(Path(self.path))
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._turn = os.open(f"{self.path}.jslock", os.O_RDWR | os.O_CREAT, 0o600)
            threading.Thread(target=self._checkpoints, name="checkpoint", daemon=True).start()
        return self._conn

    def read_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self.conn, *args)

    def refuse_standby(self) -> None:
        raise StorageError(  # shown to the app, which may catch it
            "STANDBY_READ_ONLY: this server is a read-only standby: writes go to the primary "
            "(or make this server the primary with `fazt standby promote`)",
        )

    def write_sync(self, fn: Callable[..., T], *args: Any) -> T:
        if self.standby:
            self.refuse_standby()
        if self.pipe is not None:  # kv.set calls sent before this one land first
            self.pipe.flush()
        conn = self.conn
        fcntl.flock(self._turn, fcntl.LOCK_EX)  # type: ignore[arg-type]
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn, *args)
                conn.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (a deferred constraint, SQLITE_BUSY, I/O) leaves the
                # transaction open, and with it the write lock every writer waits for;
                # after some errors (disk full) SQLite has rolled back already.
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the first error is the news
                        conn.execute("ROLLBACK")
                raise
        finally:
            fcntl.flock(self._turn, fcntl.LOCK_UN)  # type: ignore[arg-type]
        self._wrote.set()
        return result

    def _checkpoints(self) -> None:
        conn = open_connection(Path(self.path))
        turn = os.open(f"{self.path}.jslock", os.O_RDWR | os.O_CREAT, 0o600)  # its own
        while True:
            self._wrote.wait()
            time.sleep(CHECKPOINT_DELAY_SECONDS)  # one checkpoint for a burst of writes
            self._wrote.clear()
            with contextlib.suppress(sqlite3.Error):  # busy: the next write retries
                _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if frames > WAL_RESTART_FRAMES:
                    # Under steady writes the WAL is never wholly checkpointed when the
                    # next write starts, so SQLite never starts it over and it grows
                    # without bound (~10 MB/s under wrk). One pass holding the JS
                    # writers' turn lets RESTART finish; the next write then starts the
                    # WAL from its beginning.
                    fcntl.flock(turn, fcntl.LOCK_EX)
                    try:
                        conn.execute("PRAGMA wal_checkpoint(RESTART)")
                    finally:
                        fcntl.flock(turn, fcntl.LOCK_UN)


class RequestServices:
    """What one request's JavaScript may call in Python, each built at its first use (most
    requests use none of them, or one)."""

    def __init__(self, db: LocalDB, job: Job) -> None:
        self.db = db
        self.job = job

    @cached_property
    def storage(self) -> AppStorage:
        job, pipe = self.job, self.db.pipe
        if pipe is None:
            return AppStorage(self.db, job.app)  # type: ignore[arg-type]
        return PipedStorage(self.db, job.app, pipe)

    @cached_property
    def user_storage(self) -> UserStorage | None:
        """fazt.storage.user: the signed-in visitor's rows; None when nobody is."""
        job = self.job
        if job.user is None:
            return None
        return UserStorage(self.db, job.app, job.user)  # type: ignore[arg-type]

    @cached_property
    def net(self) -> AppNet:
        return AppNet(self.db, self.job.app, self.job.key[1], self.job.deadline)

    @cached_property
    def private(self) -> PrivateFiles:
        return PrivateFiles(self.db, self.job.app, self.job.key[1])


class JsWorker:
    """The state of one JS worker process: its contexts, cached sources and storage
    connection; `handle` runs one frame from the server."""

    def __init__(self, db_path: str, out: Callable[[str], None]) -> None:
        self.db = LocalDB(db_path)
        self.out = out
        self.contexts: OrderedDict[tuple, Prepared] = OrderedDict()
        self.sources: OrderedDict[tuple[str, int], dict[str, str]] = OrderedDict()
        self.stdlib: dict[str, str] = {}
        self.headers: dict[str, dict] = {}  # frame header text -> parsed
        self.published = 0  # realtime messages sent by the current request
        self.host = Host(publish=self._publish, stdlib=self._stdlib)
        # A context with the prelude evaluated, built while idle, for the next deployment
        # that needs a new one (sandbox.blank_context): a cold start then skips the prelude.
        self.spare: quickjs.Context | None = None
        self.spare_failed = False  # then not tried again before the next new context

    def _publish(self, channel: str | None, message: str) -> None:
        """fazt.realtime.publish, or with channel None v0.9's socket.broadcast (the text
        as is)."""
        # Each message costs the server's event loop some work: a request gets a budget.
        self.published += 1
        if self.published > MAX_PUBLISHES_PER_REQUEST:
            raise StorageError(
                f"realtime.publish: at most {MAX_PUBLISHES_PER_REQUEST} messages per request"
            )
        if channel is None:
            self.out("P" + json.dumps([None, message]))
            return
        if not isinstance(channel, str) or not 0 < len(channel) <= MAX_CHANNEL_CHARS:
            raise StorageError(f"realtime.publish: a channel is 1 to {MAX_CHANNEL_CHARS} chars")
        self.out("P" + json.dumps([channel, message]))

    def _stdlib(self, name: str) -> str | None:
        if name not in STDLIB_NAMES:
            return None
        if name not in self.stdlib:
            try:
                self.stdlib[name] = (STDLIB_DIR / f"{name}.js").read_text("utf-8")
            except OSError:
                return None
        return self.stdlib[name]

    def _sources(self, app: str, dep: int) -> dict[str, str]:
        key = (app, dep)
        found = self.sources.get(key)
        if found is None:
            found = self.db.read_sync(load_sources, app, dep)
            self.sources[key] = found
            while len(self.sources) > SOURCE_SETS:
                self.sources.popitem(last=False)
        else:
            self.sources.move_to_end(key)
        return found

    def handle(self, frame: str) -> str:
        head, timing, request_json, context_json = frame.split("\0", 3)
        h = self.headers.get(head)
        if h is None:
            h = json.loads(head)
            if len(head) <= MAX_CACHED_HEADER_CHARS:
                if len(self.headers) >= HEADERS_KEPT:
                    self.headers.clear()
                self.headers[head] = h
        deadline, fresh, *user = timing.split(" ", 2)
        fresh, _, committed = fresh.partition(":")
        if committed and self.db.pipe is not None:
            self.db.pipe.acked(int(committed))
        job = Job(
            app=h["app"],
            key=(h["app"], h["dep"], h["mem"], h["stack"]),
            entry=h["entry"],
            request_json=request_json,
            context_json=context_json,
            memory_mb=h["mem"],
            stack_bytes=h["stack"],
            deadline=float(deadline),  # time.monotonic(): the same clock in every process
            sources=h.get("src"),
            user=json.loads(user[0]) if user else None,
        )
        if time.monotonic() >= job.deadline:  # it waited behind a slow one: the server
            return encode_outcome(timed_out())  # has answered 504 already
        try:
            outcome = self.run(job, fresh=fresh == "1")
        except Exception:
            log.exception("the JavaScript runtime failed on %s", job.entry)
            outcome = Outcome(error=FUNCTION_ERROR, message="internal error in the runtime")
        return encode_outcome(outcome)

    def run(self, job: Job, fresh: bool = False) -> Outcome:
        self.host.services = RequestServices(self.db, job)
        self.published = 0
        context = None if fresh else self.contexts.pop(job.key, None)
        try:
            if context is None:
                sources = (
                    job.sources if job.sources is not None else self._sources(job.app, job.key[1])
                )
                context = self._new_context(job, sources)
            outcome = context.run(job)
        except Exception:
            if context is not None:
                context.usable = False
            raise
        finally:
            self.host.services = None
            if context is not None and context.usable and not fresh:
                self.contexts[job.key] = context
                while len(self.contexts) > CONTEXTS:
                    self.contexts.popitem(last=False)
        return outcome

    def _new_context(self, job: Job, sources: dict[str, str]) -> Prepared:
        """A context for the job's deployment, from the spare one when it can be; tells
        the server which ("C0": from the spare, "C1": the prelude ran on this request's
        path), for the pool's counters."""
        blank = None
        self.spare_failed = False
        if LEGACY_ENTRY not in sources:
            blank, self.spare = self.spare, None
        self.out("C0" if blank is not None else "C1")
        return Prepared(job, sources, self.host, blank)

    @property
    def needs_spare(self) -> bool:
        return self.spare is None and not self.spare_failed

    def prepare_spare(self) -> None:
        """Build the spare context if there is none (while no request waits); the server
        sends no request meanwhile (`B` ... `S`)."""
        if self.spare is not None:
            return
        self.out("B")
        try:
            self.spare = blank_context(self.host, Limits().stack_bytes)
        except Exception:  # the next request builds its context itself, as before
            log.exception("preparing a spare JavaScript context failed")
            self.spare_failed = True
        self.out("S")


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main(argv: list[str]) -> int:
    _die_with_parent()
    via_server = argv[1:] == ["--kv-via-server"]
    if not (len(argv) == 1 or via_server):
        print("usage: python -m fazt.runtime.worker DB_PATH [--kv-via-server]", file=sys.stderr)
        return 2
    # fd 1 carries frames: keep it for that, and send any stray print() to stderr.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when workers stop
    logging.basicConfig(level=logging.WARNING, format="fazt js worker: %(message)s")
    kv.SWEEP_INTERVAL_SECONDS = KV_SWEEP_SECONDS

    def write(text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        view = memoryview(_LENGTH.pack(len(data)) + data)
        while view:
            view = view[os.write(out_fd, view) :]

    # The server gone or stopping (it closed our pipes): nobody to answer, nothing to say.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, EOFError):
        worker = JsWorker(argv[0], write)
        frames = Frames(0)
        if via_server:
            worker.db.pipe = frames.pipe = KvPipe(write, frames.wait)
        serve_frames(worker, write, frames)
    return 0


class Frames:
    """Frames from the server on a file descriptor: requests, kept in order, and `A<n>`
    (n kv writes committed), handed to the KvPipe at once."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.requests: collections.deque[str] = collections.deque()
        self.pipe: KvPipe | None = None

    def next_request(self) -> str | None:
        """The next request frame; None once the server has closed the pipe."""
        while not self.requests:
            if not self._read():
                return None
        return self.requests.popleft()

    def pending(self) -> bool:
        """Whether a frame (or part of one) has been read and not handled yet."""
        return bool(self.buffer or self.requests)

    def wait(self, done: Callable[[], bool]) -> None:
        """Read frames until done() (a KvPipe flush); EOFError if the server is gone."""
        while not done():
            if not self._read():
                raise EOFError("the server closed the pipe")

    def _read(self) -> bool:
        """Read one more frame; False at the end of the input."""
        buffer = self.buffer
        needed = 4 + _LENGTH.unpack_from(buffer)[0] if len(buffer) >= 4 else 4
        while len(buffer) < needed:
            chunk = os.read(self.fd, max(READ_CHUNK, needed - len(buffer)))
            if not chunk:
                return False  # the server closed the pipe (or died: PR_SET_PDEATHSIG too)
            buffer += chunk
            if len(buffer) >= 4:
                needed = 4 + _LENGTH.unpack_from(buffer)[0]
        frame = buffer[4:needed].decode("utf-8", "surrogatepass")
        del buffer[:needed]
        if frame[:1] == "A":
            if self.pipe is not None:
                self.pipe.acked(int(frame[1:]))
        else:
            self.requests.append(frame)
        return True


def serve_frames(worker: JsWorker, write: Callable[[str], None], frames: Frames) -> None:
    """Say ready, then answer each frame on stdin until the server closes it; once no
    frame has come for a moment, build the spare context if it was used."""
    write("R")  # ready: what the server counts a request's time budget from
    while True:
        idle = worker.needs_spare and not frames.pending()
        if idle and not _input_waiting(SPARE_AFTER_IDLE_SECONDS):
            worker.prepare_spare()
        frame = frames.next_request()
        if frame is None:
            return
        write(worker.handle(frame))


def _input_waiting(seconds: float) -> bool:
    """Whether a frame comes on stdin within `seconds`."""
    return bool(select.select([0], [], [], seconds)[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
