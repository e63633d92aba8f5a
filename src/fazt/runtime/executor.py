"""JS worker processes: JavaScript never runs in the server process.

A small pool of `python -m fazt.runtime.worker` processes (worker.py), started on the
first request that needs one, each running one request at a time. The event loop talks
to them over pipes (no extra threads). A request that passes its deadline gets its
worker killed (SIGKILL) and replaced: that is what stops a runaway loop, while every
other request keeps being served by the other workers.

Fair between apps: requests wait for a worker in one queue per app, and the apps that
have requests waiting are served in turn (round-robin), so a thousand requests of one
app do not stand in front of another app's one. An app whose requests are slow may hold
at most `app_workers` workers (by default all but one), so another app always finds a
worker within one of its own requests' time; a request is never queued in the pipe of a
worker running another app's requests. Each app's queue is bounded (`queue_size`), and
so are all of them together (`total_queue`): past a bound the caller gets `Overloaded` at
once (503 with Retry-After) instead of an ever-growing backlog, and an app filling its
own queue gets it only for itself.

Why processes and not threads: docs/decisions/005-js-isolation.md.

With `kv_writes` (a GroupCommit), the workers send each kv.set here instead of writing
it themselves, and the writes of all workers are committed together; an answer (or a
realtime message) of a worker is held back until every write that worker sent before it
is committed, so nothing a client or a subscriber saw can be lost in a crash.
docs/decisions/010-kv-path.md.
"""

import asyncio
import collections
import contextlib
import json
import logging
import os
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fazt.backoff import Backoff
from fazt.runtime.group_commit import GroupCommit
from fazt.runtime.outcome import FUNCTION_ERROR, Outcome, decode_outcome, timed_out

log = logging.getLogger("fazt.runtime")
_LENGTH = struct.Struct(">I")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding fazt/
QUICK_EXIT_SECONDS = 2.0  # a worker dying sooner than this after start slows respawns
RESPAWN_BACKOFF = Backoff(base=0.2, cap=5.0)  # after 1, 2, ... quick exits in a row
STARTUP_SECONDS = 15.0  # how long the first request waits for the first worker to start
# A worker that left the pool (died, or failed a write) keeps its transport this long, so
# that what its stdout still held is read; then the transport (its stdin pipe) is closed.
RETIRED_SECONDS = 1.0
# Requests sent to one worker at a time: one running, the others waiting in its pipe, so
# that under load a worker goes from one request to the next without sleeping. Measured
# on the idle 2-core machine (docs/benchmarks.md): 1 -> ~4,400 req/s, 2 -> ~4,800,
# 4 -> ~6,500, 8 -> ~6,600 for a trivial handler. A request is queued behind a busy worker
# only when no worker is idle and that worker's running request started less than
# SLOW_SECONDS ago, which bounds how long a slow request can hold others up.
PIPELINE_DEPTH = 4
SLOW_SECONDS = 0.02
# An app with a request that ran longer than SLOW_SECONDS in the last SLOW_MEMORY_SECONDS
# (or is running longer now) counts as slow: it may hold at most `app_workers` workers.
SLOW_MEMORY_SECONDS = 1.0
# ... unless no other app has sent a request for this long: then it may use every worker.
ALONE_SECONDS = 10.0
# All apps' waiting requests together, by default: this many times one app's bound.
TOTAL_QUEUE_FACTOR = 4
# Deadlines are checked by one periodic watchdog instead of a timer per request (a timer
# was a visible part of the event loop's cost per request); a request that passes its
# deadline is answered at most this late.
WATCH_SECONDS = 0.05


class Overloaded(Exception):
    """Every worker is busy and the queue is full."""


class _Run:
    """One request on its way through the pool."""

    __slots__ = (
        "budget",
        "deadline",
        "future",
        "header",
        "request",
        "site",
        "user",
        "worker",
        "write_error",
    )

    def __init__(
        self, future: asyncio.Future, site: str, header: str, request: str, user: str | None
    ) -> None:
        self.future = future
        # " " + the signed-in visitor's id as JSON (worker.py), or "" when nobody is
        self.user = "" if user is None else " " + json.dumps(user)
        self.site = site
        self.header = header  # the header's JSON text
        self.request = request  # REQUEST_JSON \0 CONTEXT_JSON
        self.deadline = 0.0
        self.budget = 0.0  # > 0: its budget starts when the first worker is up
        self.worker: _JsProcess | None = None  # None while queued in the pool
        self.write_error: str | None = None  # one of its kv writes was refused


class _Pipes(asyncio.SubprocessProtocol):
    def __init__(self, worker: "_JsProcess") -> None:
        self.worker = worker
        self.buffer = bytearray()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1:
            return
        buffer = self.buffer
        buffer += data
        pool = self.worker.pool
        while len(buffer) >= 4:
            size = _LENGTH.unpack_from(buffer)[0]
            if len(buffer) < 4 + size:
                break
            frame = bytes(buffer[4 : 4 + size])
            del buffer[: 4 + size]
            pool._on_frame(self.worker, frame.decode("utf-8", "surrogatepass"))
        pool._dispatch()  # once for all the answers read: one write per worker

    def process_exited(self) -> None:
        self.worker.pool._on_exit(self.worker)


class _JsProcess:
    """The pool's handle on one JS worker process: its pipes and the requests sent to it."""

    def __init__(self, pool: "WorkerPool") -> None:
        self.pool = pool
        self.transport: Any = None
        self.inflight: collections.deque[_Run] = collections.deque()  # sent, in order
        self.alive = True
        self.lost = False  # the pool has given it up (and started its replacement)
        self.ready = False  # its "R" frame arrived
        self.started = time.monotonic()
        self.head_since = 0.0  # when the request now running (inflight[0]) started
        self.building = False  # building its spare context: sent no request meanwhile
        self.sent = 0  # kv writes received from it (kv_pipe.py)
        self.committed = 0  # of them, committed (or refused)
        # (writes that must be committed first, what to do then): answers, publishes
        self.held: collections.deque[tuple[int, Callable[[], None]]] = collections.deque()

    def send(self, frames: list[bytes]) -> None:
        self.transport.get_pipe_transport(0).write(b"".join(frames))

    def kill(self) -> None:
        self.alive = False
        with contextlib.suppress(ProcessLookupError, OSError):
            self.transport.kill()
        self.transport.close()

    def stop(self) -> None:
        """Close its stdin: the worker exits after the requests it was sent."""
        self.alive = False
        with contextlib.suppress(Exception):
            self.transport.get_pipe_transport(0).close()


class WorkerPool:
    def __init__(
        self,
        db_path: str | os.PathLike,
        workers: int,
        queue_size: int,
        *,
        fresh: bool = False,
        publish: Callable[[str, str | None, str], None] | None = None,
        pipeline: int = PIPELINE_DEPTH,
        total_queue: int | None = None,
        app_workers: int | None = None,
        kv_writes: GroupCommit | None = None,
    ) -> None:
        """`queue_size` bounds the requests one app has waiting, `total_queue` (default
        TOTAL_QUEUE_FACTOR times it) all apps' together; `app_workers` (default all
        workers but one) is the most workers one slow app may hold; `kv_writes`: the
        workers' kv.set calls are committed there (else each worker writes its own)."""
        self.db_path = str(db_path)
        self.size = workers
        self.queue_size = queue_size
        self.total_queue = total_queue or TOTAL_QUEUE_FACTOR * queue_size
        self.app_workers = min(workers, max(1, app_workers or workers - 1))
        self.fresh = fresh
        self.pipeline = pipeline
        self.publish = publish  # (site, channel, message JSON); channel None: raw text
        self.kv_writes = kv_writes
        if kv_writes is not None:
            kv_writes.done = self._committed
        self._workers: set[_JsProcess] = set()
        self._idle: set[_JsProcess] = set()  # up, running nothing
        self._held: dict[str, int] = {}  # app -> workers running its requests (> 0)
        # Requests not yet sent, one queue per app; `_ring` holds the apps that have some,
        # in the order they are served (round-robin); `_queued` counts them all.
        self._queues: dict[str, collections.deque[_Run]] = {}
        self._ring: collections.deque[str] = collections.deque()
        self._queued = 0
        self._slow_until: dict[str, float] = {}  # app -> until when it counts as slow
        self._last_site = ""  # the app of the latest request, and when it came
        self._last_at = self._other_at = -ALONE_SECONDS  # (and the latest of another app)
        self._starting = 0
        self._tasks: set[asyncio.Future] = set()
        self._quick_exits = 0
        self._retired: set[_JsProcess] = set()  # left the pool; transport closed soon
        self._unready: set[_JsProcess] = set()  # started, "R" not received yet
        self._closed = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Contexts the workers created for a request: from their spare (prelude evaluated
        # ahead), or cold (the prelude ran on the request's path); and the spares they
        # prepared (worker.py "C" and "S" frames).
        self.contexts = {"spare": 0, "cold": 0, "prepared": 0}

    def usage(self) -> dict:
        """How busy the pool is now (the dashboard's health view)."""
        running = len(self._workers)
        return {
            "size": self.size,
            "running": running,
            "busy": running - len(self._idle),
            "queued": self._queued,
            "contexts_spare": self.contexts["spare"],
            "contexts_cold": self.contexts["cold"],
            "contexts_prepared": self.contexts["prepared"],
        }

    # -- requests -------------------------------------------------------------------------

    async def run(
        self,
        site: str,
        header: dict[str, Any] | str,
        request_json: str,
        context_json: str,
        deadline: float,
        user: str | None = None,
    ) -> Outcome:
        """Run one request of app `site` in a worker; `deadline` is time.monotonic()
        based. `header` is a dict or, precomputed by the caller, its JSON text. `user`:
        the signed-in visitor's id from the verified session (fazt.storage.user)."""
        if self._closed:
            raise Overloaded("the runtime is shutting down")
        if len(self._workers) + self._starting < self.size:
            for _ in range(self.size - len(self._workers) - self._starting):
                self._spawn()
        queue = self._queues.get(site)
        # (the sums over the workers' pipes only when the queues alone are near a bound)
        slack = self.size * (self.pipeline - 1)
        near = (len(queue) if queue else 0) + slack >= self.queue_size
        if near and self._waiting(site) >= self.queue_size:
            raise Overloaded(f"all JavaScript workers are busy with {site}'s requests")
        if self._queued + slack >= self.total_queue and self._waiting() >= self.total_queue:
            raise Overloaded("all JavaScript workers are busy")
        loop = self._loop
        if loop is None:  # asyncio.get_running_loop() is a getpid() syscall: once
            loop = self._loop = asyncio.get_running_loop()
        if isinstance(header, dict):
            header = json.dumps(header)
        run = _Run(loop.create_future(), site, header, request_json + "\0" + context_json, user)
        now = time.monotonic()
        if site != self._last_site:
            self._other_at, self._last_site = self._last_at, site
        self._last_at = now
        budget = deadline - now
        if budget <= 0:
            return timed_out()
        run.deadline = deadline
        if not self._workers:
            # No worker is up yet (the first request since the server started): that
            # wait is the server's, so the function's budget starts when one is.
            run.budget = budget
            run.deadline = time.monotonic() + STARTUP_SECONDS + budget
        if queue is None:
            queue = self._queues[site] = collections.deque()
            self._ring.append(site)
        queue.append(run)
        self._queued += 1
        self._start_watchdog()
        self._dispatch()
        # If the caller is cancelled (the client went away), the request still runs to
        # its end (or is killed at its deadline); only its answer is dropped.
        return await run.future

    def _waiting(self, site: str | None = None) -> int:
        """Requests admitted but not running (of one app, or of all): in the queues or in
        a worker's pipe."""
        if site is None:
            return self._queued + sum(max(0, len(w.inflight) - 1) for w in self._workers)
        piped = sum(
            len(w.inflight) - 1 for w in self._workers if w.inflight and w.inflight[0].site == site
        )
        return len(self._queues.get(site, ())) + piped

    def _requeue(self, run: _Run) -> None:
        """Put an admitted request back at the head of its app's queue."""
        run.worker = None
        queue = self._queues.get(run.site)
        if queue is None:
            queue = self._queues[run.site] = collections.deque()
            self._ring.appendleft(run.site)
        queue.appendleft(run)
        self._queued += 1

    def _dispatch(self) -> None:
        """Send queued requests to workers, one write per worker, taking the apps with
        requests waiting in turn: an idle worker first, if the app may take one more;
        else, up to `pipeline`, behind the least busy worker running that app's requests
        whose running request is not slow, and only if no other app waits for a worker."""
        ring = self._ring
        if not ring:
            return
        now = time.monotonic()
        idle, held = self._idle, self._held
        frames: dict[_JsProcess, list[bytes]] = {}
        skipped = 0  # apps in a row that could not be served: all of them ends the round
        while ring and skipped < len(ring):
            site = ring[0]
            if idle and held.get(site, 0) < self._share(site, now):
                worker: _JsProcess | None = next(iter(idle))
            else:
                worker = self._behind(site, now)
            if worker is None:
                ring.rotate(-1)
                skipped += 1
                continue
            skipped = 0
            queue = self._queues[site]
            run = queue.popleft()
            self._queued -= 1
            if queue:
                ring.rotate(-1)  # the next app's turn
            else:
                ring.popleft()
                del self._queues[site]
            if not run.future.done():  # else timed out or gone while queued
                frames.setdefault(worker, []).append(self._frame(worker, run, now))
        for worker, batch in frames.items():
            if worker.lost:  # given up while an earlier batch failed: its runs requeued
                continue
            try:
                worker.send(batch)
            except RuntimeError:  # its pipe is closed: the process is gone
                self._lost(worker, "the function's worker process died")

    def _share(self, site: str, now: float) -> int:
        """How many workers `site` may hold. A slow app gets `app_workers` (all but one)
        while other apps are about: the worker it leaves is what lets their requests
        start within milliseconds instead of after one of its slow requests (which may
        last up to its timeout). An app whose requests are quick may use every worker,
        since each frees up within SLOW_SECONDS; so may a slow app alone (no other app's
        request for ALONE_SECONDS), since leaving a worker idle would only cost it (a
        newcomer then waits for one of its requests, once)."""
        until = self._slow_until.get(site)
        if until is None:
            return self.size
        if until <= now:
            del self._slow_until[site]
            return self.size
        other = self._last_at if self._last_site != site else self._other_at
        alone = now - other >= ALONE_SECONDS and len(self._ring) <= 1
        if alone and all(s == site for s in self._held):
            return self.size
        # A worker being replaced (most likely killed at one of this app's deadlines)
        # comes out of this app's share, not out of the one left for the others: down to
        # none, until the replacement is up.
        return max(0, self.app_workers - (self.size - len(self._workers)))

    def _behind(self, site: str, now: float) -> "_JsProcess | None":
        """A worker running `site`'s requests to queue one more behind (in its pipe), or
        None. Not while another app waits for a worker: a pipe kept full would never
        free the worker for it."""
        held = self._held
        if site not in held:
            return None
        if len(self._ring) > 1:
            for other in self._ring:
                if other != site and held.get(other, 0) < self._share(other, now):
                    return None
        best = None
        for worker in self._workers:
            inflight = worker.inflight
            if not inflight or inflight[0].site != site or not worker.alive:
                continue
            if len(inflight) >= self.pipeline or now - worker.head_since > SLOW_SECONDS:
                continue
            if best is None or len(inflight) < len(best.inflight):
                best = worker
        return best

    def _taken(self, worker: _JsProcess, site: str) -> None:
        """An idle worker gets a request of `site`."""
        self._idle.discard(worker)
        self._held[site] = self._held.get(site, 0) + 1

    def _released(self, site: str) -> None:
        """A worker running `site`'s requests has none left (idle now, or gone)."""
        left = self._held[site] - 1
        if left:
            self._held[site] = left
        else:
            del self._held[site]

    def _frame(self, worker: _JsProcess, run: _Run, now: float) -> bytes:
        """Hand `run` to `worker` (in flight from now on) and return its frame."""
        if run.budget:
            run.deadline = now + run.budget
            run.budget = 0.0
        if not worker.inflight:
            worker.head_since = now
            self._taken(worker, run.site)
        run.worker = worker
        worker.inflight.append(run)
        fresh = "1" if self.fresh else "0"
        text = f"{run.header}\0{run.deadline!r} {fresh}:{worker.committed}{run.user}\0{run.request}"
        data = text.encode("utf-8", "surrogatepass")
        return _LENGTH.pack(len(data)) + data

    def _finish(self, run: _Run, outcome: Outcome) -> None:
        if not run.future.done():
            run.future.set_result(outcome)

    def _on_frame(self, worker: _JsProcess, text: str) -> None:
        """One frame from a worker; the caller dispatches afterwards."""
        kind = text[:1]
        if kind == "R":
            if worker.ready:
                return
            worker.ready = True
            self._starting -= 1
            self._unready.discard(worker)
            if self._closed:
                worker.stop()
                return
            self._workers.add(worker)
            self._idle.add(worker)
        elif kind == "W":
            self._on_write(worker, text)
        elif kind == "F":  # the worker waits until its kv writes are committed
            self._after_writes(worker, lambda: self._tell_committed(worker))
        elif kind == "C":
            self.contexts["cold" if text[1:2] == "1" else "spare"] += 1
        elif kind == "B":  # it builds its spare context (~10-30 ms): not idle until "S"
            if not worker.inflight and worker in self._idle:
                self._idle.discard(worker)
                worker.building = True
        elif kind == "S":
            self.contexts["prepared"] += 1
            if worker.building:
                worker.building = False
                if not worker.lost and not worker.inflight and worker in self._workers:
                    self._idle.add(worker)
        elif kind == "P":
            if worker.inflight and self.publish is not None:
                channel, message = json.loads(text[1:])
                site = worker.inflight[0].site
                self._after_writes(worker, lambda: self._publish(site, channel, message))
        elif kind == "D" and worker.inflight:
            self._quick_exits = 0
            run = worker.inflight.popleft()
            now = time.monotonic()
            if now - worker.head_since > SLOW_SECONDS:
                self._slow_until[run.site] = now + SLOW_MEMORY_SECONDS
            outcome = decode_outcome(text[1:])
            if worker.sent > worker.committed:
                worker.held.append((worker.sent, lambda: self._answer(run, outcome)))
            else:
                self._answer(run, outcome)
            if worker.inflight:
                worker.head_since = now
            else:
                self._idle.add(worker)
                self._released(run.site)

    # -- kv writes (kv_pipe.py, group_commit.py) -------------------------------------------

    def _on_write(self, worker: _JsProcess, text: str) -> None:
        """One kv.set from a worker: to the group commit, tagged with the request that
        made it (none if the worker was given up meanwhile: its writes still count)."""
        app, key, expires, stamp, value = text[1:].split("\0", 4)
        run = worker.inflight[0] if worker.inflight else None
        if self.kv_writes is None or (run is not None and run.site != app):
            # Cannot happen with our worker code; if it did, trust nothing it sends.
            log.error("a JavaScript worker sent a kv write it may not make: killed")
            worker.kill()
            self._lost(worker, "the function's worker process failed")
            return
        worker.sent += 1
        self.kv_writes.add((worker, worker.sent, run), (app, key, value, expires or None, stamp))

    def _committed(self, tokens: list, errors: list[str | None]) -> None:
        """A batch of kv writes is committed: release what waited for them."""
        workers = {}
        for (worker, number, run), error in zip(tokens, errors, strict=True):
            if error is not None and run is not None and run.write_error is None:
                run.write_error = error
            worker.committed = max(worker.committed, number)
            workers[worker] = None
        for worker in workers:
            held = worker.held
            while held and held[0][0] <= worker.committed:
                held.popleft()[1]()
        self._dispatch()

    def _after_writes(self, worker: _JsProcess, action: Callable[[], None]) -> None:
        """Run `action` once the kv writes `worker` has sent so far are committed."""
        if worker.sent > worker.committed:
            worker.held.append((worker.sent, action))
        else:
            action()

    def _tell_committed(self, worker: _JsProcess) -> None:
        if worker.alive and not worker.lost:
            data = f"A{worker.committed}".encode()
            with contextlib.suppress(RuntimeError):  # its pipe is closed: it is gone
                worker.send([_LENGTH.pack(len(data)) + data])

    def _publish(self, site: str, channel: str | None, message: str) -> None:
        if self.publish is not None:
            try:
                self.publish(site, channel, message)
            except Exception:
                log.exception("publishing for %s failed", site)

    def _answer(self, run: _Run, outcome: Outcome) -> None:
        """The answer of a request whose kv writes are committed now (or were refused)."""
        if run.write_error is not None and outcome.error is None:
            outcome = Outcome(error=FUNCTION_ERROR, message=run.write_error)
        self._finish(run, outcome)

    def _watch(self) -> None:
        """The watchdog: answer every request past its deadline; kill a worker running
        one (the only sure way to stop it) and replace it."""
        self._watchdog = None
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.inflight and now - worker.head_since > SLOW_SECONDS:
                # (checked here, not per dispatch: an app is known slow while its first
                # slow request still runs, at most WATCH_SECONDS late)
                self._slow_until[worker.inflight[0].site] = now + SLOW_MEMORY_SECONDS
            if worker.inflight and worker.inflight[0].deadline <= now:
                self._expire(worker.inflight[0])
            for run in worker.inflight:
                if run.deadline <= now:  # waiting in its pipe: the worker will skip it
                    self._finish(run, timed_out())
        for site, queue in list(self._queues.items()):
            if any(run.deadline <= now for run in queue):
                self._drop_expired(site, queue, now)
        if self._queued or any(w.inflight for w in self._workers):
            self._start_watchdog()

    def _drop_expired(self, site: str, queue: collections.deque[_Run], now: float) -> None:
        """Answer the requests of `site` that passed their deadline while queued."""
        for run in queue:
            if run.deadline <= now:
                self._finish(run, timed_out())
        kept = collections.deque(r for r in queue if not r.future.done())
        self._queued -= len(queue) - len(kept)
        if kept:
            self._queues[site] = kept
        else:
            del self._queues[site]
            self._ring.remove(site)

    def _start_watchdog(self) -> None:
        """Schedule the watchdog, unless it is scheduled already or the pool is closed."""
        if self._watchdog is None and not self._closed:
            loop = self._loop or asyncio.get_running_loop()
            self._watchdog = loop.call_later(WATCH_SECONDS, self._watch)

    def _expire(self, run: _Run) -> None:
        """`run` is running past its deadline: kill its worker, answer, replace."""
        worker = run.worker
        assert worker is not None
        worker.kill()
        self._slow_until[run.site] = time.monotonic() + SLOW_MEMORY_SECONDS
        self._finish(run, timed_out())
        self._lost(worker, None)

    def _lost(self, worker: _JsProcess, crash: str | None) -> None:
        """The worker is gone: fail its running request (if `crash`), requeue the ones
        behind it that it never started, start a replacement. Once per worker: when
        several workers died at once, a batch for one of them can fail after a nested
        dispatch gave it up already (that replaced it twice: a 4th of 3 workers)."""
        if worker.lost:
            return
        worker.lost = True
        worker.alive = False
        self._idle.discard(worker)
        runs, worker.inflight = list(worker.inflight), collections.deque()
        if runs:
            self._released(runs[0].site)
        if runs and crash is not None:
            self._finish(runs.pop(0), Outcome(error=FUNCTION_ERROR, message=crash))
        for run in reversed(runs):
            if not run.future.done():
                self._requeue(run)
        self._replace(worker)
        self._dispatch()
        if self._queued:
            self._start_watchdog()

    def _on_exit(self, worker: _JsProcess) -> None:
        self._unready.discard(worker)
        if not worker.ready:
            self._starting -= 1
            worker.ready = True  # counted once
        if worker.alive:  # not killed or stopped by us
            log.warning("a JavaScript worker process exited unexpectedly")
            if time.monotonic() - worker.started < QUICK_EXIT_SECONDS:
                self._quick_exits += 1
            self._lost(worker, "the function's worker process died")

    # -- processes ------------------------------------------------------------------------

    def _replace(self, worker: _JsProcess) -> None:
        self._workers.discard(worker)
        if worker.transport is not None and worker not in self._retired:
            self._retired.add(worker)
            asyncio.get_running_loop().call_later(RETIRED_SECONDS, self._close_retired, worker)
        if not self._closed:
            self._spawn()

    def _close_retired(self, worker: _JsProcess) -> None:
        self._retired.discard(worker)
        worker.transport.close()

    def _spawn(self) -> None:
        self._starting += 1
        delay = RESPAWN_BACKOFF.delay(self._quick_exits)
        task = asyncio.ensure_future(self._start_worker(delay))
        self._tasks.add(task)  # a reference, so the task is not collected while it runs
        task.add_done_callback(self._tasks.discard)

    async def _start_worker(self, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            if self._closed:
                return
            worker = _JsProcess(self)
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p
            )
            via_server = ("--kv-via-server",) if self.kv_writes is not None else ()
            worker.transport, _ = await asyncio.get_running_loop().subprocess_exec(
                lambda: _Pipes(worker),
                sys.executable,
                "-m",
                "fazt.runtime.worker",
                self.db_path,
                *via_server,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=None,
                env=env,
            )
        except Exception:
            log.exception("starting a JavaScript worker process failed")
            self._quick_exits += 1
            self._starting -= 1
            if not self._closed:
                self._spawn()
            return
        if self._closed:
            self._starting -= 1
            worker.ready = True  # counted
            worker.stop()
            self._retired.add(worker)  # aclose() closes its transport
        else:  # it counts as starting until its "R" frame (imports done, ready to serve)
            self._unready.add(worker)

    async def aclose(self, wait: float = 5.0) -> None:
        """close(), then wait (up to `wait` seconds) for the processes to end."""
        workers = [*self._workers, *self._unready]
        self.close()
        if self._tasks:  # workers being started: they stop themselves once up
            await asyncio.wait(list(self._tasks), timeout=wait)
        deadline = time.monotonic() + wait
        while any(w.transport.get_returncode() is None for w in workers):
            if time.monotonic() > deadline:
                for w in workers:
                    w.kill()
                break
            await asyncio.sleep(0.01)
        for w in [*workers, *self._retired]:
            w.transport.close()
        self._retired.clear()

    def close(self) -> None:
        """Stop every worker (an idle one exits at once, a busy one is killed)."""
        self._closed = True
        runs = [run for queue in self._queues.values() for run in queue]
        for worker in list(self._workers):
            if worker.inflight:
                worker.kill()
                runs.extend(worker.inflight)
            else:
                worker.stop()
        self._workers.clear()
        self._idle.clear()
        self._held.clear()
        for worker in self._unready:  # it exits once it has started and reads the end
            worker.stop()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        stopped = Overloaded("the runtime is shutting down")
        for run in runs:
            if not run.future.done():
                run.future.set_exception(stopped)
        self._queues.clear()
        self._ring.clear()
        self._queued = 0
