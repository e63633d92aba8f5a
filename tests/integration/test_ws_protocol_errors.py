"""A WebSocket that breaks the protocol is closed by the server, TCP connection and all:
no connection is left in CLOSE-WAIT, no file descriptor leaks in the worker."""

import pytest

from tests.conftest import running_server, wait_for, write_site
from tests.integration.edge_helpers import (
    closed_by_server,
    frame,
    open_fds,
    worker_pid,
    ws_handshake,
)

FIN_TEXT = 0x81
BAD_FRAMES = {
    "rsv1 set": frame(FIN_TEXT | 0x40, b"hi"),
    "opcode 0x3": frame(0x83, b"hi"),
    "invalid utf-8": frame(FIN_TEXT, b"\xff\xfe\xfd"),
    "oversized ping": frame(0x89, b"x" * 200),  # control frames carry at most 125 bytes
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("wsproto")
    # A long idle timeout: only the protocol error may close these connections.
    with running_server(root / "home", {"ws_idle_seconds": "300"}) as server:
        server.deploy(write_site(root / "chat", {"index.html": "chat"}), "chat")
        yield server


@pytest.mark.parametrize("name", list(BAD_FRAMES))
def test_a_bad_frame_closes_the_tcp_connection(srv, name):
    sock = ws_handshake(srv.port, "chat.localhost")
    try:
        sock.sendall(BAD_FRAMES[name])
        assert closed_by_server(sock, deadline=5), f"{name}: the connection stayed open"
    finally:
        sock.close()


def test_bad_frames_leak_no_file_descriptors(srv):
    pid = worker_pid(srv.proc.pid)
    for _ in range(3):  # warm up: whatever the first connections open once
        sock = ws_handshake(srv.port, "chat.localhost")
        sock.sendall(BAD_FRAMES["rsv1 set"])
        closed_by_server(sock, deadline=5)
        sock.close()
    wait_for(lambda: srv.get("/health").status_code == 200)
    before = open_fds(pid)
    frames = list(BAD_FRAMES.values())
    for i in range(20):
        sock = ws_handshake(srv.port, "chat.localhost")
        sock.sendall(frames[i % len(frames)])
        closed_by_server(sock, deadline=5)
        sock.close()
    wait_for(
        lambda: open_fds(pid) <= before + 2,
        deadline=10,
        what=f"the worker's fds to drop back to {before} (now {open_fds(pid)})",
    )
