"""Deployment bookkeeping on a real database file: history, garbage collection."""

import pytest

from fazt.api.errors import status_of
from fazt.db import Database, settings
from fazt.hosting import deployments
from fazt.hosting.deployments import DeployError, FileEntry, sha256_hex
from fazt.hosting.manifest import Manifest

LONG_AGO = "2000-01-01T00:00:00.000000Z"


@pytest.fixture
def db(tmp_path):
    with Database.open(tmp_path / "data.db") as database:
        yield database


def deploy(db, site, content: bytes, live=True):
    entry = FileEntry("index.html", sha256_hex(content), len(content), "text/html")
    return db.write_sync(
        lambda c: deployments.store_and_publish(
            c, site, [(entry, content)], Manifest(), "t", live=live
        )
    )


def count(db, sql, *args):
    return db.read_sync(lambda c: c.execute(sql, args).fetchone()[0])


def test_history_keeps_limit_and_always_the_live_one(db):
    db.write_sync(settings.put, "history_limit", "2")
    first = deploy(db, "blog", b"v1")
    for i in range(2, 6):
        deploy(db, "blog", f"v{i}".encode())
    db.write_sync(deployments.promote, "blog", deploy(db, "blog", b"v6")["id"])
    ids = [d["id"] for d in db.read_sync(deployments.history, "blog")]
    assert len(ids) == 2 and first["id"] not in ids
    assert count(db, "SELECT COUNT(*) FROM blobs WHERE sha256 = ?", sha256_hex(b"v1")) == 0
    # Rolling back to a pruned deployment is a clear error.
    with pytest.raises(DeployError) as err:
        db.write_sync(deployments.promote, "blog", first["id"])
    assert status_of(err.value) == 404


def test_rollback_goes_to_the_previously_live_deployment_not_a_preview(db):
    one = deploy(db, "blog", b"one")
    two = deploy(db, "blog", b"two")
    deploy(db, "blog", b"preview", live=False)
    back = db.write_sync(deployments.rollback, "blog", None)
    assert back["id"] == one["id"] and back["live"]
    assert two["id"] != back["id"]
    with pytest.raises(DeployError) as err:
        db.write_sync(deployments.rollback, "blog", None)
    assert err.value.code == "NO_PREVIOUS_DEPLOYMENT"


def test_abandoned_uploads_are_collected_after_their_grace_period(db):
    entry = FileEntry("index.html", sha256_hex(b"never"), 5, "text/html")
    db.write_sync(deployments.create_pending, "ghost", [entry], Manifest(), "t")
    db.write_sync(deployments.store_blob, sha256_hex(b"orphan"), b"orphan")
    # Fresh abandoned uploads survive a deploy elsewhere (their uploader may still finish).
    deploy(db, "other", b"x")
    assert count(db, "SELECT COUNT(*) FROM sites WHERE name = 'ghost'") == 1
    assert count(db, "SELECT COUNT(*) FROM blobs WHERE sha256 = ?", sha256_hex(b"orphan")) == 1
    db.write_sync(lambda c: c.execute("UPDATE deployments SET created_at = ?", (LONG_AGO,)))
    db.write_sync(lambda c: c.execute("UPDATE blobs SET created_at = ?", (LONG_AGO,)))
    deploy(db, "other", b"y")
    assert count(db, "SELECT COUNT(*) FROM sites WHERE name = 'ghost'") == 0
    assert count(db, "SELECT COUNT(*) FROM blobs WHERE sha256 = ?", sha256_hex(b"orphan")) == 0
    # Blobs still referenced are kept, whatever their age.
    assert count(db, "SELECT COUNT(*) FROM blobs WHERE sha256 = ?", sha256_hex(b"y")) == 1


def test_finalize_refuses_missing_blobs_and_changes_nothing(db):
    entry = FileEntry("index.html", sha256_hex(b"absent"), 6, "text/html")
    dep_id = db.write_sync(deployments.create_pending, "blog", [entry], Manifest(), "t")
    with pytest.raises(DeployError) as err:
        db.write_sync(lambda c: deployments.finalize(c, dep_id, live=True))
    assert err.value.code == "BLOBS_MISSING"
    state = db.read_sync(
        lambda c: c.execute("SELECT state FROM deployments WHERE id = ?", (dep_id,)).fetchone()[0]
    )
    assert state == "pending"
    assert count(db, "SELECT COUNT(*) FROM sites WHERE live_deployment_id IS NOT NULL") == 0
