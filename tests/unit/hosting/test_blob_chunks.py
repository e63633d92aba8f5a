"""Big blobs in pieces (migration 013) on a real database file: stored, read back by any
range, collected with their pieces, expired as uploads, carried by backups."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fazt.backup.snapshot import create_snapshot, restore_snapshot
from fazt.db import Database
from fazt.db import settings as settings_table
from fazt.hosting import blob_chunks, blob_read, deployments, uploads
from fazt.hosting.deployments import FileEntry, sha256_hex
from fazt.hosting.manifest import Manifest

CHUNK = blob_chunks.CHUNK_BYTES
BIG = os.urandom(2 * CHUNK + 12345)
BIG_SHA = sha256_hex(BIG)
LONG_AGO = "2000-01-01T00:00:00.000000Z"


@pytest.fixture
def db(tmp_path):
    with Database.open(tmp_path / "data.db") as database:
        yield database


def count(db, sql, *args):
    return db.read_sync(lambda c: c.execute(sql, args).fetchone()[0])


def publish(db, site, data):
    entry = FileEntry("big.bin", sha256_hex(data), len(data), "application/octet-stream")
    return db.write_sync(
        lambda c: deployments.store_and_publish(c, site, [(entry, data)], Manifest(), "t")
    )


def test_a_big_blob_is_stored_in_pieces_and_read_back(db):
    publish(db, "media", BIG)
    assert count(db, "SELECT length(data) FROM blobs WHERE sha256 = ?", BIG_SHA) == 0
    assert count(db, "SELECT COUNT(*) FROM blob_chunks") == 3
    assert count(db, "SELECT MAX(length(data)) FROM blob_chunks") == CHUNK
    assert db.read_sync(deployments.read_blob, BIG_SHA) == BIG
    assert db.read_sync(blob_read.blob_size, BIG_SHA) == len(BIG)
    pieces = db.read_sync(lambda c: list(blob_read.iter_blob(c, BIG_SHA, chunk=1000 * 1000)))
    assert max(len(p) for p in pieces) <= 1000 * 1000 and b"".join(pieces) == BIG


def test_a_small_blob_stays_in_one_row(db):
    publish(db, "small", b"x" * CHUNK)  # exactly one chunk: not split
    assert count(db, "SELECT COUNT(*) FROM blob_chunks") == 0
    assert db.read_sync(deployments.read_blob, sha256_hex(b"x" * CHUNK)) == b"x" * CHUNK


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    with Database.open(tmp_path_factory.mktemp("ranges") / "data.db") as database:
        publish(database, "media", BIG)
        publish(database, "small", b"0123456789" * 100)
        yield database


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.integers(0, len(BIG) + 10),
    length=st.one_of(st.none(), st.integers(0, len(BIG) + 10)),
    chunk=st.sampled_from([1, 4096, CHUNK - 1, CHUNK, 3 * CHUNK]),
    which=st.sampled_from(["big", "small"]),
)
def test_any_range_reads_the_same_bytes_as_a_slice(stored, start, length, chunk, which):
    data = BIG if which == "big" else b"0123456789" * 100
    if chunk == 1 and (length is None or length > 5000):
        length = 5000  # byte by byte: keep it quick
    end = None if length is None else start + length
    got = stored.read_sync(
        lambda c: list(blob_read.iter_blob(c, sha256_hex(data), start, end, chunk))
    )
    assert b"".join(got) == data[start:end]
    assert all(0 < len(p) <= chunk for p in got)


def test_deleting_the_site_deletes_the_pieces(db):
    publish(db, "media", BIG)
    db.write_sync(deployments.delete_site, "media")
    assert count(db, "SELECT COUNT(*) FROM blobs WHERE sha256 = ?", BIG_SHA) == 0
    assert count(db, "SELECT COUNT(*) FROM blob_chunks") == 0


def test_an_idle_upload_expires_with_its_pieces_and_a_busy_one_keeps_its_deploy(db):
    up, created = db.write_sync(uploads.start, "media", "a" * 64, 3 * CHUNK, "t")
    assert created is True
    db.write_sync(uploads.append, up["id"], 0, b"p" * CHUNK)
    entry = FileEntry("big.bin", "a" * 64, 3 * CHUNK, "application/octet-stream")
    dep = db.write_sync(deployments.create_pending, "media", [entry], Manifest(), "t")
    db.write_sync(lambda c: c.execute("UPDATE deployments SET created_at = ?", (LONG_AGO,)))
    # The upload is still receiving bytes: its site's pending deployment stays.
    db.write_sync(deployments.expire_pending)
    assert count(db, "SELECT COUNT(*) FROM deployments WHERE id = ?", dep) == 1
    assert count(db, "SELECT COUNT(*) FROM blob_chunks") == 1
    db.write_sync(lambda c: c.execute("UPDATE uploads SET updated_at = ?", (LONG_AGO,)))
    db.write_sync(deployments.expire_pending)
    assert count(db, "SELECT COUNT(*) FROM uploads") == 0
    assert count(db, "SELECT COUNT(*) FROM blob_chunks") == 0
    assert count(db, "SELECT COUNT(*) FROM deployments WHERE id = ?", dep) == 0


def test_a_finished_upload_becomes_the_blob_and_a_wrong_hash_leaves_nothing(db):
    data = os.urandom(CHUNK + 10)
    up, _ = db.write_sync(uploads.start, "media", sha256_hex(data), len(data), "t")
    db.write_sync(uploads.append, up["id"], 0, data[:CHUNK])
    with pytest.raises(uploads.UploadError) as refused:
        db.write_sync(uploads.append, up["id"], 0, data[:CHUNK])  # not at the offset
    assert refused.value.code == "OFFSET_MISMATCH"
    db.write_sync(uploads.append, up["id"], CHUNK, data[CHUNK:])
    assert db.write_sync(uploads.finish, up["id"], sha256_hex(data))["complete"] is True
    assert db.read_sync(deployments.read_blob, sha256_hex(data)) == data
    wrong, _ = db.write_sync(uploads.start, "media", "b" * 64, 10, "t")
    db.write_sync(uploads.append, wrong["id"], 0, b"0123456789")
    assert db.write_sync(uploads.finish, wrong["id"], sha256_hex(b"0123456789")) is None
    assert count(db, "SELECT COUNT(*) FROM uploads") == 0
    assert count(db, "SELECT COUNT(*) FROM blobs WHERE sha256 = ?", "b" * 64) == 0
    assert count(db, "SELECT COUNT(*) FROM blob_chunks WHERE chunk_set = ?", wrong["id"]) == 0


def test_a_backup_and_restore_carry_the_pieces(tmp_path):
    path = tmp_path / "data.db"
    with Database.open(path) as db:
        publish(db, "media", BIG)
    backup = tmp_path / "backup.db"
    create_snapshot(path, backup)
    restored = tmp_path / "restored.db"
    with Database.open(restored) as db:
        pass
    restore_snapshot(backup, restored)
    with Database.open(restored) as db:
        assert db.read_sync(deployments.read_blob, BIG_SHA) == BIG


def test_the_site_limit_counts_deployed_files_once_and_uploads_in_progress(db):
    publish(db, "media", BIG)
    publish(db, "media", BIG)  # the same file in a second deployment counts once
    assert db.read_sync(uploads.site_bytes, "media") == len(BIG)
    db.write_sync(settings_table.put, "deploy_max_site_bytes", str(len(BIG) + 100))
    _, created = db.write_sync(uploads.start, "media", "c" * 64, 100, "t")
    assert created is True
    with pytest.raises(uploads.UploadError) as refused:
        db.write_sync(uploads.start, "media", "d" * 64, 1, "t")
    assert refused.value.code == "SITE_TOO_LARGE"
    assert "deploy_max_site_bytes" in str(refused.value)
    _, created = db.write_sync(uploads.start, "other", "d" * 64, 1, "t")
    assert created is True


def test_reading_small_blobs_does_not_grow_the_connections_memory(tmp_path):
    """CPython's blobopen() leaves ~90 B on the connection per call until it closes; a
    reader connection lives as long as the server, so small blobs are read without it."""
    import gc
    import sqlite3
    import tracemalloc

    from fazt.db import migrations
    from fazt.hosting import blob_read, deployments

    conn = sqlite3.connect(tmp_path / "leak.db", isolation_level=None)
    migrations.migrate(conn)
    data = b"tiny file"
    sha = deployments.sha256_hex(data)
    deployments.store_blob(conn, sha, data)
    assert blob_read.read_blob(conn, sha) == data
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(5000):
            assert blob_read.read_blob(conn, sha) == data
            assert b"".join(blob_read.iter_blob(conn, sha, 2, 6)) == data[2:6]
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        conn.close()
    assert grown < 100_000, f"{grown} bytes kept after 10,000 reads"
