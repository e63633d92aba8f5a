"""fazt.cpu: CPU and file work runs on its own two threads, never on the database's
readers, so it goes on while every reader is busy (and reads go on while it runs)."""

import asyncio
import sqlite3
import threading

from fazt import cpu
from fazt.db import Database
from fazt.hosting import blobframes
from fazt.hosting.deployments import sha256_hex

WAIT = 10  # seconds: generous deadlines for a busy 2-core machine


def busy_readers(db: Database, count: int) -> tuple[threading.Event, list]:
    """Start `count` reads that hold their reader thread until the event is set."""
    release, started = threading.Event(), threading.Semaphore(0)

    def hold(conn: sqlite3.Connection) -> None:
        started.release()
        release.wait(WAIT)

    futures = [db.pool.submit(db._read_in_pool, hold, ()) for _ in range(count)]
    for _ in range(count):
        assert started.acquire(timeout=WAIT), "readers did not start"
    return release, futures


def test_cpu_work_goes_on_while_every_reader_is_busy(tmp_path) -> None:
    data = b"x" * 100_000
    frames = blobframes.encode(sha256_hex(data), data)
    with Database.open(tmp_path / "data.db", readers=4) as db:
        release, held = busy_readers(db, 4)
        try:

            async def scenario():
                digest = await asyncio.wait_for(cpu.run_cpu(sha256_hex, data), WAIT)
                decoded = await asyncio.wait_for(cpu.run_cpu(blobframes.decode, frames), WAIT)
                return digest, decoded

            digest, decoded = asyncio.run(scenario())
        finally:
            release.set()
        for future in held:
            future.result(WAIT)
    assert digest == sha256_hex(data)
    assert decoded == [(digest, data)]


def test_reads_go_on_while_the_cpu_pool_is_busy(tmp_path) -> None:
    release, started = threading.Event(), threading.Semaphore(0)

    def hold() -> None:
        started.release()
        release.wait(WAIT)

    with Database.open(tmp_path / "data.db") as db:

        async def scenario():
            held = [asyncio.ensure_future(cpu.run_cpu(hold)) for _ in range(cpu.THREADS)]
            for _ in range(cpu.THREADS):
                assert await asyncio.to_thread(started.acquire, timeout=WAIT)
            try:
                return await asyncio.wait_for(
                    db.read(lambda c: c.execute("SELECT 7").fetchone()[0]), WAIT
                )
            finally:
                release.set()
                await asyncio.gather(*held)

        assert asyncio.run(scenario()) == 7


def test_two_jobs_run_at_once_on_named_threads() -> None:
    both = threading.Barrier(2, timeout=WAIT)

    def meet() -> str:
        both.wait()  # passes only when two jobs run at the same time
        return threading.current_thread().name

    async def scenario():
        return await asyncio.gather(cpu.run_cpu(meet), cpu.run_cpu(meet))

    names = asyncio.run(scenario())
    assert len(set(names)) == 2
    assert all(name.startswith("fazt-cpu") for name in names)


def test_shutdown_lets_a_running_job_finish_and_a_later_call_starts_a_new_pool() -> None:
    started, release, finished = threading.Event(), threading.Event(), []

    def job() -> None:
        started.set()
        release.wait(WAIT)
        finished.append(True)

    async def start_job():
        return asyncio.ensure_future(cpu.run_cpu(job))

    loop = asyncio.new_event_loop()
    try:
        pending = loop.run_until_complete(start_job())
        assert started.wait(WAIT)
        stopper = threading.Thread(target=cpu.shutdown)
        stopper.start()
        release.set()
        stopper.join(WAIT)
        assert not stopper.is_alive() and finished == [True]
        loop.run_until_complete(pending)
        assert loop.run_until_complete(cpu.run_cpu(sum, [1, 2, 3])) == 6
    finally:
        loop.close()


def test_data_version_changes_only_when_something_commits(tmp_path) -> None:
    with Database.open(tmp_path / "data.db") as db:

        async def versions():
            first = await db.data_version()
            unchanged = await db.data_version()
            await db.write(lambda c: c.execute("INSERT INTO settings VALUES ('domain', 'a.b')"))
            ours = await db.data_version()
            other = sqlite3.connect(db.path)  # another process, as the CLI would be
            with other:
                other.execute("UPDATE settings SET value = 'c.d' WHERE key = 'domain'")
            other.close()
            return first, unchanged, ours, await db.data_version()

        first, unchanged, ours, theirs = asyncio.run(versions())
    assert first == unchanged
    assert ours != unchanged
    assert theirs != ours
