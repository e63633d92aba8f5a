"""`fazt standby` refusals that need no running server: each changes nothing."""

import json

from tests.conftest import init_server, run_cli


def test_standby_refuses_a_primary_database_and_a_missing_replica(tmp_path):
    primary = init_server(tmp_path / "primary")
    try:
        before = primary.db.read_bytes()
        out = run_cli(
            primary.home, "standby", "--from", (tmp_path / "r").as_uri(), "--db",
            str(primary.db), check=False,
        )  # fmt: skip
        assert out.returncode == 1 and "is not a standby" in out.stderr
        assert primary.db.read_bytes() == before
        assert not list(primary.home.glob("data.db.standby*"))

        new = tmp_path / "standby" / "data.db"
        out = run_cli(
            primary.home, "standby", "--from", (tmp_path / "nothing").as_uri(), "--db",
            str(new), check=False,
        )  # fmt: skip
        assert out.returncode == 1 and "litestream restore failed" in out.stderr
        assert not new.exists() and not list(new.parent.glob("data.db.standby*"))

        out = run_cli(primary.home, "standby", "promote", "--db", str(primary.db), check=False)
        assert out.returncode == 1 and "is not a standby" in out.stderr
        out = run_cli(primary.home, "standby", "status", "--db", str(primary.db))
        assert out.stdout.strip() == "Not a standby"
        status = json.loads(
            run_cli(primary.home, "standby", "status", "--json", "--db", str(primary.db)).stdout
        )
        assert status["standby"] is False and status["following"] is False
    finally:
        primary.http.close()


def test_promote_offline_needs_force_and_points_replication_elsewhere(tmp_path):
    """No server runs on the standby's database: the follower cannot tell whether the old
    primary writes, so only --force promotes, and the copied replica URL is replaced."""
    srv = init_server(tmp_path / "standby")
    try:
        old, new = (tmp_path / "old").as_uri(), (tmp_path / "new").as_uri()
        run_cli(srv.home, "replicate", "enable", "--replica", old, "--db", str(srv.db))
        marker = srv.db.with_name("data.db.standby.json")
        marker.write_text(json.dumps({"from": old}))
        promote = ["standby", "promote", "--replicate-to", new, "--db", str(srv.db)]
        out = run_cli(srv.home, *promote, check=False)
        assert out.returncode == 1 and "follower is not running" in out.stderr
        assert marker.exists()
        run_cli(srv.home, *promote, "--force")
        assert not marker.exists()
        status = json.loads(
            run_cli(srv.home, "replicate", "status", "--json", "--db", str(srv.db)).stdout
        )
        assert status["url"] == new
    finally:
        srv.http.close()
