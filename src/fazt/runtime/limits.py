"""Serverless limits: server-wide defaults and maxima, per-app overrides from manifest.json.

Server-wide values come from rows of the `settings` table (all optional):
runtime_timeout_ms, runtime_max_timeout_ms, runtime_memory_mb, runtime_max_memory_mb,
runtime_max_body_bytes, runtime_max_response_bytes, runtime_workers, runtime_queue,
runtime_queue_total, runtime_app_workers, runtime_log_retention, runtime_fresh_contexts.
"""

import os
from dataclasses import dataclass, replace

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one request of one app may use."""

    timeout_ms: int = 5000
    memory_mb: int = 64
    max_body_bytes: int = 1 * MiB
    max_response_bytes: int = 8 * MiB
    # JS stack; the JS runs on a worker process's main thread, with 8 MB of C stack
    stack_bytes: int = 1 * MiB


@dataclass(frozen=True)
class RuntimeConfig:
    defaults: Limits = Limits()
    max_timeout_ms: int = 30_000
    max_memory_mb: int = 256
    max_body_bytes: int = 10 * MiB
    # One more than the cores (a worker waiting for SQLite's write turn leaves its core
    # to another), at least 2 and at most 4: on 2 cores, 3 measured +4-6% (trivial) and
    # +1-5% (kv) over 2 in alternating A/B runs (docs/benchmarks.md).
    workers: int = min(4, max(2, (os.cpu_count() or 1) + 1))
    queue: int = 64  # requests of one app waiting for a worker (more: 503)
    queue_total: int = 4 * 64  # of all apps together (a backstop)
    # The most workers one app with slow requests may hold while other apps are about:
    # the one left over is what keeps their answers quick (executor.py).
    app_workers: int = max(1, workers - 1)
    log_retention: int = 1000
    fresh_contexts: bool = False  # a new context per request (slow; for measurements)

    @classmethod
    def from_settings(cls, values: dict[str, str]) -> "RuntimeConfig":
        def num(key: str, default: int) -> int:
            try:
                return max(1, int(values.get(key, default)))
            except (TypeError, ValueError):
                return default

        base = cls()
        workers = num("runtime_workers", base.workers)
        queue = num("runtime_queue", base.queue)
        defaults = Limits(
            timeout_ms=num("runtime_timeout_ms", base.defaults.timeout_ms),
            memory_mb=num("runtime_memory_mb", base.defaults.memory_mb),
            max_body_bytes=num("runtime_max_body_bytes", base.defaults.max_body_bytes),
            max_response_bytes=num("runtime_max_response_bytes", base.defaults.max_response_bytes),
        )
        return cls(
            defaults=defaults,
            max_timeout_ms=max(defaults.timeout_ms, num("runtime_max_timeout_ms", 30_000)),
            max_memory_mb=max(defaults.memory_mb, num("runtime_max_memory_mb", 256)),
            max_body_bytes=max(defaults.max_body_bytes, 10 * MiB),
            workers=workers,
            queue=queue,
            queue_total=max(queue, num("runtime_queue_total", 4 * queue)),
            app_workers=min(workers, num("runtime_app_workers", max(1, workers - 1))),
            log_retention=num("runtime_log_retention", base.log_retention),
            fresh_contexts=values.get("runtime_fresh_contexts", "0") == "1",
        )

    def for_app(self, overrides: dict[str, int]) -> Limits:
        """The defaults with the app's manifest overrides, clamped to the server maxima."""
        limits = self.defaults
        if "timeout_ms" in overrides:
            limits = replace(limits, timeout_ms=min(overrides["timeout_ms"], self.max_timeout_ms))
        if "memory_mb" in overrides:
            limits = replace(limits, memory_mb=min(overrides["memory_mb"], self.max_memory_mb))
        if "max_body_bytes" in overrides:
            limits = replace(
                limits, max_body_bytes=min(overrides["max_body_bytes"], self.max_body_bytes)
            )
        return limits
