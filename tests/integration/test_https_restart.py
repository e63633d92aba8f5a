"""HTTPS mode's listeners survive a worker crash like the main port: the supervisor owns the
TLS and redirect ports' sockets too, so a client connecting while a killed worker is
replaced waits in the backlog and is answered, instead of being refused."""

import json
import os
import signal
import socket
import ssl

import pytest

from tests.conftest import child_pids, pid_alive, wait_for
from tests.integration.test_https import (
    DOMAIN,
    https_server,
    pebble,  # noqa: F401 (a fixture)
    root_ca,  # noqa: F401 (a fixture)
    trusting,
    wait_served,
)

ADMIN = f"admin.{DOMAIN}"  # the dashboard's name, which answers /health


@pytest.fixture
def server(pebble, tmp_path):  # noqa: F811
    srv = https_server(tmp_path / "home", pebble)
    try:
        with srv.serving():
            yield srv
    finally:
        srv.http.close()


def _exchange(port: int, host: str, tls: ssl.SSLContext | None = None) -> bytes:
    """GET /health on a fresh connection; raises ConnectionRefusedError if refused."""
    request = f"GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        conn = tls.wrap_socket(raw, server_hostname=host) if tls else raw
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _kill_the_worker(srv) -> None:
    # Issuing the certificate hands over to a fresh worker: wait until only it is left.
    def one_worker() -> list[int] | None:
        workers = child_pids(srv.proc.pid)
        return workers if len(workers) == 1 else None

    (worker,) = wait_for(one_worker, 30, what="one worker")
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: not pid_alive(worker), 10, what="the worker to die")


def test_a_tls_client_connecting_while_the_worker_restarts_gets_an_answer(server, root_ca):  # noqa: F811
    wait_served(server, ADMIN)
    before = json.loads(_exchange(server.port, "localhost").partition(b"\r\n\r\n")[2])
    _kill_the_worker(server)
    # No worker accepts now: the TLS handshake must wait in the supervisor's socket.
    raw = _exchange(server.https_port, ADMIN, trusting(root_ca))
    assert raw.startswith(b"HTTP/1.1 200"), raw[:200]
    body = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert body["data"]["instance"] != before["data"]["instance"]  # the new worker
    assert body["data"]["restarts_last_hour"] == 1


def test_the_redirect_port_waits_too(server):
    _kill_the_worker(server)
    raw = _exchange(server.http_port, DOMAIN)
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]  # an answer (308 or 200), not refused
