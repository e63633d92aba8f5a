"""`fazt server set-config KEY=VALUE` and `fazt server config`, generated from the settings
schema, against a real database and a real running server."""

import json
import re
import sqlite3
from pathlib import Path

import httpx

from fazt.db.setting_schema import SETTINGS
from tests.conftest import run_cli, running_server, write_site


def stored(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT key, value FROM settings").fetchall())
    finally:
        conn.close()


def init(home: Path) -> Path:
    db = home / "x.db"
    run_cli(home, "server", "init", "--password", "longenough1", "--db", str(db), input="")
    return db


def test_set_config_takes_any_schema_key_and_config_lists_them(fazt_home):
    db = init(fazt_home)
    out = run_cli(
        fazt_home, "server", "set-config", "runtime_timeout_ms=10000", "ws_idle_seconds=60",
        "backup_keep=3", "--history-limit", "5", "--db", str(db),
    ).stdout  # fmt: skip
    values = stored(db)
    assert values["runtime_timeout_ms"] == "10000" and values["ws_idle_seconds"] == "60"
    assert (values["backup_keep"], values["history_limit"]) == ("3", "5")
    assert "A running server picks up history_limit, backup_keep by itself." in out
    assert "runtime_timeout_ms, ws_idle_seconds: applied at the next start" in out
    assert "fazt server restart" in out
    port = run_cli(fazt_home, "server", "set-config", "port=4711", "--db", str(db)).stdout
    assert "port: applied at the next `fazt server start`" in port  # a handover keeps it
    assert "restart a running server" not in port
    listed = json.loads(run_cli(fazt_home, "server", "config", "--json", "--db", str(db)).stdout)
    assert [row["name"] for row in listed] == [s.name for s in SETTINGS]
    rows = {row["name"]: row for row in listed}
    assert rows["runtime_timeout_ms"]["value"] == "10000"
    assert rows["runtime_timeout_ms"]["default"] == "5000"
    assert rows["runtime_timeout_ms"]["restart"] is True
    assert rows["history_limit"]["restart"] is False
    assert rows["port"]["allowed"] == "an integer from 1 to 65535"
    table = run_cli(fazt_home, "server", "config", "--db", str(db)).stdout
    assert "ws_max_connections_per_site" in table and "live" in table


def test_set_config_refuses_bad_pairs_and_writes_nothing(fazt_home):
    db = init(fazt_home)
    before = stored(db)
    for args, message in [
        (["port=0"], "port: expected an integer from 1 to 65535, got '0'"),
        (["edge_exempt_loopback=yes"], "edge_exempt_loopback: expected 0 or 1"),
        (["no_such_key=1"], "no_such_key: no such setting"),
        (["runtime_timeout_ms"], "expected KEY=VALUE"),
        # One bad value among good ones: none of them is written.
        (["runtime_queue=8", "ws_idle_seconds=-1"], "ws_idle_seconds: expected a number"),
        (["runtime_queue=8", "--port", "8080", "domain=not a domain"], "domain: expected"),
    ]:
        result = run_cli(fazt_home, "server", "set-config", *args, "--db", str(db), check=False)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert stored(db) == before, args


def js_site(root: Path) -> Path:
    handler = "({size: (request.rawBody || '').length})"
    return write_site(root, {"api/main.js": handler})


def post(url: str, site: str, body: bytes) -> httpx.Response:
    # A new connection each time: a restart's draining worker closes idle ones.
    return httpx.post(f"{url}/api", content=body, headers={"host": f"{site}.localhost"}, timeout=30)


def dashboard_settings(srv) -> str:
    from tests.integration.test_auth_sessions import Browser

    browser = Browser(srv)
    try:
        assert browser.login().status_code == 303
        return browser.get("/settings").text
    finally:
        browser.close()


def test_a_running_server_sees_live_settings_now_and_restart_ones_after_a_restart(tmp_path):
    with running_server(tmp_path / "home") as srv:
        site = js_site(tmp_path / "site")
        for _ in range(3):
            srv.deploy(site, "fn")
        assert post(srv.url, "fn", b"x" * 1000).json() == {"size": 1000}
        out = srv.cli(
            "server", "set-config", "history_limit=1", "runtime_max_body_bytes=100",
            "--db", str(srv.db),
        ).stdout  # fmt: skip
        assert "picks up history_limit" in out and "runtime_max_body_bytes: applied" in out
        # history_limit is live: the next deploy prunes to it, without a restart.
        srv.deploy(site, "fn")
        history = srv.api("GET", "/api/apps/fn/deployments").json()["data"]
        assert len(history) == 1
        # The dashboard lists every setting with its stored value, default and when applied.
        page = dashboard_settings(srv)
        for s in SETTINGS:
            assert f"<code>{s.name}</code>" in page, s.name
        row = re.search(r"<code>runtime_max_body_bytes</code>.*?</tr>", page).group(0)
        assert "<strong>100</strong>" in row and ">1048576<" in row and ">restart<" in row
        # runtime_max_body_bytes needs a restart: still the old limit until then.
        assert post(srv.url, "fn", b"x" * 1000).status_code == 200
        srv.cli("server", "restart", "--db", str(srv.db), timeout=120)
        r = post(srv.url, "fn", b"x" * 1000)  # restart returns once the new worker serves
        assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert post(srv.url, "fn", b"x" * 50).json() == {"size": 50}
