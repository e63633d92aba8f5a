"""`fazt server ...` commands and the server process lifecycle."""

import hashlib
import json
import signal
import socket
import sqlite3
import time

import httpx
import pytest

from fazt import __version__
from fazt.auth import passwords
from tests.conftest import FaztServer, free_port, run_cli, wait_for


@pytest.fixture
def server(shared_server):
    """One running server for the module's tests that only read from it or try to start a
    second one beside it; the test that stops it has its own."""
    return shared_server


def test_version_first_line(fazt_home):
    out = run_cli(fazt_home, "--version")
    assert out.stdout.splitlines()[0] == f"fazt {__version__}"


def test_init_then_status(fazt_home):
    db = fazt_home / "x.db"
    run_cli(
        fazt_home,
        "server",
        "init",
        "--username",
        "ann",
        "--password",
        "long-enough-1",
        "--domain",
        "Example.TEST",
        "--port",
        "5000",
        "--db",
        str(db),
    )
    status = json.loads(run_cli(fazt_home, "server", "status", "--db", str(db), "--json").stdout)
    assert status["domain"] == "example.test"
    assert status["port"] == 5000
    assert status["admin_user"] == "ann"
    assert status["sites"] == 3  # root, 404, admin
    assert status["running"] is False
    assert status["database"] == str(db)
    again = run_cli(
        fazt_home, "server", "init", "--password", "long-enough-2", "--db", str(db), check=False
    )
    assert again.returncode != 0 and "already initialised" in again.stderr


def test_init_rejects_short_password_and_bad_domain(fazt_home):
    db = fazt_home / "x.db"
    short = run_cli(
        fazt_home, "server", "init", "--password", "short", "--db", str(db), check=False
    )
    assert short.returncode != 0 and "at least 8" in short.stderr
    bad = run_cli(
        fazt_home, "server", "init", "--domain", "not a domain!", "--db", str(db), check=False
    )
    assert bad.returncode != 0 and "not a valid domain" in bad.stderr


def test_status_without_database_is_a_clear_error(fazt_home):
    out = run_cli(fazt_home, "server", "status", "--db", str(fazt_home / "none.db"), check=False)
    assert out.returncode != 0 and "no database" in out.stderr
    assert not (fazt_home / "none.db").exists()


def test_set_config_and_credentials(fazt_home):
    db = fazt_home / "x.db"
    run_cli(fazt_home, "server", "init", "--password", "first-password", "--db", str(db))
    run_cli(
        fazt_home,
        "server",
        "set-config",
        "--domain",
        "sites.example",
        "--port",
        "8080",
        "--db",
        str(db),
    )
    status = json.loads(run_cli(fazt_home, "server", "status", "--db", str(db), "--json").stdout)
    assert (status["domain"], status["port"]) == ("sites.example", 8080)
    nothing = run_cli(fazt_home, "server", "set-config", "--db", str(db), check=False)
    assert nothing.returncode != 0 and "nothing to change" in nothing.stderr
    run_cli(
        fazt_home,
        "server",
        "set-credentials",
        "--username",
        "bob",
        "--password",
        "second-password",
        "--db",
        str(db),
    )
    conn = sqlite3.connect(db)
    name, hashed = conn.execute("SELECT username, password_hash FROM users").fetchone()
    conn.close()
    assert name == "bob"
    assert passwords.verify_password(hashed, "second-password")
    assert not passwords.verify_password(hashed, "first-password")


def test_create_key_prints_only_the_token_and_it_works(server, tmp_path):
    out = server.cli("server", "create-key", "--name", "ci", "--db", str(server.db))
    token = out.stdout.strip()
    assert out.stdout == token + "\n" and token.startswith("fazt_")
    assert server.api("GET", "/api/apps", token=token).status_code == 200
    conn = sqlite3.connect(server.db)
    stored = conn.execute("SELECT token_hash, scopes FROM api_keys WHERE name='ci'").fetchone()
    conn.close()
    assert stored == (hashlib.sha256(token.encode()).hexdigest(), "deploy")
    bad = server.cli(
        "server",
        "create-key",
        "--name",
        "x",
        "--scopes",
        "root",
        "--db",
        str(server.db),
        check=False,
    )
    assert bad.returncode != 0 and "unknown scope" in bad.stderr


def test_status_sees_running_server(fresh_server):
    server = fresh_server  # it stops the server
    # The first start saved the port it was given, so status probes the right one.
    status = json.loads(server.cli("server", "status", "--db", str(server.db), "--json").stdout)
    assert status["running"] is True and status["running_version"] == __version__
    server.stop()
    status = json.loads(server.cli("server", "status", "--db", str(server.db), "--json").stdout)
    assert status["running"] is False


def test_start_refuses_newer_schema(fazt_home):
    db = fazt_home / "data.db"
    run_cli(fazt_home, "server", "init", "--password", "long-enough-1", "--db", str(db))
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_migrations VALUES (999, '999_future.sql', 'x')")
    conn.commit()
    conn.close()
    out = run_cli(
        fazt_home,
        "server",
        "start",
        "--port",
        str(free_port()),
        "--db",
        str(db),
        check=False,
        timeout=30,
    )
    assert out.returncode != 0
    assert "schema version 999" in out.stderr and "newer fazt" in out.stderr


def test_start_on_busy_port_is_a_clear_error(fazt_home):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run_cli(
            fazt_home,
            "server",
            "start",
            "--port",
            str(port),
            "--db",
            str(fazt_home / "data.db"),
            check=False,
            timeout=30,
        )
    assert out.returncode != 0
    assert f"127.0.0.1:{port}" in out.stderr


def test_sigterm_drains_in_flight_request_then_exits(fazt_home):
    srv = FaztServer(home=fazt_home, port=free_port(), db=fazt_home / "data.db")
    srv.start()
    try:
        data = b"z" * 200_000
        sha = hashlib.sha256(data).hexdigest()
        sock = socket.create_connection(("127.0.0.1", srv.port))
        head = (
            f"PUT /api/blobs/{sha} HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: Bearer {srv.token}\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        sock.sendall(head.encode() + data[:1000])
        # The server has started reading this request; now ask it to stop.
        wait_for(lambda: _server_sees_connection(srv), what="server to accept the upload")
        srv.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: _refuses_new_connections(srv.port), what="listener to close")
        sock.sendall(data[1000:])
        reply = sock.recv(4096).decode()
        sock.close()
        assert reply.startswith("HTTP/1.1 201"), reply
        assert srv.proc.wait(15) == 0
        assert "fazt stopped" in srv.output()
    finally:
        srv.kill()
    conn = sqlite3.connect(fazt_home / "data.db")
    assert conn.execute("SELECT COUNT(*) FROM blobs WHERE sha256 = ?", (sha,)).fetchone()[0] == 1
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def _server_sees_connection(srv: FaztServer) -> bool:
    # /proc/net/tcp lists established sockets; port in hex, state 01 = ESTABLISHED.
    port_hex = f":{srv.port:04X}"
    with open("/proc/net/tcp") as fh:
        return any(port_hex in line.split()[1] and line.split()[3] == "01" for line in fh)


def _refuses_new_connections(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    time.sleep(0)  # connection accepted: still listening
    return False


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_dashboard_placeholder_served(server, host):
    r = server.get("/", host=host)
    assert r.status_code == 200 and "fazt" in r.text
    assert r.headers["x-frame-options"] == "DENY"


def test_dashboard_pages_answer_405_to_other_methods(server):
    r = server.request("POST", "/")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    assert r.headers["x-frame-options"] == "DENY"


def test_a_second_server_on_the_same_database_is_refused(server):
    out = server.cli(
        "server",
        "start",
        "--port",
        str(free_port()),
        "--db",
        str(server.db),
        check=False,
        timeout=30,
    )
    assert out.returncode != 0
    assert f"pid {server.proc.pid}" in out.stderr and "already serving" in out.stderr
    assert server.get("/health").status_code == 200  # the first one is untouched


def test_a_second_server_on_the_same_port_is_refused(server, tmp_path):
    other = tmp_path / "other.db"
    out = server.cli(
        "server", "start", "--port", str(server.port), "--db", str(other), check=False, timeout=30
    )
    assert out.returncode != 0
    assert f"127.0.0.1:{server.port} is already in use" in out.stderr
    assert not other.exists()  # refused before anything was created


def test_set_config_security_and_upgrade_settings(fazt_home):
    db = fazt_home / "x.db"
    run_cli(fazt_home, "server", "init", "--password", "first-password", "--db", str(db))

    def stored() -> dict:
        conn = sqlite3.connect(db)
        try:
            return dict(conn.execute("SELECT key, value FROM settings").fetchall())
        finally:
            conn.close()

    out = run_cli(
        fazt_home, "server", "set-config", "--trusted-proxies", " 10.0.0.1, 192.168.0.0/16 ",
        "--session-ttl-hours", "2", "--release-url", "https://example.org/releases.json",
        "--db", str(db),
    ).stdout  # fmt: skip
    assert "trusted_proxies = 10.0.0.1/32,192.168.0.0/16" in out
    values = stored()
    assert values["trusted_proxies"] == "10.0.0.1/32,192.168.0.0/16"
    assert values["session_ttl_seconds"] == "7200"
    assert values["release_url"] == "https://example.org/releases.json"
    for bad in (
        ["--trusted-proxies", "10.0.0.300"],
        ["--release-url", "releases.json"],
        ["--session-ttl-hours", "0"],
    ):
        result = run_cli(fazt_home, "server", "set-config", *bad, "--db", str(db), check=False)
        assert result.returncode != 0, bad
        assert stored() == values  # a bad value changes nothing
    run_cli(fazt_home, "server", "set-config", "--trusted-proxies", "", "--db", str(db))
    assert stored()["trusted_proxies"] == ""
