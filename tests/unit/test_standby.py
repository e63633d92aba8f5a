"""The standby's rules without a server: the write gate, and when promotion is refused."""

import json
import time

import pytest

from fazt.backup import standby as sb
from fazt.db import Database, settings
from fazt.errors import FaztError


def test_a_standby_database_refuses_writes_but_the_followers_copy(tmp_path):
    db = Database.open(tmp_path / "data.db")
    try:
        db.read_only = sb.read_only_error(db.path)
        with pytest.raises(FaztError) as refused:
            db.write_sync(settings.put, "domain", "example.com")
        assert refused.value.code == "STANDBY_READ_ONLY"
        db.write_sync(sb.point_replication, "file:///new")  # marked standby_ok
        assert db.read_sync(settings.get, "replicate_url") == "file:///new"
        db.read_only = None
        # Without --replicate-to the primary's copied replica URL must not survive: the new
        # primary would replicate into the old primary's path.
        db.write_sync(settings.put, "replicate_url", "file:///old")  # (a primary's copy)
        db.read_only = sb.read_only_error(db.path)
        db.write_sync(sb.point_replication, None, {"replicate_s3_region": "eu-1"})
        assert db.read_sync(settings.get, "replicate_url") == ""
        assert db.read_sync(settings.get, "replicate_s3_region") == "eu-1"
        db.read_only = None
        db.write_sync(settings.put, "domain", "example.com")  # a primary again
    finally:
        db.close()


def make_standby(tmp_path, moved_ago: float, checked_ago: float = 0.0):
    path = tmp_path / "data.db"
    sb.marker_path(path).write_text(json.dumps({"from": "file:///replica"}))
    now = time.time()
    status = {"checked_at": now - checked_ago, "position_changed_at": now - moved_ago}
    sb.status_path(path).write_text(json.dumps(status))
    return path


def test_promote_refuses_while_the_replica_moves(tmp_path):
    path = make_standby(tmp_path, moved_ago=1.0)
    with pytest.raises(sb.StandbyError, match=r"advanced 1\.0s ago"):
        sb.check_promote(path, "file:///new", quiet=10, force=False)
    sb.check_promote(path, "file:///new", quiet=0.5, force=False)  # quiet long enough
    sb.check_promote(path, "file:///new", quiet=10, force=True)


def test_promote_refuses_without_a_running_follower(tmp_path):
    path = make_standby(tmp_path, moved_ago=100.0, checked_ago=60.0)
    with pytest.raises(sb.StandbyError, match="follower is not running"):
        sb.check_promote(path, "file:///new", quiet=10, force=False)


@pytest.mark.parametrize("url", ["file:///replica", "file:///replica/"])
def test_promote_refuses_the_old_replica_path(tmp_path, url):
    path = make_standby(tmp_path, moved_ago=100.0)
    with pytest.raises(sb.StandbyError, match="refusing to replicate into the replica"):
        sb.check_promote(path, url, quiet=10, force=False)
    sb.check_promote(path, url, quiet=10, force=True)


def test_promote_refuses_a_primary(tmp_path):
    with pytest.raises(sb.StandbyError, match="not a standby"):
        sb.check_promote(tmp_path / "data.db", None, quiet=10, force=True)


def test_begin_refuses_an_existing_primary_database(tmp_path):
    path = tmp_path / "data.db"
    path.write_bytes(b"")
    with pytest.raises(sb.StandbyError, match="not a standby"):
        sb.begin(path, "file:///replica")
