"""The JS worker pool replaces each dead worker once: after all of its workers died
together, it runs its configured number again, not more (once, a fourth appeared)."""

import asyncio
import os
import time

import uvloop

from fazt.runtime import executor
from tests.unit.runtime.test_fair_pool import Pool, db_path  # noqa: F401  (a fixture)

WORKERS = 3


class UvPool(Pool):
    """The test pool on uvloop, the server's event loop."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.loop.close()
        self.loop = uvloop.new_event_loop()


def _children() -> set[str]:
    me = os.getpid()
    with open(f"/proc/{me}/task/{me}/children") as f:
        return set(f.read().split())


def _live_children(before: frozenset[str] = frozenset()) -> int:
    """Live children of this process not in `before` (a session-scoped fixture of another
    test module, such as a SeaweedFS server, may share this pytest process)."""
    alive = 0
    for pid in _children() - before:
        try:
            with open(f"/proc/{pid}/stat") as f:
                alive += f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            pass
    return alive


def test_workers_dying_together_are_each_replaced_once(db_path, monkeypatch):  # noqa: F811
    others = frozenset(_children())
    pool = UvPool(db_path, WORKERS, 50)
    try:
        pool.warm("a", WORKERS)
        spawned = []
        spawn = executor.WorkerPool._spawn
        monkeypatch.setattr(
            executor.WorkerPool, "_spawn", lambda self: (spawned.append(1), spawn(self))
        )
        answers = pool.run(_all_die_then_one_dispatch(pool.pool, pool))
        assert {a.body or a.message for a in answers} <= {"x", "the function's worker process died"}
        assert len(spawned) == WORKERS, f"{len(spawned)} replacements for {WORKERS} dead workers"
        deadline = time.monotonic() + 60  # three JS workers starting on a busy 2-core CI machine
        while (
            len(pool.pool._workers) < WORKERS
            or pool.pool._starting
            or _live_children(others) > WORKERS
        ):
            assert time.monotonic() < deadline, "the replacements did not start"
            pool.run(asyncio.sleep(0.02))
        assert len(pool.pool._workers) == WORKERS
        assert _live_children(others) == WORKERS
    finally:
        pool.close()


async def _all_die_then_one_dispatch(pool: executor.WorkerPool, helper: Pool) -> list:
    """Every worker's pipe is broken before the loop sees any of them exit (as a failed
    write closes it), then one dispatch hands requests to all of them, two each: the
    requests requeued from the first dead worker go to the next ones."""
    workers = list(pool._workers)
    for w in workers:
        w.transport.get_pipe_transport(0).close()  # the worker exits: end of its input
    await asyncio.sleep(0)  # (the transports finish closing)
    dispatch = pool._dispatch
    pool._dispatch = lambda: None  # queue the requests, then one dispatch for all
    runs = [asyncio.ensure_future(helper.submit("a", "'x'")) for _ in range(2 * WORKERS)]
    await asyncio.sleep(0)
    pool._dispatch = dispatch
    pool._dispatch()
    return await asyncio.gather(*runs)
