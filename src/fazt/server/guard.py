"""Refuse to start a second server by mistake.

Granian binds with SO_REUSEPORT (what a zero-downtime handover will use), so a second
`fazt server start` on the same port would silently share the traffic, possibly with a
different database. Two checks prevent that: a lock file beside the database, held for
the server's life, and a probe bind of the port without SO_REUSEPORT.
"""

import errno
import fcntl
import os
import socket
from pathlib import Path


class AlreadyServing(RuntimeError):
    pass


class ServerLock:
    """An exclusive flock on `<db>.lock`, holding the owner's pid; released at exit."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(f"{db_path}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyServing(
                f"another fazt server (pid {owner}) is already serving this database; stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    @property
    def fd(self) -> int:
        """The locked descriptor; whoever inherits it holds the lock."""
        assert self._fd is not None, "acquire() first"
        return self._fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def check_port_free(host: str, port: int) -> None:
    """Raise AlreadyServing if anything listens on host:port (even with SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AlreadyServing(f"{host}:{port} is already in use") from None
            raise
