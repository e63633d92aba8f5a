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
                raise AlreadyServing(
                    f"{host}:{port} is already in use ({port_holder(port)}); "
                    "choose another port with --port"
                ) from None
            raise


def running_pid(db_path: Path) -> int | None:
    """The pid of the server holding `<db>.lock`, or None when no server holds it."""
    lock = Path(f"{db_path}.lock")
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            # A shared lock is granted only when no server holds the exclusive one.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def port_holder(port: int) -> str:
    """Who listens on `port`, e.g. "held by pid 12 (nginx)", from /proc; best effort."""
    inodes = _listening_inodes(port)
    if not inodes:
        return "its owner could not be found"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # another user's process: not permitted
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return f"held by pid {pid} ({_comm(pid)})"
    return "held by a process of another user, which this user may not inspect"


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` (any address), from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the inode.
            listening = len(fields) > 9 and fields[3] == "0A"
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found


def _comm(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "unknown"
