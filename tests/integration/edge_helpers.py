"""Raw-socket helpers for the edge tests: hand-made WebSocket handshakes and frames, the
worker process's pid and open file descriptors."""

import base64
import os
import socket
import time
from pathlib import Path


def worker_pid(supervisor_pid: int) -> int:
    """The serving worker: the supervisor's (only) child process."""
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == supervisor_pid:
            kids.append(int(entry.name))
    assert len(kids) == 1, f"expected one worker, found {kids}"
    return kids[0]


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def ws_handshake(
    port: int, host: str, headers: str = "", source: str = "127.0.0.1"
) -> socket.socket:
    """A WebSocket opened by hand on /ws; fails unless the server answers 101."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, f"closed during the handshake: {answer!r}"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


def frame(first_byte: int, payload: bytes, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    """One client frame (masked, as RFC 6455 requires); first_byte = FIN|RSV|opcode."""
    size = len(payload)
    length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([first_byte]) + length + mask + masked


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Read until the server closes the TCP connection (EOF or reset) or the deadline."""
    end = time.monotonic() + deadline
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
    return False


def read_text(sock: socket.socket, deadline: float = 5) -> str:
    """One small unmasked text frame from the server (what the hub broadcasts here)."""
    sock.settimeout(deadline)

    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "the server closed the connection"
            data += chunk
        return data

    first, size = exactly(2)
    assert first == 0x81 and size < 126, (first, size)
    return exactly(size).decode()
