"""Running a request's JavaScript in a QuickJS context, on a JS worker thread.

A context (a QuickJS runtime) is created, used and freed on one thread. It belongs to
one deployment of one app (never shared between apps) and serves its requests one after
the other, each in a fresh scope (see prelude.py). A context is discarded after a
timeout, an out-of-memory or a stack overflow, when its global object cannot be reset,
and after MAX_REQUESTS_PER_CONTEXT requests. With `fresh=True` (setting
runtime_fresh_contexts=1) every request gets a brand-new context instead: measured in
docs/benchmarks.md.
"""

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import quickjs

from fazt.runtime.limits import Limits, MiB
from fazt.runtime.prelude import PRELUDE
from fazt.storage.bindings import StorageError

log = logging.getLogger("fazt.runtime")

FUNCTION_ERROR = "FUNCTION_ERROR"
FUNCTION_TIMEOUT = "FUNCTION_TIMEOUT"
FUNCTION_MEMORY = "FUNCTION_MEMORY"
MAX_REQUESTS_PER_CONTEXT = 5000
CPU_GRACE_SECONDS = 0.25  # the CPU-time backstop fires this long after the wall deadline
STORAGE_METHODS = frozenset(
    {
        "kv_set",
        "kv_get",
        "kv_delete",
        "kv_list",
        "ds_insert",
        "ds_find",
        "ds_find_one",
        "ds_update",
        "ds_delete",
        "ds_count",
        "s3_put",
        "s3_get",
        "s3_delete",
        "s3_list",
    }
)
_LOCATION = re.compile(r"<input>:(\d+)(?::\d+)?")


@dataclass
class Job:
    """One request for the JS worker."""

    app: str
    key: tuple  # contexts are reused only for the same key: (deployment id, memory limit)
    entry: str  # "api/main.js" (a global script) or a file route such as "api/hello.js"
    main: bool
    request_json: str
    context_json: str
    limits: Limits
    deadline: float  # time.monotonic()
    sources_json: str  # {"api/x.js": source, ...}: what require() and file routes read
    main_source: str | None = None
    make_storage: Callable[[], Any] | None = None
    cancelled: bool = False


@dataclass
class Outcome:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    logs: list = field(default_factory=list)  # [level, message, epoch_ms]
    error: str | None = None  # FUNCTION_ERROR / FUNCTION_TIMEOUT / FUNCTION_MEMORY
    message: str = ""
    line: int | None = None
    discard: bool = False  # the context must not serve another request


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, StorageError):
        return str(exc)
    if isinstance(exc, NotImplementedError):
        return "fazt.storage is not available on this server yet"
    if isinstance(exc, TypeError):
        return f"bad arguments: {exc}"
    return "internal storage error"


class Prepared:
    """A context with the prelude evaluated and one deployment's sources loaded."""

    def __init__(self, job: Job) -> None:
        ctx = quickjs.Context()
        ctx.set_max_stack_size(job.limits.stack_bytes)
        ctx.eval(PRELUDE)
        ctx.get("__fazt_init")(job.sources_json)
        ctx.set_memory_limit(job.limits.memory_mb * MiB)
        self.ctx = ctx
        self.key = job.key
        self.uses = 0
        self.usable = True
        self._storage: Any = None
        self._handle = ctx.get("__fazt_handle")
        self._reset = ctx.get("__fazt_reset")
        self.reset_done = False

    def run(self, job: Job) -> Outcome:
        """Run one job; afterwards `usable` says whether the context may serve another."""
        self.uses += 1
        self._storage = None
        self.reset_done = False
        outcome = self._run(job)
        if outcome.error in (FUNCTION_TIMEOUT, FUNCTION_MEMORY) or outcome.discard:
            self.usable = False
        elif self.reset_done:
            self.usable = self.usable and self.uses < MAX_REQUESTS_PER_CONTEXT
        elif self.usable:
            try:
                self.usable = bool(self._reset()) and self.uses < MAX_REQUESTS_PER_CONTEXT
            except Exception:
                self.usable = False
        return outcome

    def _run(self, job: Job) -> Outcome:
        ctx = self.ctx
        remaining = job.deadline - time.monotonic()
        if remaining <= 0 or job.cancelled:
            return Outcome(error=FUNCTION_TIMEOUT, message="the function timed out")
        # Counts CPU time, not wall time: the backstop that interrupts a runaway loop. The
        # wall-clock deadline itself is enforced by the caller (and between Promise jobs).
        ctx.set_time_limit(remaining + CPU_GRACE_SECONDS)
        try:
            source = (job.main_source or "") if job.main else None
            out = self._handle(job.request_json, job.context_json, job.entry, source)
            if out is not None:
                self.reset_done = True
                if out[0] != "1":
                    self.usable = False
                out = out[1:]
            else:  # a Promise: run its jobs and storage calls until it settles
                out = self._settle(job)
                if out is None:
                    if job.cancelled or time.monotonic() >= job.deadline:
                        return Outcome(error=FUNCTION_TIMEOUT, message="the function timed out")
                    return self._failed(
                        FUNCTION_ERROR,
                        "the handler's Promise never settled (there are no timers)",
                        None,
                    )
        except quickjs.StackOverflow:
            outcome = self._failed(FUNCTION_ERROR, "RangeError: Maximum call stack size exceeded")
            outcome.discard = True
            return outcome
        except quickjs.JSException as exc:
            return self._error(job, str(exc))
        except MemoryError:
            return self._failed(FUNCTION_MEMORY, "the function ran out of memory")
        head, _, body = out.partition("\n")
        meta = json.loads(head)
        return Outcome(
            status=meta["s"], headers=[tuple(h) for h in meta["h"]], body=body, logs=meta["l"]
        )

    def _settle(self, job: Job) -> str | None:
        ctx = self.ctx
        take, deliver = ctx.get("__fazt_take_calls"), ctx.get("__fazt_deliver")
        while not job.cancelled and time.monotonic() < job.deadline:
            while ctx.execute_pending_job():
                if job.cancelled or time.monotonic() >= job.deadline:
                    return None
            calls = take()
            if calls is None:
                break
            deliver(json.dumps(self._host_calls(job, json.loads(calls))))
        return ctx.get("__fazt_collect")()

    def _host_calls(self, job: Job, calls: list) -> list:
        results = []
        for call_id, method, args in calls:
            if job.make_storage is None or method not in STORAGE_METHODS:
                results.append([call_id, "fazt.storage is not available", None])
                continue
            if time.monotonic() >= job.deadline or job.cancelled:
                results.append([call_id, "the request deadline has passed", None])
                continue
            try:
                if self._storage is None:
                    self._storage = job.make_storage()
                results.append([call_id, None, getattr(self._storage, method)(*args)])
            except Exception as exc:
                if not isinstance(exc, StorageError | NotImplementedError | TypeError):
                    log.exception("storage %s failed for %s", method, job.app)
                results.append([call_id, _error_text(exc), None])
        return results

    def _error(self, job: Job, text: str) -> Outcome:
        first = text.split("\n", 1)[0].strip() or "Error"
        match = _LOCATION.search(text)
        line = int(match.group(1)) if match else None
        if first.startswith("InternalError: interrupted") or (
            time.monotonic() >= job.deadline and "interrupted" in first
        ):
            return self._failed(FUNCTION_TIMEOUT, "the function timed out", line)
        if "out of memory" in first:
            return self._failed(FUNCTION_MEMORY, "the function ran out of memory", line)
        return self._failed(FUNCTION_ERROR, first, line)

    def _failed(self, code: str, message: str, line: int | None = None) -> Outcome:
        logs: list = []
        if code != FUNCTION_MEMORY:  # after an out-of-memory, calling JS again may fail too
            try:
                logs = json.loads(self.ctx.get("__fazt_logs")())
            except Exception:
                logs = []
        return Outcome(error=code, message=message, line=line, logs=logs)
