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
# Requests sent to one worker at a time. 2 (one running, one waiting in its pipe) measured
# no faster than 1 under wrk -c64 on 2 cores, and can hold a request behind a slow one.
PIPELINE_DEPTH = 1


class Overloaded(Exception):
    """Every worker is busy and the queue is full."""


class _Run:
    """One request on its way through the pool."""

    __slots__ = ("budget", "deadline", "future", "header", "request", "site", "timer", "worker")

    def __init__(self, future: asyncio.Future, site: str, header: str, request: str) -> None:
        self.future = future
        self.site = site
        self.header = header  # the header's JSON text without its closing brace
        self.request = request  # REQUEST_JSON \0 CONTEXT_JSON
        self.deadline = 0.0
        self.budget = 0.0  # > 0: its budget starts when the first worker is up
        self.timer: asyncio.TimerHandle | None = None
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
        while len(buffer) >= 4:
            size = _LENGTH.unpack_from(buffer)[0]
            if len(buffer) < 4 + size:
                break
            frame = bytes(buffer[4 : 4 + size])
            del buffer[: 4 + size]
            self.worker.pool._on_frame(self.worker, frame.decode("utf-8", "surrogatepass"))

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

    def send(self, frame: bytes) -> None:
        self.transport.get_pipe_transport(0).write(_LENGTH.pack(len(frame)) + frame)

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
        self._closed = False

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
        a dict or, precomputed by the caller, its JSON text without the closing brace."""
        if self._closed:
            raise Overloaded("the runtime is shutting down")
        if len(self._workers) + self._starting < self.size:
            for _ in range(self.size - len(self._workers) - self._starting):
                self._spawn()
        if len(self._queue) >= self.queue_size:
            raise Overloaded("all JavaScript workers are busy")
        loop = asyncio.get_running_loop()
        if isinstance(header, dict):
            header = json.dumps(header)[:-1]
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
        run.timer = loop.call_later(run.deadline - time.monotonic(), self._expire, run)
        self._queue.append(run)
        self._dispatch()
        # If the caller is cancelled (the client went away), the request still runs to
        # its end (or is killed at its deadline); only its answer is dropped.
        return await run.future

    def _dispatch(self) -> None:
        """Send queued requests to workers: an idle one first; when none is idle and
        `pipeline` > 1, behind the running request of the least busy one."""
        queue = self._queue
        while queue:
            worker = None
            for candidate in self._workers:
                if candidate.alive and (
                    worker is None or len(candidate.inflight) < len(worker.inflight)
                ):
                    worker = candidate
                    if not candidate.inflight:
                        break
            if worker is None or len(worker.inflight) >= self.pipeline:
                return
            run = queue.popleft()
            if run.future.done():  # timed out or gone while queued
                continue
            self._send(worker, run)

    def _send(self, worker: _Worker, run: _Run) -> None:
        if run.budget:
            run.deadline = time.monotonic() + run.budget
            if run.timer is not None:
                run.timer.cancel()
            loop = asyncio.get_running_loop()
            run.timer = loop.call_later(run.budget, self._expire, run)
            run.budget = 0.0
        fresh = "true" if self.fresh else "false"
        frame = f'{run.header},"dl":{run.deadline!r},"fresh":{fresh}}}\0{run.request}'
        run.worker = worker
        worker.inflight.append(run)
        try:
            worker.send(frame.encode("utf-8", "surrogatepass"))
        except RuntimeError:  # its pipe is closed: the process is gone
            self._lost(worker, "the function's worker process died")

    def _finish(self, run: _Run, outcome: Outcome) -> None:
        if run.timer is not None:
            run.timer.cancel()
        if not run.future.done():
            run.future.set_result(outcome)

    def _on_frame(self, worker: _Worker, text: str) -> None:
        kind = text[:1]
        if kind == "R":
            if worker.ready:
                return
            worker.ready = True
            self._starting -= 1
            if self._closed:
                worker.stop()
                return
            self._workers.add(worker)
            self._dispatch()
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
            self._dispatch()

    def _expire(self, run: _Run) -> None:
        worker = run.worker
        if worker is not None and worker.inflight and worker.inflight[0] is run:
            # It is running: stop it the only sure way, and replace the worker.
            worker.kill()
            self._finish(run, timed_out())
            self._lost(worker, None)
        else:
            # Still waiting (in the pool's queue or in a worker's pipe, where the worker
            # will skip it: the deadline travels with it).
            self._finish(run, timed_out())

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

    def _on_exit(self, worker: _Worker) -> None:
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
        if not self._closed:
            self._spawn()

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
        # else: it counts as starting until its "R" frame (imports done, ready to serve)

    async def aclose(self, wait: float = 5.0) -> None:
        """close(), then wait (up to `wait` seconds) for the processes to end."""
        workers = list(self._workers)
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
        for w in workers:
            w.transport.close()

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
        stopped = Overloaded("the runtime is shutting down")
        for run in runs:
            if run.timer is not None:
                run.timer.cancel()
            if not run.future.done():
                run.future.set_exception(stopped)
        self._queue.clear()
