"""A worker that keeps dying never takes the server down: the supervisor restarts it with
a growing (capped) pause, keeps the port's socket so that clients wait instead of being
refused, and reports the crash loop in its log, /health and `fazt server status`."""

import json
import os
import signal
import socket
import subprocess
import time

import httpx
import pytest

from tests.conftest import child_pids, fazt_cmd, init_server, pid_alive, running_server, wait_for

KILLS = 8


@pytest.fixture
def server(tmp_path):
    # A short cap keeps the test quick; the pause still grows 0.25, 0.5, 1, 1, ...
    with running_server(tmp_path / "home", {"worker_restart_max_delay_seconds": "1"}) as srv:
        yield srv


def _health(server) -> dict | None:
    try:
        r = server.get("/health")
    except httpx.HTTPError:
        return None
    return r.json()["data"] if r.status_code == 200 else None


def _raw_health(port: int) -> bytes:
    """GET /health on a fresh connection; raises ConnectionRefusedError if refused."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_eight_quick_kills_do_not_stop_the_server_and_are_reported(server):
    supervisor = server.proc.pid
    killed: set[int] = set()
    while len(killed) < KILLS:
        # Kill each new worker as soon as it exists (before or after it serves).
        (worker,) = wait_for(
            lambda: [p for p in child_pids(supervisor) if p not in killed and pid_alive(p)],
            30,
            what="a new worker",
        )
        os.kill(worker, signal.SIGKILL)
        killed.add(worker)
        assert server.proc.poll() is None, server.output()

    data = wait_for(lambda: _health(server), 60, what="a worker serving again")
    assert data["restarts_last_hour"] >= KILLS
    assert data["last_restart"]["exit_code"] == -signal.SIGKILL
    assert abs(data["last_restart"]["at"] - time.time()) < 120
    out = server.output()
    assert "giving up" not in out
    assert "crash loop:" in out
    assert f"restart {KILLS} in the last hour" in out

    status = server.cli("server", "status", "--db", str(server.db), "--json")
    info = json.loads(status.stdout)
    assert info["running"] is True
    assert info["restarts_last_hour"] >= KILLS
    text = server.cli("server", "status", "--db", str(server.db)).stdout
    assert "a crash loop" in text

    # Still a working server: it stops cleanly.
    assert server.stop() == 0


def test_a_client_connecting_while_the_worker_restarts_gets_an_answer(server):
    before = _health(server)["instance"]
    (worker,) = child_pids(server.proc.pid)
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: not pid_alive(worker), 10, what="the worker to die")
    # No worker accepts now (the supervisor pauses before it starts one): the connection
    # must wait in the supervisor's socket, not be refused.
    started = time.monotonic()
    raw = _raw_health(server.port)
    assert raw.startswith(b"HTTP/1.1 200"), raw[:200]
    body = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert body["data"]["instance"] != before  # answered by the new worker
    assert body["data"]["restarts_last_hour"] == 1
    assert time.monotonic() - started < 30


def test_fresh_server_reports_no_restarts(server):
    data = _health(server)
    assert data["restarts_last_hour"] == 0
    assert data["last_restart"] is None
    info = json.loads(server.cli("server", "status", "--db", str(server.db), "--json").stdout)
    assert info["restarts_last_hour"] == 0


def test_a_worker_killed_while_the_server_starts_is_restarted(tmp_path):
    srv = init_server(tmp_path / "home", {"worker_restart_max_delay_seconds": "1"})
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*fazt_cmd(), "server", "start", "--port", str(srv.port), "--db", str(srv.db)],
            env={**os.environ, "FAZT_HOME": str(srv.home)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # The first worker dies before it reports ready (an OOM kill during start-up).
        (first,) = wait_for(lambda: child_pids(proc.pid), 60, what="the first worker")
        os.kill(first, signal.SIGKILL)
        data = wait_for(lambda: proc.poll() is None and _health(srv), 60, what="a new worker")
        assert proc.poll() is None, log.read_text()
        assert data["restarts_last_hour"] == 1
        assert "cannot start" not in log.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        srv.http.close()
