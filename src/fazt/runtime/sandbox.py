"""Running a request's JavaScript in a QuickJS context, inside a JS worker process.

A context (a QuickJS runtime) belongs to one deployment of one app (never shared between
apps) and serves its requests one after the other, each in a fresh scope (see
prelude.py). A context is discarded after an out-of-memory or a stack overflow, when its
global object cannot be reset, and after MAX_REQUESTS_PER_CONTEXT requests. With
`fresh=True` (setting runtime_fresh_contexts=1) every request gets a brand-new context
instead: measured in docs/benchmarks.md.

There is no time limit inside: the worker process is killed by the server at the
deadline (worker.py, executor.py). Storage and the other host calls are synchronous
Python calls on this process's own SQLite connection.
"""

import base64
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import quickjs

from fazt.runtime import private_files
from fazt.runtime.limits import MiB
from fazt.runtime.outcome import FUNCTION_ERROR, FUNCTION_MEMORY, FUNCTION_TIMEOUT, Outcome
from fazt.runtime.prelude import LEGACY_ENTRY, LEGACY_PRELUDE, PRELUDE
from fazt.storage.bindings import StorageError

log = logging.getLogger("fazt.runtime")

MAX_REQUESTS_PER_CONTEXT = 5000
PRELUDE_LINES = PRELUDE.count("\n") + 2  # app sources get line numbers after these
MAX_RANDOM_BYTES = 65536
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
# fazt.storage.user.*: the same methods on the signed-in visitor's rows ("user_kv_set"...)
USER_PREFIX = "user_"
USER_STORAGE_METHODS = frozenset(USER_PREFIX + m for m in STORAGE_METHODS)
AUTH_REQUIRED = "AUTH_REQUIRED: fazt.storage.user needs a signed-in visitor (sign in first)"


@dataclass(slots=True)
class Job:
    """One request for a JS worker (what crosses the pipe, see worker.py)."""

    app: str
    key: tuple  # contexts are reused only for the same key: (deployment id, memory, stack)
    # "api/main.js" (a global script), a file route such as "api/hello.js", or "main.js"
    # (a root main.js: v0.9's legacy runtime)
    entry: str
    request_json: str
    context_json: str
    memory_mb: int
    stack_bytes: int
    deadline: float  # time.monotonic() in the worker
    sources: dict[str, str] | None = None  # None: the worker loads the deployment's
    user: str | None = None  # the signed-in visitor's id (fazt.storage.user), or None


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, StorageError):
        return str(exc)
    if isinstance(exc, TypeError):
        return f"bad arguments: {exc}"
    return "internal storage error"


class AuthRequired(StorageError):
    """fazt.storage.user called with nobody signed in."""


def _storage_call(storage: Any, method: str, args: tuple) -> Any:
    """One fazt.storage call on an AppStorage or UserStorage (bindings.py)."""
    if method == "s3_put":
        path, kind, data, mime = args
        if kind == "text":  # UTF-8 bytes without a base64 round trip in the worker
            return storage.s3_put_text(path, data, mime)
        return storage.s3_put(path, data, mime)
    if method == "kv_set":  # the prelude passes JSON.stringify(value)
        return storage.kv_set(*args, stringified=True)
    return getattr(storage, method)(*args)


class Host:
    """What JS may ask of Python during one request: storage, publish, fetch, randomness,
    stdlib."""

    def __init__(
        self,
        publish: Callable[[str | None, str], None] | None = None,
        stdlib: Callable[[str], str | None] | None = None,
    ) -> None:
        # The current request's services (worker.py RequestServices): `storage`,
        # `user_storage` (fazt.storage.user: None when no visitor is signed in), `net`
        # (fazt.net) and `private` (its deployment's private/ files); None between requests.
        self.services: Any = None
        self.publish = publish
        self.stdlib = stdlib

    def call(self, method: str, *args: Any) -> str:
        try:
            value = self._dispatch(method, args)
        except AuthRequired as exc:  # the prelude throws it as a 401 for the handler
            return "A" + str(exc)
        except Exception as exc:
            if not isinstance(exc, StorageError | TypeError | ValueError):
                log.exception("host call %s failed", method)
            return "E" + _error_text(exc)
        if value is None:
            return "N"
        if isinstance(value, str):
            return "S" + value
        return "V" + json.dumps(value)

    def _dispatch(self, method: str, args: tuple) -> Any:
        services = self.services
        if method in USER_STORAGE_METHODS:
            if services is None:
                raise StorageError("fazt.storage is not available here")
            if services.user_storage is None:
                raise AuthRequired(AUTH_REQUIRED)
            return _storage_call(services.user_storage, method[len(USER_PREFIX) :], args)
        if method in STORAGE_METHODS:
            if services is None:
                raise StorageError("fazt.storage is not available here")
            return _storage_call(services.storage, method, args)
        if method in private_files.METHODS:
            if services is None:
                raise StorageError("fazt.private is not available here")
            return services.private.call(method, args)
        if method == "rt_publish":
            if self.publish is None:
                raise StorageError("fazt.realtime is not available here")
            channel, message = args
            if not isinstance(channel, str):  # None is socket.broadcast's (below)
                raise StorageError("realtime.publish requires a channel")
            self.publish(channel, message)
            return None
        if method == "rt_broadcast":  # v0.9's socket.broadcast: the text as is, no channel
            if self.publish is None:
                raise StorageError("socket.broadcast is not available here")
            (message,) = args
            if not isinstance(message, str):
                raise StorageError("socket.broadcast requires a message")
            self.publish(None, message)
            return None
        if method == "net_fetch":
            if services is None:
                raise StorageError("fazt.net is not available here")
            return services.net.fetch(*args)
        if method == "random":
            (n,) = args
            if not isinstance(n, int) or not 0 <= n <= MAX_RANDOM_BYTES:
                raise StorageError("bad random byte count")
            return base64.b64encode(os.urandom(n)).decode()
        if method == "stdlib":
            (name,) = args
            source = self.stdlib(name) if self.stdlib else None
            if source is None:
                raise StorageError(f"the stdlib module '{name}' is not installed")
            return source
        raise StorageError(f"unknown host call {method}")


def blank_context(host: Host, stack_bytes: int) -> quickjs.Context:
    """A context with the prelude evaluated and no app's code or sources yet: what every
    deployment's context (without a root main.js) starts as. Evaluating the prelude is
    most of a cold start (its lockdown walks every built-in), so a JS worker builds one
    ahead, while idle (worker.py)."""
    ctx = quickjs.Context()
    ctx.set_max_stack_size(stack_bytes)
    ctx.add_callable("__fazt_host", host.call)
    ctx.eval(PRELUDE)
    return ctx


class Prepared:
    """A context with the prelude evaluated and one deployment's sources loaded.

    `blank` is a context from blank_context() that nothing else has used (it becomes this
    deployment's, never another's), for sources without a root main.js (whose context
    needs the legacy prelude first); without one the prelude is evaluated here."""

    def __init__(
        self, job: Job, sources: dict[str, str], host: Host, blank: quickjs.Context | None = None
    ) -> None:
        self.host = host
        if blank is not None:
            ctx = blank
            ctx.set_max_stack_size(job.stack_bytes)
        else:
            ctx = quickjs.Context()
            ctx.set_max_stack_size(job.stack_bytes)
            ctx.add_callable("__fazt_host", host.call)
            if LEGACY_ENTRY in sources:  # v0.9's globals for a root main.js (prelude.py)
                ctx.eval(LEGACY_PRELUDE)
            ctx.eval(PRELUDE)
        ctx.get("__fazt_init")(json.dumps(sources), PRELUDE_LINES)
        ctx.set_memory_limit(job.memory_mb * MiB)
        self.ctx = ctx
        self.key = job.key
        self.uses = 0
        self.usable = True
        self.reset_done = False
        self._handle = ctx.get("__fazt_handle")
        self._reset = ctx.get("__fazt_reset")

    def run(self, job: Job) -> Outcome:
        """Run one job; afterwards `usable` says whether the context may serve another."""
        self.uses += 1
        self.reset_done = False
        outcome = self._run(job)
        broken = outcome.error in (FUNCTION_TIMEOUT, FUNCTION_MEMORY) or outcome.discard
        if broken or self._left_jobs(job):
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
        if time.monotonic() >= job.deadline:
            return Outcome(error=FUNCTION_TIMEOUT, message="the function timed out")
        try:
            out = self._handle(job.request_json, job.context_json, job.entry)
            if out is not None:
                self.reset_done = True
                if out[0] != "D":  # "d": the context's reset failed
                    self.usable = False
                    out = "D" + out[1:]
            else:  # a Promise: run its jobs until it settles
                out = self._settle(job)
                if out is None:
                    if time.monotonic() >= job.deadline:
                        return Outcome(error=FUNCTION_TIMEOUT, message="the function timed out")
                    return self._failed(
                        FUNCTION_ERROR,
                        "the handler's Promise never settled (there are no timers)",
                    )
        except quickjs.StackOverflow:
            outcome = self._failed(FUNCTION_ERROR, "RangeError: Maximum call stack size exceeded")
            outcome.discard = True
            return outcome
        except quickjs.JSException as exc:
            return self._error(str(exc))
        except MemoryError:
            return self._failed(FUNCTION_MEMORY, "the function ran out of memory")
        return Outcome(raw=out)

    def _left_jobs(self, job: Job) -> bool:
        """Run now, as this request, the jobs it left pending (a Promise nobody awaited):
        left for later, they would run inside the next request, with its visitor's
        fazt.storage.user. True if there were any: they ran after the context's reset,
        so it is not reused."""
        ran = False
        try:
            while self.ctx.execute_pending_job():
                ran = True
                if time.monotonic() >= job.deadline:
                    break
        except Exception:  # a job that throws: nobody is left to see it
            ran = True
        return ran

    def _settle(self, job: Job) -> str | None:
        ctx = self.ctx
        while ctx.execute_pending_job():
            if time.monotonic() >= job.deadline:
                return None
        return ctx.get("__fazt_collect")()

    def _error(self, text: str) -> Outcome:
        first = text.split("\n", 1)[0].strip() or "Error"
        if "out of memory" in first:
            return self._failed(FUNCTION_MEMORY, "the function ran out of memory")
        where = None
        try:
            where = json.loads(self.ctx.get("__fazt_locate")(text))
        except Exception:
            where = None
        if where:
            return self._failed(FUNCTION_ERROR, first, where[1], where[0])
        return self._failed(FUNCTION_ERROR, first)

    def _failed(
        self, code: str, message: str, line: int | None = None, file: str | None = None
    ) -> Outcome:
        logs: list = []
        if code != FUNCTION_MEMORY:  # after an out-of-memory, calling JS again may fail too
            try:
                logs = json.loads(self.ctx.get("__fazt_logs")())
            except Exception:
                logs = []
        return Outcome(error=code, message=message, line=line, file=file, logs=logs)
