"""The disk blob cache on a temp folder: verification before serving, LRU bound."""

import asyncio
import gzip
import hashlib
import os
from pathlib import Path

import brotli

from fazt.hosting.blob_cache import BlobCache, variant_name


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_wrong_source_bytes_are_never_cached(tmp_path):
    cache = BlobCache(tmp_path / "c", 10_000_000)
    good, bad = os.urandom(5000), os.urandom(5000)

    async def run():
        assert await cache.store(sha(good), bad) is None  # bytes that are not the name
        assert cache.get(sha(good)) is None
        assert await cache.store(sha(good), good) is not None
        return cache.get(sha(good))

    path = asyncio.run(run())
    assert Path(path).read_bytes() == good
    assert cache.rejected == 1
    assert not [p for p in (tmp_path / "c").rglob("tmp-*")]  # no temp file left behind


def test_variants_must_decompress_to_the_blob(tmp_path):
    cache = BlobCache(tmp_path / "c", 10_000_000)
    plain = b"hello variants " * 100

    async def run():
        ok_br = await cache.store(variant_name(sha(plain), "br"), brotli.compress(plain))
        ok_gz = await cache.store(variant_name(sha(plain), "gzip"), gzip.compress(plain))
        wrong = await cache.store(variant_name(sha(plain), "br"), brotli.compress(b"other"))
        junk = await cache.store(variant_name(sha(b"x"), "gzip"), b"not gzip at all")
        return ok_br, ok_gz, wrong, junk

    ok_br, ok_gz, wrong, junk = asyncio.run(run())
    assert ok_br and ok_gz and junk is None
    assert wrong == ok_br  # the verified copy already there is kept


def test_least_recently_used_files_go_first(tmp_path):
    cache = BlobCache(tmp_path / "c", 3000)
    blobs = [os.urandom(1000) for _ in range(4)]

    async def run():
        for data in blobs[:3]:
            await cache.store(sha(data), data)
        assert cache.get(sha(blobs[0]))  # now the most recently used
        await cache.store(sha(blobs[3]), blobs[3])

    asyncio.run(run())
    assert cache.get(sha(blobs[1])) is None  # the least recently used went
    assert not cache.path(sha(blobs[1])).exists()
    for data in (blobs[0], blobs[2], blobs[3]):
        assert cache.get(sha(data))
    assert cache.used == 3000


def test_scan_takes_stock_but_trusts_nothing(tmp_path):
    data = os.urandom(2000)
    first = BlobCache(tmp_path / "c", 10_000)
    asyncio.run(first.store(sha(data), data))
    (tmp_path / "c" / "ab").mkdir()
    (tmp_path / "c" / "ab" / "tmp-123").write_bytes(b"half written")
    second = BlobCache(tmp_path / "c", 10_000)
    second.scan()
    assert second.used == 2000
    assert second.get(sha(data)) is None  # verified on first use, not trusted
    assert not (tmp_path / "c" / "ab" / "tmp-123").exists()

    async def reuse():
        return await second.fill(sha(data), len(data), None)  # hashed, not fetched

    assert asyncio.run(reuse()) is not None
    assert second.fills == 0


def test_a_blob_is_copied_in_one_reader_call(tmp_path):
    """Separate reads per chunk make SQLite walk the blob's overflow pages from the start
    each time (quadratic: 900 MiB took 9 minutes); the copy holds one BLOB handle."""
    from fazt.db import Database
    from fazt.hosting import deployments
    from fazt.hosting.static import StaticServer

    class CountingDatabase(Database):
        reads = 0

        async def read(self, fn, *args):
            self.reads += 1
            return await super().read(fn, *args)

    data = os.urandom(5 * 1024 * 1024 + 7)
    with CountingDatabase.open(tmp_path / "data.db") as db:
        db.write_sync(deployments.store_blob, sha(data), data)
        server = StaticServer(db, 1024 * 1024, BlobCache(tmp_path / "c", 100 * 1024 * 1024))

        async def copy():
            return await server.blobs.fill(sha(data), len(data), server._copier(sha(data)))

        path = asyncio.run(copy())
        assert Path(path).read_bytes() == data
        assert db.reads == 1


def test_read_gives_only_verified_unchanged_bytes(tmp_path):
    cache = BlobCache(tmp_path / "c", 10_000_000)
    data = os.urandom(3000)
    name = sha(data)
    assert cache.read(name) is None  # not cached yet
    path = Path(asyncio.run(cache.store(name, data)))
    assert cache.read(name) == data
    path.write_bytes(data[::-1])  # same size, other bytes: the ctime moved
    assert cache.read(name) is None
    assert name not in cache  # forgotten: the next fill verifies it again
    path = Path(asyncio.run(cache.store(name, data)))
    path.unlink()
    assert cache.read(name) is None
