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

from fazt.runtime.sandbox import FUNCTION_ERROR, FUNCTION_TIMEOUT, Outcome
from fazt.runtime.worker import decode_outcome

log = logging.getLogger("fazt.runtime")
_LENGTH = struct.Struct(">I")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding fazt/
QUICK_EXIT_SECONDS = 2.0  # a worker dying sooner than this after start slows respawns


class Overloaded(Exception):
    """Every worker is busy and the queue is full."""


def timed_out() -> Outcome:
    return Outcome(error=FUNCTION_TIMEOUT, message="the function timed out")


class _Run:
    __slots__ = ("future", "site", "timer")

    def __init__(self, future: asyncio.Future, site: str) -> None:
        self.future = future
        self.site = site
        self.timer: asyncio.TimerHandle | None = None


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
        self.current: _Run | None = None
        self.alive = True
        self.started = time.monotonic()

    def send(self, frame: bytes) -> None:
        self.transport.get_pipe_transport(0).write(_LENGTH.pack(len(frame)) + frame)

    def kill(self) -> None:
        self.alive = False
        with contextlib.suppress(ProcessLookupError, OSError):
            self.transport.kill()
        self.transport.close()

    def stop(self) -> None:
        """Close its stdin: the worker exits after the request it is running."""
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
    ) -> None:
        self.db_path = str(db_path)
        self.size = workers
        self.queue_size = queue_size
        self.fresh = fresh
        self.publish = publish  # (site, channel, message JSON)
        self._workers: set[_Worker] = set()
        self._idle: list[_Worker] = []
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._starting = 0
        self._tasks: set[asyncio.Future] = set()
        self._quick_exits = 0
        self._closed = False

    # -- requests -------------------------------------------------------------------------

    async def run(
        self,
        site: str,
        header: dict[str, Any],
        request_json: str,
        context_json: str,
        deadline: float,
    ) -> Outcome:
        """Run one request in a worker; `deadline` is time.monotonic() based."""
        if self._closed:
            raise Overloaded("the runtime is shutting down")
        if len(self._workers) + self._starting < self.size:
            for _ in range(self.size - len(self._workers) - self._starting):
                self._spawn()
        worker = self._idle.pop() if self._idle else None
        if worker is None:
            if len(self._waiters) >= self.queue_size:
                raise Overloaded("all JavaScript workers are busy")
            worker = await self._wait_for_worker(deadline)
            if worker is None:
                return timed_out()
        loop = asyncio.get_running_loop()
        run = _Run(loop.create_future(), site)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self._release(worker)
            return timed_out()
        header = {**header, "ms": int(remaining * 1000), "fresh": self.fresh}
        frame = "\0".join((json.dumps(header), request_json, context_json))
        worker.current = run
        run.timer = loop.call_later(remaining, self._expire, worker, run)
        worker.send(frame.encode("utf-8", "surrogatepass"))
        # Shielded: if the client goes away, the request still finishes (or is killed at
        # its deadline) before the worker takes another one.
        return await asyncio.shield(run.future)

    async def _wait_for_worker(self, deadline: float) -> "_Worker | None":
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return None
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _release(self, worker: _Worker) -> None:
        """The worker is free: give it to the oldest waiting request, or keep it idle."""
        if not worker.alive:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    def _finish(self, worker: _Worker, outcome: Outcome) -> None:
        run, worker.current = worker.current, None
        if run is None:
            return
        if run.timer is not None:
            run.timer.cancel()
        if not run.future.done():
            run.future.set_result(outcome)

    def _on_frame(self, worker: _Worker, text: str) -> None:
        kind = text[:1]
        if kind == "P":
            run = worker.current
            if run is not None and self.publish is not None:
                channel, message = json.loads(text[1:])
                try:
                    self.publish(run.site, channel, message)
                except Exception:
                    log.exception("publishing for %s failed", run.site)
        elif kind == "D":
            self._quick_exits = 0
            self._finish(worker, decode_outcome(text[1:]))
            self._release(worker)

    def _expire(self, worker: _Worker, run: _Run) -> None:
        if worker.current is not run:
            return
        worker.kill()
        self._finish(worker, timed_out())
        self._replace(worker)

    def _on_exit(self, worker: _Worker) -> None:
        was_alive, worker.alive = worker.alive, False
        if worker.current is not None:
            crashed = Outcome(error=FUNCTION_ERROR, message="the function's worker process died")
            self._finish(worker, crashed)
        if was_alive:  # not killed or stopped by us
            log.warning("a JavaScript worker process exited unexpectedly")
            if time.monotonic() - worker.started < QUICK_EXIT_SECONDS:
                self._quick_exits += 1
            self._replace(worker)

    # -- processes ------------------------------------------------------------------------

    def _replace(self, worker: _Worker) -> None:
        self._workers.discard(worker)
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)
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
        self._starting -= 1
        if self._closed:
            worker.stop()
            return
        if worker.alive:
            self._workers.add(worker)
            self._release(worker)

    async def aclose(self, wait: float = 5.0) -> None:
        """close(), then wait (up to `wait` seconds) for the processes to end."""
        workers = list(self._workers)
        self.close()
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
        for worker in list(self._workers):
            if worker.current is None:
                worker.stop()
            else:
                worker.kill()
        self._workers.clear()
        self._idle.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
