"""JS worker processes: JavaScript never runs in the server process.

A small pool of `python -m fazt.runtime.worker` processes (worker.py), started on the
first request that needs one, each running one request at a time. The event loop talks
to them over pipes (no extra threads). A request that passes its deadline gets its
worker killed (SIGKILL) and replaced: that is what stops a runaway loop, while every
other request keeps being served by the other workers. Requests wait for a free worker
in a bounded queue; when it is full the caller gets `Overloaded` at once (503 with
Retry-After) instead of an ever-growing backlog.

Why processes and not threads: docs/decisions/005-js-isolation.md.
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

from fazt.runtime.sandbox import FUNCTION_ERROR, Outcome
from fazt.runtime.worker import decode_outcome, timed_out

log = logging.getLogger("fazt.runtime")
_LENGTH = struct.Struct(">I")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding fazt/
QUICK_EXIT_SECONDS = 2.0  # a worker dying sooner than this after start slows respawns
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
# Deadlines are checked by one periodic watchdog instead of a timer per request (a timer
# was a visible part of the event loop's cost per request); a request that passes its
# deadline is answered at most this late.
WATCH_SECONDS = 0.05


class Overloaded(Exception):
    """Every worker is busy and the queue is full."""


class _Run:
    """One request on its way through the pool."""

    __slots__ = ("budget", "deadline", "future", "header", "request", "site", "worker")

    def __init__(self, future: asyncio.Future, site: str, header: str, request: str) -> None:
        self.future = future
        self.site = site
        self.header = header  # the header's JSON text
        self.request = request  # REQUEST_JSON \0 CONTEXT_JSON
        self.deadline = 0.0
        self.budget = 0.0  # > 0: its budget starts when the first worker is up
        self.worker: _Worker | None = None  # None while queued in the pool


class _Pipes(asyncio.SubprocessProtocol):
    def __init__(self, worker: "_Worker") -> None:
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


class _Worker:
    def __init__(self, pool: "WorkerPool") -> None:
        self.pool = pool
        self.transport: Any = None
        self.inflight: collections.deque[_Run] = collections.deque()  # sent, in order
        self.alive = True
        self.ready = False  # its "R" frame arrived
        self.started = time.monotonic()
        self.head_since = 0.0  # when the request now running (inflight[0]) started

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
        publish: Callable[[str, str, str], None] | None = None,
        pipeline: int = PIPELINE_DEPTH,
    ) -> None:
        self.db_path = str(db_path)
        self.size = workers
        self.queue_size = queue_size
        self.fresh = fresh
        self.pipeline = pipeline
        self.publish = publish  # (site, channel, message JSON)
        self._workers: set[_Worker] = set()
        self._queue: collections.deque[_Run] = collections.deque()  # not yet sent
        self._starting = 0
        self._tasks: set[asyncio.Future] = set()
        self._quick_exits = 0
        self._retired: set[_Worker] = set()  # left the pool; transport closed soon
        self._unready: set[_Worker] = set()  # started, "R" not received yet
        self._closed = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- requests -------------------------------------------------------------------------

    async def run(
        self,
        site: str,
        header: dict[str, Any] | str,
        request_json: str,
        context_json: str,
        deadline: float,
    ) -> Outcome:
        """Run one request in a worker; `deadline` is time.monotonic() based. `header` is
        a dict or, precomputed by the caller, its JSON text."""
        if self._closed:
            raise Overloaded("the runtime is shutting down")
        if len(self._workers) + self._starting < self.size:
            for _ in range(self.size - len(self._workers) - self._starting):
                self._spawn()
        # (the sum over the workers' pipes only when the queue alone is near the bound)
        near = len(self._queue) + self.size * (self.pipeline - 1) >= self.queue_size
        if near and self._waiting() >= self.queue_size:
            raise Overloaded("all JavaScript workers are busy")
        loop = self._loop
        if loop is None:  # asyncio.get_running_loop() is a getpid() syscall: once
            loop = self._loop = asyncio.get_running_loop()
        if isinstance(header, dict):
            header = json.dumps(header)
        run = _Run(loop.create_future(), site, header, request_json + "\0" + context_json)
        budget = deadline - time.monotonic()
        if budget <= 0:
            return timed_out()
        run.deadline = deadline
        if not self._workers:
            # No worker is up yet (the first request since the server started): that
            # wait is the server's, so the function's budget starts when one is.
            run.budget = budget
            run.deadline = time.monotonic() + STARTUP_SECONDS + budget
        self._queue.append(run)
        self._start_watchdog()
        self._dispatch()
        # If the caller is cancelled (the client went away), the request still runs to
        # its end (or is killed at its deadline); only its answer is dropped.
        return await run.future

    def _waiting(self) -> int:
        """Requests admitted but not running: in the queue or in a worker's pipe."""
        return len(self._queue) + sum(max(0, len(w.inflight) - 1) for w in self._workers)

    def _dispatch(self) -> None:
        """Send queued requests to workers, one write per worker: an idle worker first;
        else, up to `pipeline`, behind the least busy worker whose running request is
        not slow."""
        queue = self._queue
        if not queue:
            return
        frames: dict[_Worker, list[bytes]] = {}
        now = time.monotonic()
        while queue:
            worker = self._pick(now)
            if worker is None:
                break
            run = queue.popleft()
            if run.future.done():  # timed out or gone while queued
                continue
            frames.setdefault(worker, []).append(self._frame(worker, run, now))
        for worker, batch in frames.items():
            try:
                worker.send(batch)
            except RuntimeError:  # its pipe is closed: the process is gone
                self._lost(worker, "the function's worker process died")

    def _pick(self, now: float) -> "_Worker | None":
        best = None
        for worker in self._workers:
            if not worker.alive:
                continue
            if not worker.inflight:
                return worker
            if len(worker.inflight) >= self.pipeline or now - worker.head_since > SLOW_SECONDS:
                continue
            if best is None or len(worker.inflight) < len(best.inflight):
                best = worker
        return best

    def _frame(self, worker: _Worker, run: _Run, now: float) -> bytes:
        """Hand `run` to `worker` (in flight from now on) and return its frame."""
        if run.budget:
            run.deadline = now + run.budget
            run.budget = 0.0
        if not worker.inflight:
            worker.head_since = now
        run.worker = worker
        worker.inflight.append(run)
        fresh = "1" if self.fresh else "0"
        text = f"{run.header}\0{run.deadline!r} {fresh}\0{run.request}"
        data = text.encode("utf-8", "surrogatepass")
        return _LENGTH.pack(len(data)) + data

    def _finish(self, run: _Run, outcome: Outcome) -> None:
        if not run.future.done():
            run.future.set_result(outcome)

    def _on_frame(self, worker: _Worker, text: str) -> None:
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
        elif kind == "P":
            if worker.inflight and self.publish is not None:
                channel, message = json.loads(text[1:])
                try:
                    self.publish(worker.inflight[0].site, channel, message)
                except Exception:
                    log.exception("publishing for %s failed", worker.inflight[0].site)
        elif kind == "D" and worker.inflight:
            self._quick_exits = 0
            self._finish(worker.inflight.popleft(), decode_outcome(text[1:]))
            if worker.inflight:
                worker.head_since = time.monotonic()

    def _watch(self) -> None:
        """The watchdog: answer every request past its deadline; kill a worker running
        one (the only sure way to stop it) and replace it."""
        self._watchdog = None
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.inflight and worker.inflight[0].deadline <= now:
                self._expire(worker.inflight[0])
            for run in worker.inflight:
                if run.deadline <= now:  # waiting in its pipe: the worker will skip it
                    self._finish(run, timed_out())
        if any(run.deadline <= now for run in self._queue):
            for run in self._queue:
                if run.deadline <= now:
                    self._finish(run, timed_out())
            self._queue = collections.deque(r for r in self._queue if not r.future.done())
        if self._queue or any(w.inflight for w in self._workers):
            self._start_watchdog()

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
        self._finish(run, timed_out())
        self._lost(worker, None)

    def _lost(self, worker: _Worker, crash: str | None) -> None:
        """The worker is gone: fail its running request (if `crash`), requeue the ones
        behind it that it never started, start a replacement."""
        worker.alive = False
        runs, worker.inflight = list(worker.inflight), collections.deque()
        if runs and crash is not None:
            self._finish(runs.pop(0), Outcome(error=FUNCTION_ERROR, message=crash))
        for run in reversed(runs):
            if not run.future.done():
                run.worker = None
                self._queue.appendleft(run)
        self._replace(worker)
        self._dispatch()
        if self._queue:
            self._start_watchdog()

    def _on_exit(self, worker: _Worker) -> None:
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

    def _replace(self, worker: _Worker) -> None:
        self._workers.discard(worker)
        if worker.transport is not None and worker not in self._retired:
            self._retired.add(worker)
            asyncio.get_running_loop().call_later(RETIRED_SECONDS, self._close_retired, worker)
        if not self._closed:
            self._spawn()

    def _close_retired(self, worker: _Worker) -> None:
        self._retired.discard(worker)
        worker.transport.close()

    def _spawn(self) -> None:
        self._starting += 1
        delay = min(5.0, 0.1 * 2**self._quick_exits) if self._quick_exits else 0.0
        task = asyncio.ensure_future(self._start_worker(delay))
        self._tasks.add(task)  # a reference, so the task is not collected while it runs
        task.add_done_callback(self._tasks.discard)

    async def _start_worker(self, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            if self._closed:
                return
            worker = _Worker(self)
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p
            )
            worker.transport, _ = await asyncio.get_running_loop().subprocess_exec(
                lambda: _Pipes(worker),
                sys.executable,
                "-m",
                "fazt.runtime.worker",
                self.db_path,
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
        runs = list(self._queue)
        for worker in list(self._workers):
            if worker.inflight:
                worker.kill()
                runs.extend(worker.inflight)
            else:
                worker.stop()
        self._workers.clear()
        for worker in self._unready:  # it exits once it has started and reads the end
            worker.stop()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        stopped = Overloaded("the runtime is shutting down")
        for run in runs:
            if not run.future.done():
                run.future.set_exception(stopped)
        self._queue.clear()
