"""The runtime's cache of each app's fazt.env/app context: one database read per app when
it expires under load, not one per request in flight; a change drops it at once."""

import asyncio
from pathlib import Path

import pytest

from fazt.db import Database
from fazt.runtime import store
from fazt.runtime.service import Runtime


@pytest.fixture
def db(tmp_path: Path):
    database = Database.open(tmp_path / "t.db")
    yield database
    database.close()


def counting_env_reads(db: Database) -> list[tuple]:
    """Record each env_values read the runtime makes (the real read still runs)."""
    reads: list[tuple] = []
    real = db.read

    async def read(fn, *args):
        if fn is store.env_values:
            reads.append(args)
        return await real(fn, *args)

    db.read = read  # type: ignore[method-assign]
    return reads


def test_concurrent_requests_share_one_read(db):
    runtime = Runtime(db)
    reads = counting_env_reads(db)

    async def main() -> list[str]:
        return await asyncio.gather(*(runtime.context_json("blog") for _ in range(32)))

    texts = asyncio.run(main())
    assert reads == [("blog",)]
    assert len(set(texts)) == 1 and '"app": "blog"' in texts[0]
    runtime.close()


def test_a_change_is_read_again_at_once(db):
    runtime = Runtime(db)
    reads = counting_env_reads(db)

    async def main() -> None:
        await runtime.context_json("blog")
        await runtime.context_json("blog")  # cached
        db.write_sync(store.unset_env, "blog", "X")  # bumps the generation
        await runtime.context_json("blog")

    asyncio.run(main())
    assert reads == [("blog",), ("blog",)]
    runtime.close()


def test_a_cancelled_request_does_not_cancel_the_shared_read(db):
    runtime = Runtime(db)
    reads = counting_env_reads(db)

    async def main() -> str:
        first = asyncio.ensure_future(runtime.context_json("blog"))
        second = asyncio.ensure_future(runtime.context_json("blog"))
        await asyncio.sleep(0)  # both are waiting for the one read
        first.cancel()
        return await second

    text = asyncio.run(main())
    assert '"app": "blog"' in text and reads == [("blog",)]
    runtime.close()
