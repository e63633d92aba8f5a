"""`fazt remote ...` and `fazt upgrade`: the real CLI against a real server, and the upgrade
poller against a small upgrade-protocol peer on loopback (docs: upgrade contract)."""

import contextlib
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import FaztServer, free_port, run_cli, running_server, wait_for, write_site

JS_APP = {
    "api/main.js": "console.log('remote-log-line'); respond(200, {ok: true});\n",
    "index.html": "<h1>js</h1>",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    with running_server(tmp_path_factory.mktemp("remote-srv")) as server:
        yield server


@pytest.fixture
def client_home(tmp_path: Path) -> Path:
    """A laptop's FAZT_HOME: no local server, peers only."""
    home = tmp_path / "laptop"
    home.mkdir()
    return home


def cli(home: Path, *args: str, check: bool = True, **kw):
    return run_cli(home, *args, check=check, **kw)


def add_peer(home: Path, name: str, url: str, token: str, *extra: str, check: bool = True):
    return cli(home, "remote", "add", name, "--url", url, "--token", token, *extra, check=check)


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# -- add / list / remove / default ---------------------------------------------------------


def test_add_checks_the_token_and_never_prints_it(srv, client_home):
    token = srv.create_key("laptop")
    out = add_peer(client_home, "zyt", srv.url + "/", token, "--json")
    peer = json.loads(out.stdout)
    assert peer == {
        "name": "zyt",
        "url": srv.url,  # trailing slash gone
        "default": True,  # the first peer becomes the default
        "created_at": peer["created_at"],
        "version": "0.1.0",
        "checked": True,
    }
    listing = cli(client_home, "remote", "list")
    listed = json.loads(cli(client_home, "remote", "list", "--json").stdout)
    assert [p["name"] for p in listed] == ["zyt"] and "token" not in listed[0]
    for output in (out.stdout + out.stderr, listing.stdout + listing.stderr, json.dumps(listed)):
        assert token not in output
    db = client_home / "client.db"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT token FROM peers WHERE name = 'zyt'").fetchone()[0] == token
    finally:
        conn.close()


def test_add_refuses_a_bad_token_a_dead_url_and_bad_input(srv, client_home):
    bad = add_peer(client_home, "zyt", srv.url, "not-a-real-token", check=False)
    assert bad.returncode == 1 and "INVALID_API_KEY" in bad.stderr and "zyt" in bad.stderr
    assert "not-a-real-token" not in bad.stdout + bad.stderr
    url = dead_url()
    dead = add_peer(client_home, "gone", url, "t0ken", check=False)
    assert dead.returncode == 1 and url in dead.stderr and "cannot reach" in dead.stderr
    for name, bad_url, needle in [
        ("Bad Name", srv.url, "invalid peer name"),
        ("ok", "ftp://example.com", "only http:// and https://"),
        ("ok", "http://example.com/admin", "without a path"),
        ("ok", "http://example.com:99999", "bad port"),
    ]:
        result = add_peer(client_home, name, bad_url, "t", "--no-check", check=False)
        assert result.returncode == 1 and needle in result.stderr, result.stderr
    # Nothing was saved by any of the failures.
    assert json.loads(cli(client_home, "remote", "list", "--json").stdout) == []


def test_add_without_scheme_means_https_and_no_check_saves_offline(client_home):
    add_peer(client_home, "far", "Admin.Example.COM", "tok", "--no-check")
    assert json.loads(cli(client_home, "remote", "list", "--json").stdout)[0]["url"] == (
        "https://admin.example.com"
    )
    again = add_peer(client_home, "far", "http://other.example", "tok", "--no-check", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    add_peer(client_home, "far", "http://other.example", "tok2", "--no-check", "--replace")
    assert json.loads(cli(client_home, "remote", "list", "--json").stdout)[0]["url"] == (
        "http://other.example"
    )


def test_token_from_stdin(srv, client_home):
    token = srv.create_key("stdin")
    cli(client_home, "remote", "add", "zyt", "--url", srv.url, "--token", "-", input=token + "\n")
    assert json.loads(cli(client_home, "remote", "status", "zyt", "--json").stdout)["token_ok"]


def test_default_and_remove(client_home):
    for name in ("one", "two"):
        add_peer(client_home, name, f"http://{name}.example", "tok", "--no-check")
    by_name = lambda: {  # noqa: E731
        p["name"]: p["default"]
        for p in json.loads(cli(client_home, "remote", "list", "--json").stdout)
    }
    assert by_name() == {"one": True, "two": False}
    cli(client_home, "remote", "default", "two")
    assert by_name() == {"one": False, "two": True}
    add_peer(client_home, "three", "http://three.example", "tok", "--no-check", "--default")
    assert by_name() == {"one": False, "two": False, "three": True}
    missing = cli(client_home, "remote", "default", "nope", check=False)
    assert missing.returncode == 1 and "no peer named 'nope'" in missing.stderr
    cli(client_home, "remote", "remove", "three")
    assert set(by_name()) == {"one", "two"}
    gone = cli(client_home, "remote", "remove", "three", check=False)
    assert gone.returncode == 1 and "no peer named 'three'" in gone.stderr


# -- status / apps / deploy / logs --------------------------------------------------------


def test_status_reports_version_uptime_latency(srv, client_home):
    add_peer(client_home, "zyt", srv.url, srv.create_key("status"))
    info = json.loads(cli(client_home, "remote", "status", "--json").stdout)
    assert info["name"] == "zyt" and info["reachable"] and info["token_ok"]
    assert info["version"] == "0.1.0"
    assert isinstance(info["uptime_seconds"], int) and info["uptime_seconds"] >= 0
    assert 0 < info["latency_ms"] < 1000
    text = cli(client_home, "remote", "status", "zyt").stdout
    assert "Version:  0.1.0" in text and "ms" in text and "Uptime:" in text


def test_status_of_an_unreachable_peer_exits_1_naming_peer_and_url(client_home):
    url = dead_url()
    add_peer(client_home, "down", url, "tok", "--no-check")
    result = cli(client_home, "remote", "status", "down", check=False)
    assert result.returncode == 1
    assert "down" in result.stderr and url in result.stderr and "cannot reach" in result.stderr
    as_json = cli(client_home, "remote", "status", "down", "--json", check=False)
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["reachable"] is False


def test_status_with_a_revoked_token_exits_1(srv, client_home):
    add_peer(client_home, "zyt", srv.url, "wrong-token", "--no-check")
    result = cli(client_home, "remote", "status", "zyt", check=False)
    assert result.returncode == 1 and "token not accepted" in result.stderr
    assert "reachable, token rejected" in result.stdout


def test_unknown_peer_and_no_peers(client_home):
    none = cli(client_home, "remote", "apps", check=False)
    assert none.returncode == 1 and "no peers configured" in none.stderr
    add_peer(client_home, "one", "http://one.example", "tok", "--no-check")
    unknown = cli(client_home, "remote", "status", "nope", check=False)
    assert unknown.returncode == 1 and "no peer named 'nope' (known peers: one)" in unknown.stderr


def test_deploy_to_a_named_peer_then_apps_and_logs(srv, client_home, tmp_path):
    # The default peer is dead: only honouring the positional NAME can make this work
    # (the original ignored it and deployed to the default).
    add_peer(client_home, "zyt", srv.url, srv.create_key("deployer"))
    add_peer(client_home, "dead", dead_url(), "tok", "--no-check", "--default")
    site = write_site(tmp_path / "remote-js", JS_APP)
    deployed = json.loads(
        cli(
            client_home, "remote", "deploy", str(site), "zyt", "--site", "remote-js", "--json"
        ).stdout
    )
    assert deployed["uploaded_files"] == 2
    assert srv.get("/", host=f"remote-js.localhost:{srv.port}").text == "<h1>js</h1>"
    apps = json.loads(cli(client_home, "remote", "apps", "zyt", "--json").stdout)
    assert "remote-js" in {a["name"] for a in apps}
    assert "remote-js" in cli(client_home, "remote", "apps", "zyt").stdout
    failed = cli(client_home, "remote", "apps", check=False)  # the default: dead
    assert failed.returncode == 1 and "peer 'dead'" in failed.stderr

    assert srv.get("/api/x", host=f"remote-js.localhost:{srv.port}").status_code == 200
    wait_for(
        lambda: "remote-log-line" in cli(client_home, "remote", "logs", "remote-js", "zyt").stdout,
        what="the app's log line through `fazt remote logs`",
    )
    entries = json.loads(cli(client_home, "remote", "logs", "remote-js", "zyt", "--json").stdout)
    assert any(e["message"] == "remote-log-line" for e in entries)


# -- upgrade, against a protocol peer -------------------------------------------------------


class FakeUpgradeServer:
    """A loopback HTTP server speaking the upgrade contract, following a script.

    `statuses` is the list of statuses GET /api/upgrade/{id} walks through (the last one
    repeats); `health_after` is the version /health reports once the final status is
    served; `down_after` makes the server vanish after that many polls and come back
    `down_for` seconds later (None: never back).
    """

    def __init__(self, **script) -> None:
        self.script = {
            "post_status": 202,
            "post_body": {
                "id": "u1",
                "status": "pending",
                "from_version": "0.1.0",
                "to_version": "0.2.0",
                "action": "upgrading",
            },
            "statuses": ["downloading", "restarting", "committed"],
            "message": "",
            "health_before": "0.1.0",
            "health_after": "0.2.0",
            "down_after": None,
            "down_for": 1.0,
            **script,
        }
        self.polls = 0
        self.posts: list[dict] = []
        self.port = free_port()
        self.httpd: ThreadingHTTPServer | None = None
        self.finished = False
        self._start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/health":
                    version = fake.script["health_after" if fake.finished else "health_before"]
                    self._send(200, {"data": {"status": "ok", "version": version}})
                elif self.path == "/api/upgrade/u1":
                    fake.on_poll(self)
                else:
                    self._send(404, {"error": {"code": "NOT_FOUND", "message": self.path}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.posts.append({"path": self.path, "body": body})
                if self.headers.get("authorization") != "Bearer fake-token":
                    self._send(401, {"error": {"code": "INVALID_API_KEY", "message": "no"}})
                elif "check=true" in self.path:
                    self._send(
                        200,
                        {
                            "data": {
                                "current_version": "0.1.0",
                                "latest_version": "0.2.0",
                                "update_available": True,
                                "action": "check_only",
                                "message": "0.2.0 is available",
                            }
                        },
                    )
                else:
                    status, data = fake.script["post_status"], fake.script["post_body"]
                    self._send(status, data if status >= 400 else {"data": data})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def on_poll(self, handler) -> None:
        statuses = self.script["statuses"]
        status = statuses[min(self.polls, len(statuses) - 1)]
        self.polls += 1
        finished = status in ("committed", "rolled_back", "failed")
        self.finished = self.finished or finished
        handler._send(
            200,
            {
                "data": {
                    "id": "u1",
                    "status": status,
                    "from_version": "0.1.0",
                    "to_version": "0.2.0",
                    "message": self.script["message"] if finished else "",
                    "finished": finished,
                    "steps": [
                        {"at": "t", "step": s, "message": f"step {s}"}
                        for s in statuses[: self.polls]
                    ],
                }
            },
        )
        if self.script["down_after"] is not None and self.polls == self.script["down_after"]:
            threading.Thread(target=self._vanish, daemon=True).start()

    def _vanish(self) -> None:
        """Like a restart: the port refuses connections for a while."""
        import time

        self.httpd.shutdown()
        self.httpd.server_close()
        if self.script["down_for"] is None:
            return
        time.sleep(self.script["down_for"])  # the fake's restart time, not test sync
        self._start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake(request, client_home) -> Iterator[FakeUpgradeServer]:
    server = FakeUpgradeServer(**getattr(request, "param", {}))
    add_peer(client_home, "fake", server.url, "fake-token", "--no-check")
    try:
        yield server
    finally:
        with contextlib.suppress(OSError):
            server.close()


def upgrade(home: Path, *args: str):
    return cli(home, "remote", "upgrade", "fake", *args, check=False)


def test_upgrade_committed_is_verified_by_health(fake, client_home):
    result = upgrade(client_home, "--version", "0.2.0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "upgraded fake from 0.1.0 to 0.2.0 (verified: /health reports 0.2.0)"
    )
    assert "restarting: step restarting" in result.stderr  # progress on stderr
    assert fake.posts == [{"path": "/api/upgrade", "body": {"version": "0.2.0"}}]


def test_upgrade_json(fake, client_home):
    result = upgrade(client_home, "--json", "--release-url", "http://127.0.0.1:1/releases.json")
    data = json.loads(result.stdout)
    assert result.returncode == 0
    assert data["result"] == "upgraded" and data["verified"] is True
    assert data["running_version"] == "0.2.0" and data["upgrade_id"] == "u1"
    assert [s["step"] for s in data["steps"]] == ["downloading", "restarting", "committed"]
    assert fake.posts[0]["body"] == {"url": "http://127.0.0.1:1/releases.json"}


@pytest.mark.parametrize(
    "fake",
    [
        {
            "statuses": ["downloading", "restarting", "rolled_back"],
            "message": "the new version did not pass its health check within 30s",
            "health_after": "0.1.0",
        }
    ],
    indirect=True,
)
def test_upgrade_rolled_back_says_so_and_exits_1(fake, client_home):
    result = upgrade(client_home)
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "upgrade of fake rolled back: the new version did not pass its health check "
        "within 30s; still running 0.1.0"
    )


@pytest.mark.parametrize(
    "fake",
    [{"statuses": ["downloading", "verifying", "failed"], "message": "SIGNATURE_INVALID"}],
    indirect=True,
)
def test_upgrade_failed_before_restart(fake, client_home):
    result = upgrade(client_home)
    assert result.returncode == 1
    assert result.stdout.strip() == "upgrade of fake failed: SIGNATURE_INVALID"


@pytest.mark.parametrize("fake", [{"health_after": "0.1.0"}], indirect=True)
def test_committed_but_health_shows_old_version_is_not_success(fake, client_home):
    result = upgrade(client_home, "--timeout", "2")
    assert result.returncode == 1
    assert "upgraded" not in result.stdout
    assert "/health reports 0.1.0, not 0.2.0" in result.stdout


@pytest.mark.parametrize(
    "fake",
    [{"statuses": ["downloading", "restarting", "restarting", "committed"], "down_after": 2}],
    indirect=True,
)
def test_server_vanishing_mid_poll_is_tolerated(fake, client_home):
    result = upgrade(client_home, "--timeout", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified: /health reports 0.2.0" in result.stdout
    assert fake.polls >= 3  # it polled again after the server came back


@pytest.mark.parametrize(
    "fake", [{"statuses": ["restarting"], "down_after": 1, "down_for": None}], indirect=True
)
def test_server_that_never_comes_back_fails_after_the_deadline(fake, client_home):
    result = upgrade(client_home, "--timeout", "2")
    assert result.returncode == 1
    line = result.stdout.strip()
    assert line.startswith("upgrade of fake failed: no final answer from")
    assert "within 2s (last status: restarting; last error: cannot reach" in line


@pytest.mark.parametrize(
    "fake",
    [
        {
            "post_status": 409,
            "post_body": {
                "error": {"code": "UPGRADE_IN_PROGRESS", "message": "upgrade u0 is running"}
            },
        }
    ],
    indirect=True,
)
def test_upgrade_in_progress_409(fake, client_home):
    result = upgrade(client_home)
    assert result.returncode == 1
    assert result.stdout.startswith("upgrade of fake failed: another upgrade is already running")
    assert "upgrade u0 is running" in result.stdout and fake.polls == 0


@pytest.mark.parametrize(
    "fake",
    [
        {
            "post_status": 200,
            "post_body": {
                "current_version": "0.1.0",
                "latest_version": "0.1.0",
                "action": "already_latest",
            },
            "health_before": "0.1.0",
        }
    ],
    indirect=True,
)
def test_already_latest(fake, client_home):
    result = upgrade(client_home)
    assert result.returncode == 0
    assert "fake already runs 0.1.0, the latest version" in result.stdout and fake.polls == 0


def test_check_changes_nothing(fake, client_home):
    result = upgrade(client_home, "--check")
    assert result.returncode == 0
    assert "fake runs 0.1.0; 0.2.0 is available" in result.stdout
    assert fake.polls == 0 and fake.posts[0]["path"] == "/api/upgrade?check=true"
    data = json.loads(upgrade(client_home, "--check", "--json").stdout)
    assert data["update_available"] is True and data["peer"] == "fake"


def test_upgrade_of_an_unreachable_peer(client_home):
    url = dead_url()
    add_peer(client_home, "fake", url, "tok", "--no-check")
    result = upgrade(client_home)
    assert result.returncode == 1
    assert result.stdout.startswith("upgrade of fake failed: cannot reach " + url)


def test_local_upgrade_uses_the_local_peer(client_home):
    server = FakeUpgradeServer()
    try:
        add_peer(client_home, "local", server.url, "fake-token", "--no-check")
        add_peer(client_home, "other", dead_url(), "tok", "--no-check", "--default")
        result = cli(client_home, "upgrade", check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == (
            "upgraded local from 0.1.0 to 0.2.0 (verified: /health reports 0.2.0)"
        )
    finally:
        server.close()


def test_local_upgrade_without_a_local_server(client_home):
    result = cli(client_home, "upgrade", check=False)
    assert result.returncode == 1 and "no local server known" in result.stderr


def test_real_server_upgrade_from_a_dead_release_source_fails_clearly(srv, client_home):
    add_peer(client_home, "zyt", srv.url, srv.create_key("up", "admin"))
    index = dead_url() + "/releases.json"
    result = cli(client_home, "remote", "upgrade", "zyt", "--release-url", index, check=False)
    assert result.returncode == 1
    assert result.stdout.startswith("upgrade of zyt failed:") and srv.url in result.stdout
    assert httpx.get(srv.url + "/health").json()["data"]["version"] == "0.1.0"
