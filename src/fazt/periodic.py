"""Background tasks: one helper for every job a server repeats, one way to stop a task."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("fazt")


async def periodic(
    seconds: float, job: Callable[[], Awaitable[float | None]], what: str, *, now: bool = False
) -> None:
    """Run `job` every `seconds` (after a first wait, or at once with `now`), forever.

    A job may return the seconds until its next run, to follow a setting. An exception is
    logged and the loop goes on: a busy database or a failed backup must not end it.
    """
    delay = 0.0 if now else seconds
    while True:
        await asyncio.sleep(delay)
        delay = seconds
        try:
            wanted = await job()
        except Exception:
            log.exception("%s failed", what)
            continue
        if wanted is not None:
            delay = wanted


async def cancel_and_wait(task: asyncio.Task) -> None:
    """Cancel `task` and wait until it has ended, whatever it raised."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
