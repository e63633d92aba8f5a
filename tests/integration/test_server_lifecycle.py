"""`fazt server start/stop/restart/status` as a newcomer meets them: a busy port leaves
nothing behind, the `local` peer follows the served port, stop and restart act on the
supervisor, and the pid shown is the supervisor's (the one to signal)."""

import errno
import json
import os
import socket
import sqlite3
import threading

import httpx
import pytest

from fazt.remote.peers import normalise_url
from tests.conftest import FaztServer, child_pids, free_port, get_like_a_browser, run_cli

DEFAULT_PORT = 4698


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        # SO_REUSEADDR: TIME_WAIT connections do not count, a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _local_peer_url(home) -> str:
    conn = sqlite3.connect(home / "client.db")
    try:
        return conn.execute("SELECT url FROM peers WHERE name = 'local'").fetchone()[0]
    finally:
        conn.close()


def test_a_busy_default_port_creates_nothing_and_names_the_holder(fazt_home):
    """The first start (no --port, so the default) on a busy port: no database, no
    password, no saved peer; the error names who holds the port and suggests --port."""
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        held.bind(("127.0.0.1", DEFAULT_PORT))
        held.listen()
        ours = True
    except OSError as exc:  # busy already (another program): busy is all this test needs
        assert exc.errno == errno.EADDRINUSE
        ours = False
    try:
        out = run_cli(fazt_home, "server", "start", check=False, timeout=30)
    finally:
        held.close()
    assert out.returncode != 0
    assert f"127.0.0.1:{DEFAULT_PORT} is already in use" in out.stderr
    assert "--port" in out.stderr
    if ours:
        assert f"pid {os.getpid()}" in out.stderr
    assert "password" not in out.stdout.lower()
    assert not (fazt_home / "data.db").exists()
    assert not (fazt_home / "client.db").exists()  # no `local` peer saved either


def test_the_local_peer_follows_the_port_actually_served(fazt_home):
    """Initialised for one port, started on another: `fazt app list` must reach it."""
    first, second = free_port(), free_port()
    db = fazt_home / "data.db"
    run_cli(fazt_home, "server", "init", "--password", "long-enough-1", "--port", str(first),
            "--db", str(db), input="")  # fmt: skip
    assert _local_peer_url(fazt_home) == f"http://localhost:{first}"
    srv = FaztServer(home=fazt_home, port=second, db=db)
    with srv.serving():
        assert _local_peer_url(fazt_home) == normalise_url(f"http://localhost:{second}")
        listed = srv.cli("app", "list", "--all", "--json")
        assert "root" in listed.stdout


def test_a_local_peer_of_another_database_is_left_alone(fazt_home):
    mine, other = fazt_home / "mine.db", fazt_home / "other.db"
    run_cli(fazt_home, "server", "init", "--password", "long-enough-1", "--db", str(mine))
    run_cli(fazt_home, "server", "init", "--password", "long-enough-1", "--port", "5123",
            "--db", str(other))  # fmt: skip
    srv = FaztServer(home=fazt_home, port=free_port(), db=mine)
    with srv.serving():
        assert _local_peer_url(fazt_home) == "http://localhost:5123"  # other.db's key


def test_banner_and_status_show_the_supervisor_pid(server):
    assert f"serving (pid {server.proc.pid}" in server.output()
    status = json.loads(server.cli("server", "status", "--db", str(server.db), "--json").stdout)
    assert status["running"] is True
    assert status["pid"] == server.proc.pid
    assert status["serving_port"] == server.port
    assert status["uptime_seconds"] >= 0
    text = server.cli("server", "status", "--db", str(server.db)).stdout
    assert f"pid {server.proc.pid}, port {server.port}" in text


def test_server_stop_stops_the_supervisor_and_frees_the_port(server):
    out = server.cli("server", "stop", "--db", str(server.db), "--json")
    assert json.loads(out.stdout)["pid"] == server.proc.pid
    assert server.proc.wait(timeout=5) == 0  # gone by the time the command returned
    assert _port_free(server.port)
    again = server.cli("server", "stop", "--db", str(server.db), check=False)
    assert again.returncode != 0
    assert "no fazt server is running" in again.stderr


def test_server_stop_with_nothing_ever_started(fazt_home):
    out = run_cli(fazt_home, "server", "stop", check=False)
    assert out.returncode != 0
    assert "no fazt server is running" in out.stderr


def test_server_restart_hands_over_without_a_failed_request(server):
    before = server.get("/health").json()["data"]["instance"]
    (old_worker,) = child_pids(server.proc.pid)
    failures, ok, retried = [], [0], [0]
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    r, again = get_like_a_browser(
                        client, server.url + "/health", headers={"host": "localhost"}
                    )
                    retried[0] += again
                    ok[0] += r.status_code == 200
                    if r.status_code != 200:
                        failures.append(r.status_code)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    thread = threading.Thread(target=load)
    thread.start()
    try:
        out = server.cli("server", "restart", "--db", str(server.db), "--json", timeout=120)
    finally:
        stop.set()
        thread.join()
    result = json.loads(out.stdout)
    assert failures == []
    assert retried[0] <= 1  # at most the one keep-alive connection the old worker closed
    assert ok[0] > 5
    assert result["pid"] == server.proc.pid
    assert result["instance"] != before
    assert old_worker not in result["workers"]
    assert child_pids(server.proc.pid) == result["workers"]  # the old one is gone already
    assert server.get("/health").json()["data"]["instance"] == result["instance"]


@pytest.mark.parametrize("command", ["restart", "status"])
def test_restart_and_status_when_nothing_runs(fazt_home, command):
    db = fazt_home / "data.db"
    run_cli(fazt_home, "server", "init", "--password", "long-enough-1", "--db", str(db))
    out = run_cli(fazt_home, "server", command, "--db", str(db), "--json", check=False)
    if command == "restart":
        assert out.returncode != 0 and "no fazt server is running" in out.stderr
    else:
        status = json.loads(out.stdout)
        assert status["running"] is False and status["pid"] is None
