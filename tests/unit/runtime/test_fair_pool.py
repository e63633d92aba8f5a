"""Fair scheduling between apps in the JS worker pool, with real worker processes: the
order apps are served in, the worker left for other apps, the queue bounds per app."""

import asyncio
import json
import time
from pathlib import Path

import pytest

from fazt.db import Database
from fazt.runtime.executor import Overloaded, WorkerPool
from fazt.runtime.limits import RuntimeConfig

MAIN = "api/main.js"


def busy(ms: int, label: str) -> str:
    return f"const end = Date.now() + {ms}; while (Date.now() < end) {{}}; {label!r}"


@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fair") / "t.db"
    Database.open(path).close()
    return path


class Pool:
    """A WorkerPool on its own event loop; `submit(app, src)` is one request of `app`."""

    def __init__(self, db_path: Path, workers: int, queue: int, **kw) -> None:
        self.loop = asyncio.new_event_loop()
        self.pool = WorkerPool(db_path, workers, queue, **kw)

    def submit(self, app: str, src: str, timeout_ms: int = 3000):
        req = {"id": "r", "method": "GET", "path": "/api", "query": {}, "headers": {}}
        ctx = {"app": app, "env": {}, "version": "t", "storage": False}
        header = {"app": app, "dep": abs(hash(src)) % 10**9, "entry": MAIN, "mem": 64,
                  "stack": 1 << 20, "src": {MAIN: src}}  # fmt: skip
        deadline = time.monotonic() + timeout_ms / 1000
        return self.pool.run(app, header, json.dumps(req), json.dumps(ctx), deadline)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def warm(self, app: str, workers: int) -> None:
        """Start the workers (with requests of `app`) and wait until all are up."""

        async def all_at_once():
            return await asyncio.gather(*(self.submit(app, "'warm'") for _ in range(workers)))

        outs = self.run(all_at_once())
        assert [o.body for o in outs] == ["warm"] * workers
        deadline = time.monotonic() + 15
        while len(self.pool._workers) < workers:  # both may have run on the first one up
            assert time.monotonic() < deadline, "the workers did not start"
            self.run(asyncio.sleep(0.01))

    def close(self) -> None:
        self.run(self.pool.aclose())
        self.loop.close()


@pytest.fixture
def pools(db_path):
    made: list[Pool] = []

    def make(workers: int, queue: int, **kw) -> Pool:
        made.append(Pool(db_path, workers, queue, **kw))
        return made[-1]

    yield make
    for pool in made:
        pool.close()


async def _in_order(pool: Pool, jobs: list[tuple[str, str]]) -> list[str]:
    """Submit `jobs` (app, label) in this order; return the labels as they finish."""
    done: list[str] = []

    async def one(app: str, label: str) -> None:
        out = await pool.submit(app, repr(label))
        done.append(out.body)

    tasks = []
    for app, label in jobs:
        tasks.append(asyncio.ensure_future(one(app, label)))
        await asyncio.sleep(0)  # admitted in this order
    await asyncio.gather(*tasks)
    return done


def test_apps_with_waiting_requests_are_served_in_turn(pools):
    # One worker, nothing pipelined: while it runs app a's long request, four more of a's
    # and two of b's queue up. One FIFO would run a a a a b b; the apps take turns.
    pool = pools(1, 16, pipeline=1)
    pool.warm("a", 1)

    async def scenario():
        blocker = asyncio.ensure_future(pool.submit("a", busy(150, "blocker")))
        await asyncio.sleep(0)
        jobs = [("a", "a1"), ("a", "a2"), ("a", "a3"), ("a", "a4"), ("b", "b1"), ("b", "b2")]
        order = await _in_order(pool, jobs)
        return (await blocker).body, order

    blocker, order = pool.run(scenario())
    assert blocker == "blocker"
    assert order == ["a1", "b1", "a2", "b2", "a3", "a4"]


def test_a_slow_app_leaves_a_worker_to_the_others(pools):
    # Two workers. App a's requests are slow (one took > SLOW_SECONDS a moment ago) and
    # app b has been about: a may hold one worker, so b's request starts at once instead
    # of after one of a's (the old pool ran a's on both workers, b waited 400 ms).
    pool = pools(2, 16)
    pool.warm("b", 2)
    assert pool.run(pool.submit("a", busy(60, "known slow"))).body == "known slow"

    async def scenario():
        slow = [asyncio.ensure_future(pool.submit("a", busy(400, f"a{i}"))) for i in range(4)]
        await asyncio.sleep(0.1)
        started = time.monotonic()
        quick = await pool.submit("b", "'b'")
        waited = time.monotonic() - started
        first_done = sum(s.done() for s in slow)
        return quick.body, waited, first_done, [(await s).body for s in slow]

    quick, waited, first_done, slow = pool.run(scenario())
    assert quick == "b" and waited < 0.3, waited
    assert first_done == 0  # b did not wait for one of a's requests to finish
    assert slow == ["a0", "a1", "a2", "a3"]


def test_a_slow_app_alone_may_use_every_worker(pools):
    # Nobody else about: the worker kept for other apps would only sit idle.
    pool = pools(2, 16)
    pool.warm("a", 2)
    assert pool.run(pool.submit("a", busy(60, "known slow"))).body == "known slow"

    async def scenario():
        started = time.monotonic()
        outs = await asyncio.gather(*(pool.submit("a", busy(300, "a")) for _ in range(2)))
        return [o.body for o in outs], time.monotonic() - started

    bodies, took = pool.run(scenario())
    assert bodies == ["a", "a"] and took < 0.55, took  # side by side, not one after another


def test_queue_bounds_per_app_and_for_all(pools):
    # One worker stuck in app a's endless loop; each app may have 2 waiting, all apps 3.
    pool = pools(1, 2, total_queue=3, pipeline=1)
    pool.warm("a", 1)

    async def scenario():
        stuck = asyncio.ensure_future(pool.submit("a", "while (true) {}", timeout_ms=600))
        await asyncio.sleep(0)
        waiting = [asyncio.ensure_future(pool.submit("a", f"'a{i}'")) for i in (1, 2)]
        await asyncio.sleep(0)
        with pytest.raises(Overloaded, match="with a's requests"):
            await pool.submit("a", "'a3'")
        waiting.append(asyncio.ensure_future(pool.submit("b", "'b1'")))  # b is admitted
        await asyncio.sleep(0)
        with pytest.raises(Overloaded, match=r"all JavaScript workers are busy$"):
            await pool.submit("c", "'c1'")  # the backstop for all apps together
        return (await stuck).error, [(await w).body for w in waiting]

    error, bodies = pool.run(scenario())
    assert error == "FUNCTION_TIMEOUT"
    assert sorted(bodies) == ["a1", "a2", "b1"]


def test_runtime_config_for_fairness():
    config = RuntimeConfig.from_settings({"runtime_workers": "3", "runtime_queue": "10"})
    assert (config.queue, config.queue_total, config.app_workers) == (10, 40, 2)
    config = RuntimeConfig.from_settings(
        {"runtime_workers": "2", "runtime_app_workers": "9", "runtime_queue_total": "1"}
    )
    assert config.app_workers == 2  # at most every worker
    assert config.queue_total == config.queue  # never below one app's bound
    assert RuntimeConfig.from_settings({"runtime_workers": "1"}).app_workers == 1
