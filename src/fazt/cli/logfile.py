"""The log of a server started with `fazt server start --background`: `<data dir>/fazt.log`.

The server's stdout and stderr are a pipe; `python -m fazt.cli.logfile FILE MAX_BYTES`, a
process that imports nothing else, copies the pipe into the file. When the file would grow
past MAX_BYTES it becomes `fazt.log.1` (replacing the older one) and a new file starts, so
the log never holds more than twice MAX_BYTES. It exits when the server's last process
closes the pipe. `fazt server logs` reads the two files.
"""

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024
NAME = "fazt.log"
CHUNK = 65536


def log_path(db_path: Path) -> Path:
    """The log file next to the database it serves."""
    return db_path.parent / NAME


def older(path: Path) -> Path:
    return path.with_name(path.name + ".1")


class RotatingFile:
    """Appends bytes to `path` (mode 0600: a first start's banner has a URL and pid, and
    logs can carry app data), starting afresh as `path.1` would fill it past `max_bytes`."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path, self.max_bytes = path, max_bytes
        self.fd = self._open()

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, data: bytes) -> None:
        while data:
            size = os.fstat(self.fd).st_size
            if size and size + len(data) > self.max_bytes:
                self._rotate()
            piece, data = data[: self.max_bytes], data[self.max_bytes :]
            os.write(self.fd, piece)

    def _rotate(self) -> None:
        os.close(self.fd)
        os.replace(self.path, older(self.path))
        self.fd = self._open()

    def close(self) -> None:
        os.close(self.fd)


def pump(fd: int, out: RotatingFile) -> None:
    """Copy `fd` into `out` until every writer has closed it."""
    while chunk := os.read(fd, CHUNK):
        out.write(chunk)


def last_lines(path: Path, count: int) -> list[str]:
    """The newest `count` lines of the log (reaching into `fazt.log.1` if needed)."""
    lines: list[str] = []
    for part in (path, older(path)):
        if len(lines) >= count or not part.exists():
            break
        lines = part.read_text(errors="replace").splitlines() + lines
    return lines[-count:]


def follow(path: Path, interval: float = 0.25) -> Iterator[str]:
    """Text appended to the log from now on, across rotations, until interrupted."""
    handle = open(path, errors="replace")  # noqa: SIM115 (reopened on rotation)
    handle.seek(0, os.SEEK_END)
    try:
        while True:
            text = handle.read()
            if text:
                yield text
                continue
            try:
                rotated = os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                rotated = False  # between the rename and the new file
            if rotated:
                if rest := handle.read():  # written just before the rename
                    yield rest
                handle.close()
                handle = open(path, errors="replace")  # noqa: SIM115
                continue
            time.sleep(interval)  # a file has no readiness to wait on: poll it
    finally:
        handle.close()


if __name__ == "__main__":
    pump(0, RotatingFile(Path(sys.argv[1]), int(sys.argv[2])))
