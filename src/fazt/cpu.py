"""A small thread pool for CPU and file work: hashing, compression, zip and multipart
parsing, backup files. It keeps that work off the event loop and off the database's
reader threads, so a big zip deploy cannot make static cache misses wait for a reader.

Two threads: fazt runs on one or two cores, and more threads would only queue for them
(hashlib and zlib release the GIL on big buffers, so two do overlap). The pool is created
on first use and shut down by `shutdown()` (running jobs finish, queued ones are
cancelled), which also runs at interpreter exit.
"""

import asyncio
import atexit
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
THREADS = 2

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="fazt-cpu")
        return _pool


async def run_cpu(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) on the CPU pool; the caller awaits it without blocking the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), fn, *args)


def shutdown() -> None:
    """Stop the pool (a later run_cpu starts a new one)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)
