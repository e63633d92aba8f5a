"""The bucket_objects protocol (fazt.offload.ledger) on a real database, no bucket: what
flips a row to the bucket, what the GC may delete and when."""

import hashlib
from datetime import timedelta

import pytest

from fazt.db import Database
from fazt.hosting import deployments
from fazt.offload import ledger
from fazt.storage import objects


@pytest.fixture
def db(tmp_path):
    with Database.open(tmp_path / "data.db") as db:
        db.write_sync(
            lambda c: c.execute(
                "INSERT INTO sites (name, created_at, updated_at) VALUES ('app', 'x', 'x')"
            )
        )
        yield db


def _blob(db, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    db.write_sync(deployments.store_blob, sha, data)
    return sha


def test_stored_moves_every_row_with_the_hash_and_drops_the_bytes(db):
    data = b"shared by a file and an app object"
    sha = _blob(db, data)
    db.write_sync(objects.put, "app", "a.bin", data, None)
    assert db.write_sync(ledger.claim, sha, len(data))
    assert db.write_sync(ledger.stored, sha) == 2
    rows = db.read_sync(
        lambda c: c.execute(
            "SELECT location, length(data) FROM blobs UNION ALL "
            "SELECT location, length(data) FROM app_objects"
        ).fetchall()
    )
    assert [tuple(r) for r in rows] == [("bucket", 0), ("bucket", 0)]
    assert db.read_sync(ledger.local_hashes) == []


def test_a_put_over_an_offloaded_app_object_keeps_its_new_bytes_local(db):
    db.write_sync(objects.put, "app", "a.bin", b"old", None)
    sha = hashlib.sha256(b"old").hexdigest()
    db.write_sync(ledger.claim, sha, 3)
    db.write_sync(ledger.stored, sha)
    db.write_sync(objects.put, "app", "a.bin", b"new bytes", None)
    # Read without a bucket: the new value must come from SQLite, not the old object.
    assert db.read_sync(objects.get, "app", "a.bin")["data"] == b"new bytes"


def test_the_gc_keeps_used_and_recent_objects_and_refuses_a_claim_while_deleting(db):
    used, unused = _blob(db, b"used"), _blob(db, b"unused")
    for sha in (used, unused):
        db.write_sync(ledger.claim, sha, 4)
        db.write_sync(ledger.stored, sha)
    assert db.write_sync(ledger.doom, timedelta(days=7)) == []  # nothing unused yet
    db.write_sync(lambda c: c.execute("DELETE FROM blobs WHERE sha256 = ?", (unused,)))
    assert db.write_sync(ledger.doom, timedelta(days=7)) == []  # unused, but kept 7 days
    assert db.write_sync(ledger.doom, timedelta(0)) == [unused]
    assert not db.write_sync(ledger.claim, unused, 6)  # being deleted: no upload now
    db.write_sync(ledger.forget, [unused])
    assert db.write_sync(ledger.claim, unused, 6)  # gone: a new upload may start


def test_a_pending_upload_is_never_doomed_until_abandoned(db):
    sha = hashlib.sha256(b"uploading").hexdigest()
    assert db.write_sync(ledger.claim, sha, 9)  # no row uses it yet: it is being uploaded
    assert db.write_sync(ledger.doom, timedelta(0)) == []


def test_visitors_objects_move_with_the_rest_and_keep_their_quota(db):
    from fazt.storage.scope import UserScope

    db.write_sync(
        lambda c: c.execute(
            "INSERT INTO app_users (app, id, provider, created_at, last_login_at) "
            "VALUES ('app', 'gh:1', 'gh', 'x', 'x')"
        )
    )
    owner = UserScope("app", "gh:1")
    db.write_sync(objects.put, owner, "draft.txt", b"a visitor's draft", None)
    usage = "SELECT bytes, items FROM user_storage_usage WHERE user_id = 'gh:1'"
    before = db.read_sync(lambda c: tuple(c.execute(usage).fetchone()))
    sha = hashlib.sha256(b"a visitor's draft").hexdigest()
    assert (sha, 17) in db.read_sync(ledger.local_hashes)
    db.write_sync(ledger.claim, sha, 17)
    assert db.write_sync(ledger.stored, sha) == 1
    row = db.read_sync(
        lambda c: c.execute("SELECT location, length(data) FROM user_objects").fetchone()
    )
    assert tuple(row) == ("bucket", 0)
    assert db.read_sync(lambda c: tuple(c.execute(usage).fetchone())) == before  # by size
    assert db.read_sync(ledger.bucket_hashes) == [(sha, 17)]
    assert db.write_sync(ledger.doom, timedelta(0)) == []  # still used by the visitor
