"""kv.set through the server (kv_pipe.py, group_commit.py, executor.py): a JS worker's
pending writes are visible to its own later reads of the same app only, an answer waits
for the commit of the writes made before it, a refused write fails its request, and
what waits for a flush (kv.delete, kv.list, other writes) sees every earlier kv.set."""

import asyncio
import json
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from fazt.db import Database
from fazt.runtime.executor import WorkerPool
from fazt.runtime.group_commit import GroupCommit
from fazt.runtime.kv_pipe import KvPipe, PipedStorage
from tests.unit.runtime.test_runtime_unit import _job


class NoDatabase:
    """Reads answer None and are counted; nothing may be written."""

    standby = False

    def __init__(self) -> None:
        self.reads = 0

    def read_sync(self, fn, *args):
        self.reads += 1
        return None

    def write_sync(self, fn, *args):
        raise AssertionError("a kv.set must not write locally")


def test_pending_writes_are_read_back_by_their_own_app_only():
    frames: list[str] = []
    pipe = KvPipe(frames.append, lambda done: None)
    db = NoDatabase()
    a, b = PipedStorage(db, "a", pipe), PipedStorage(db, "b", pipe)
    a.kv_set("k", '{"n":1}', stringified=True)
    assert frames == [frames[0]] and frames[0].startswith("Wa\0k\0\0")
    assert frames[0].endswith('\0{"n":1}')
    assert a.kv_get("k") == '{"n":1}' and db.reads == 0  # read back without the database
    assert b.kv_get("k") is None and db.reads == 1  # another app: the database's answer
    a.kv_set("k", "2", stringified=True)
    assert a.kv_get("k") == "2"
    pipe.acked(1)  # the first write is committed: the second is still pending
    assert a.kv_get("k") == "2" and db.reads == 1
    pipe.acked(2)
    assert pipe.pending == {} and a.kv_get("k") is None and db.reads == 2


def test_a_pending_write_with_a_ttl_expires():
    pipe = KvPipe(lambda frame: None, lambda done: None)
    a = PipedStorage(NoDatabase(), "a", pipe)
    a.kv_set("k", "1", 1)
    deadline = time.monotonic() + 5
    while a.kv_get("k") is not None:  # expires 1 ms after the set
        assert time.monotonic() < deadline
    assert ("a", "k") in pipe.pending


def test_kv_list_waits_until_every_write_sent_is_committed():
    frames: list[str] = []
    pipe = KvPipe(frames.append, lambda done: pipe.acked(pipe.sent))
    a = PipedStorage(NoDatabase(), "a", pipe)
    a.kv_set("k", "1")
    with pytest.raises(TypeError):  # NoDatabase's None is no list: it was read after all
        a.kv_list("")
    assert frames[-1] == "F" and pipe.committed == 1 and pipe.pending == {}


class HeldDatabase:
    """submit_write returns futures the test completes; writes recorded."""

    def __init__(self) -> None:
        self.batches: list[tuple[list, Future]] = []

    def submit_write(self, fn, writes):
        future: Future = Future()
        self.batches.append((writes, future))
        return future


def kv_job(src: str) -> tuple:
    return _job(src, storage=True)


@pytest.fixture
def held(tmp_path: Path):
    path = tmp_path / "t.db"
    Database.open(path).close()
    db = HeldDatabase()
    loop = asyncio.new_event_loop()
    pool = WorkerPool(path, 1, 8, pipeline=4, kv_writes=GroupCommit(db))  # type: ignore[arg-type]
    yield loop, pool, db
    loop.run_until_complete(pool.aclose())
    loop.close()


def test_an_answer_waits_for_the_commit_of_its_writes(held):
    loop, pool, db = held

    async def scenario():
        run = asyncio.ensure_future(
            pool.run("a", *kv_job("fazt.storage.kv.set('k', 5); 'set'"), time.monotonic() + 30)
        )
        while not db.batches:
            assert not run.done(), run.result()
            await asyncio.sleep(0.01)
        # the request has finished in the worker; its answer waits for the commit
        later = asyncio.ensure_future(
            pool.run("a", *kv_job("[fazt.storage.kv.get('k'), 'read']"), time.monotonic() + 30)
        )
        done, _ = await asyncio.wait({run, later}, timeout=0.5)
        assert done == set()
        ((writes, future),) = db.batches
        assert [w[:4] for w in writes] == [("a", "k", "5", None)]
        future.set_result([None])
        assert (await run).body == "set"
        # the next request of the same worker read the pending write, and was held too
        assert json.loads((await later).body) == [5, "read"]

    loop.run_until_complete(scenario())


def test_a_refused_write_fails_its_request(held):
    loop, pool, db = held

    async def scenario():
        run = asyncio.ensure_future(
            pool.run("a", *kv_job("fazt.storage.kv.set('k', 1); 'ok'"), time.monotonic() + 30)
        )
        while not db.batches:
            await asyncio.sleep(0.01)
        db.batches[0][1].set_result(["storage write refused: FOREIGN KEY constraint failed"])
        outcome = await run
        assert outcome.error is not None and "FOREIGN KEY" in outcome.message

    loop.run_until_complete(scenario())


def test_writes_of_requests_through_the_real_writer(tmp_path: Path):
    path = tmp_path / "t.db"
    db = Database.open(path)
    db.write_sync(
        lambda c: c.execute(
            "INSERT INTO sites (name, created_at, updated_at) VALUES ('a', 'x', 'x')"
        )
    )
    loop = asyncio.new_event_loop()
    pool = WorkerPool(path, 2, 64, kv_writes=GroupCommit(db))

    async def one(src: str):
        return json.loads((await pool.run("a", *kv_job(src), time.monotonic() + 30)).body)

    async def scenario():
        sets = [one(f"fazt.storage.kv.set('k{i}', {i}); {i}") for i in range(20)]
        assert await asyncio.gather(*sets) == list(range(20))
        src = (
            "const kv = fazt.storage.kv; kv.set('x', 1); kv.set('y', 2);"
            "[kv.delete('x'), kv.list('').map(e => e.key).length, kv.get('x') === undefined]"
        )
        assert await one(src) == [True, 21, True]

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.run_until_complete(pool.aclose())
        loop.close()
    stored = db.read_sync(lambda c: dict(c.execute("SELECT key, value FROM app_kv")))
    db.close()
    assert stored == {**{f"k{i}": str(i) for i in range(20)}, "y": "2"}


def test_a_write_for_another_app_than_the_running_request_is_refused(tmp_path: Path):
    """Defence in depth: the server files a write under the app of the request running
    in that worker; a worker that names another app is killed and nothing is written."""
    db = HeldDatabase()
    commits = GroupCommit(db)  # type: ignore[arg-type]
    pool = WorkerPool(tmp_path / "t.db", 1, 8, kv_writes=commits)
    loop = asyncio.new_event_loop()

    async def scenario():
        run = asyncio.ensure_future(
            pool.run("a", *kv_job("while (true) {}"), time.monotonic() + 30)
        )
        while not any(w.inflight for w in pool._workers):
            await asyncio.sleep(0.01)
        (worker,) = pool._workers
        pool._on_frame(worker, "Wa\0k\0\0stamp\0" + "1")  # its own app: taken
        pool._on_frame(worker, "Wb\0k\0\0stamp\0" + "2")  # another app's key
        assert worker.lost and not worker.alive
        outcome = await run
        assert outcome.error is not None
        await asyncio.sleep(0)  # the batch starts at the end of the loop's iteration
        assert [[w[:3] for w in writes] for writes, _ in db.batches] == [[("a", "k", "1")]]
        db.batches[0][1].set_result([None])

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.run_until_complete(pool.aclose())
        loop.close()


def test_a_failed_group_commit_fails_its_requests_without_server_details(held):
    loop, pool, db = held

    async def scenario():
        run = asyncio.ensure_future(
            pool.run("a", *kv_job("fazt.storage.kv.set('k', 1); 'ok'"), time.monotonic() + 30)
        )
        while not db.batches:
            await asyncio.sleep(0.01)
        db.batches[0][1].set_exception(OSError("disk I/O error on /srv/secret/data.db"))
        outcome = await run
        assert outcome.error is not None and "storage write failed" in outcome.message
        assert "/srv/secret" not in outcome.message

    loop.run_until_complete(scenario())


def test_a_realtime_message_waits_for_the_writes_before_it(tmp_path: Path):
    path = tmp_path / "t.db"
    Database.open(path).close()
    db, published = HeldDatabase(), []
    loop = asyncio.new_event_loop()
    pool = WorkerPool(path, 1, 8, publish=lambda *a: published.append(a), kv_writes=GroupCommit(db))  # type: ignore[arg-type]
    src = "fazt.storage.kv.set('k', 1); fazt.realtime.publish('room', {k: 1}); 'ok'"

    async def scenario():
        run = asyncio.ensure_future(pool.run("a", *kv_job(src), time.monotonic() + 30))
        while not db.batches:
            await asyncio.sleep(0.01)
        done, _ = await asyncio.wait({run}, timeout=0.3)
        assert done == set() and published == []  # a subscriber would read the old value
        db.batches[0][1].set_result([None])
        assert (await run).body == "ok"
        assert published == [("a", "room", '{"k":1}')]

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.run_until_complete(pool.aclose())
        loop.close()
