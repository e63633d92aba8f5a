"""Reading blob bytes in ranges and chunks from a real database file."""

import os

import pytest

from fazt.db import Database
from fazt.hosting import blob_read, deployments
from fazt.hosting.deployments import sha256_hex


@pytest.fixture
def db(tmp_path):
    with Database.open(tmp_path / "data.db") as database:
        yield database


def test_size_range_and_chunks(db):
    data = os.urandom(3 * 1000 + 7)
    sha = sha256_hex(data)
    db.write_sync(deployments.store_blob, sha, data)
    assert db.read_sync(blob_read.blob_size, sha) == len(data)
    chunks = db.read_sync(lambda c: list(blob_read.iter_blob(c, sha, chunk=1000)))
    assert [len(c) for c in chunks] == [1000, 1000, 1000, 7]
    assert b"".join(chunks) == data
    part = db.read_sync(lambda c: b"".join(blob_read.iter_blob(c, sha, 999, 2001, chunk=500)))
    assert part == data[999:2001]
    # An end past the blob stops at its end; a start past it yields nothing.
    tail = db.read_sync(lambda c: b"".join(blob_read.iter_blob(c, sha, 2990, 10**9)))
    assert tail == data[2990:]
    assert db.read_sync(lambda c: list(blob_read.iter_blob(c, sha, len(data)))) == []
    assert db.read_sync(blob_read.read_blob, sha) == data


def test_missing_blob(db):
    assert db.read_sync(blob_read.blob_size, "0" * 64) is None
    assert db.read_sync(lambda c: list(blob_read.iter_blob(c, "0" * 64))) == []
    assert db.read_sync(blob_read.read_blob, "0" * 64) is None


def test_empty_blob(db):
    sha = sha256_hex(b"")
    db.write_sync(deployments.store_blob, sha, b"")
    assert db.read_sync(blob_read.blob_size, sha) == 0
    assert db.read_sync(blob_read.read_blob, sha) == b""
