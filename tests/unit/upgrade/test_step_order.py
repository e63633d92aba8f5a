"""The worker's upgrade steps are recorded in the order they happen: a step before it
runs, its outcome in the next one; and the request it leaves for the supervisor."""

import asyncio
import hashlib
import json

import pytest

from fazt.db import Database
from fazt.release.index import Release
from fazt.upgrade import records, service
from fazt.upgrade.request import RequestError, UpgradeRequest, take


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("FAZT_INSTALL_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("FAZT_HOME", str(tmp_path / "home"))
    with Database.open(tmp_path / "data.db") as db:
        yield db


def _upgrade(db: Database, artifact: bytes, published: bytes, tmp_path) -> dict:
    """Run the worker's side against a local artifact whose index entry describes
    `published`; the upgrade's record when it ends."""
    source = tmp_path / "fazt-9.9.9.tar.gz"
    source.write_bytes(artifact)
    digest = hashlib.sha256(published).hexdigest()
    release = Release("9.9.9", str(source), source.name, len(published), digest)
    upgrade_id = db.write_sync(records.create, "1.0.0", "9.9.9")
    asyncio.run(service._run(db, upgrade_id, release))
    return db.read_sync(records.get, upgrade_id)


def _steps(record: dict) -> list[str]:
    return [s["step"] for s in record["steps"]]


def test_a_tampered_artifact_fails_in_the_verifying_step(db, tmp_path):
    record = _upgrade(db, b"tampered bytes", b"the signed bytes", tmp_path)
    assert _steps(record) == ["downloading", "verifying", "failed"]
    assert record["steps"][1]["message"].startswith("checking size and sha256")
    assert "does not match the signed index" in record["message"]
    assert not list((tmp_path / "root" / "downloads").iterdir())  # the bad file is gone


def test_a_verified_artifact_moves_on_and_says_it_matched(db, tmp_path):
    record = _upgrade(db, b"not a release", b"not a release", tmp_path)
    assert _steps(record) == ["downloading", "verifying", "installing", "failed"]
    assert record["steps"][2]["message"].startswith("size and sha256 match; installing")
    assert "is not a fazt release" in record["message"]


def test_an_oversized_artifact_is_cut_off_and_refused(db, tmp_path):
    record = _upgrade(db, b"x" * 100_000, b"x" * 10, tmp_path)
    assert _steps(record) == ["downloading", "verifying", "failed"]
    assert "size 11 vs 10" in record["message"]  # fetched one byte past the size, no more


def test_the_request_round_trips_and_is_taken_once(tmp_path):
    path = tmp_path / "data.db.upgrade-request"
    sent = UpgradeRequest("up_1", "9.9.9", "/r/bin/python", tmp_path / "root", "/d/data.db")
    sent.write(path)
    assert set(json.loads(path.read_text())) == {"id", "version", "python", "root", "db"}
    assert take(path) == sent
    assert not path.exists()
    with pytest.raises(RequestError, match="no readable request"):
        take(path)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"id": "up_1", "version": "9.9.9"}'])
def test_an_unreadable_request_is_refused(tmp_path, text):
    path = tmp_path / "data.db.upgrade-request"
    path.write_text(text)
    with pytest.raises(RequestError, match="no readable request"):
        take(path)
