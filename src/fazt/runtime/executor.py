"""JS worker threads: JavaScript never runs on the event loop thread.

Each worker owns its QuickJS contexts for their whole life (a context must stay on the
thread that created it) and keeps a few of them, one per recently served deployment.
Jobs wait in a bounded queue; when it is full the caller gets
`Overloaded` at once (503 with Retry-After) instead of an ever-growing backlog.
"""

import logging
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future

from fazt.runtime.sandbox import FUNCTION_ERROR, FUNCTION_TIMEOUT, Job, Outcome, Prepared

log = logging.getLogger("fazt.runtime")
THREAD_STACK_BYTES = 8 * 1024 * 1024
_STOP = object()


class Overloaded(Exception):
    """Every worker is busy and the queue is full."""


class Executor:
    def __init__(
        self, workers: int, queue_size: int, *, fresh: bool = False, contexts_per_worker: int = 16
    ) -> None:
        self.workers = workers
        self.fresh = fresh
        self.contexts_per_worker = contexts_per_worker
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def _start(self) -> None:
        with self._lock:
            if self._threads:
                return
            old = threading.stack_size()
            try:
                threading.stack_size(THREAD_STACK_BYTES)
                for i in range(self.workers):
                    thread = threading.Thread(target=self._loop, name=f"fazt-js-{i}", daemon=True)
                    thread.start()
                    self._threads.append(thread)
            finally:
                threading.stack_size(old)

    def submit(self, job: Job) -> "Future[Outcome]":
        if self._closed:
            raise Overloaded("the runtime is shutting down")
        if not self._threads:
            self._start()
        future: Future = Future()
        try:
            self._queue.put_nowait((job, future))
        except queue.Full:
            raise Overloaded("all JavaScript workers are busy") from None
        return future

    def _loop(self) -> None:
        # This thread's contexts, by (deployment, limits): most recently used last.
        contexts: OrderedDict[tuple, Prepared] = OrderedDict()
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue  # the caller gave up while it was queued
            context = None
            try:
                if job.cancelled or time.monotonic() >= job.deadline:
                    outcome = Outcome(error=FUNCTION_TIMEOUT, message="the function timed out")
                else:
                    context = None if self.fresh else contexts.pop(job.key, None)
                    if context is None:
                        context = Prepared(job)
                    outcome = context.run(job)
            except Exception:
                log.exception("the JavaScript runtime failed on %s", job.entry)
                if context is not None:
                    context.usable = False
                future.set_result(
                    Outcome(error=FUNCTION_ERROR, message="internal error in the runtime")
                )
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(outcome)
            if context is not None and context.usable and not self.fresh:
                contexts[job.key] = context
                while len(contexts) > self.contexts_per_worker:
                    contexts.popitem(last=False)
            del context

    def close(self) -> None:
        self._closed = True
        for _ in self._threads:
            try:
                self._queue.put_nowait(_STOP)
            except queue.Full:
                break  # daemon threads: they end with the process
