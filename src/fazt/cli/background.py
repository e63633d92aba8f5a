"""`fazt server start --background`: the same start in a session of its own, logging to
`<data dir>/fazt.log` (fazt.cli.logfile), and this command returns once it serves.

Until the server is ready this command reads its output itself: it shows it (a first
start prints the admin password once) and writes it to the log with the password left
out. Then `python -m fazt.cli.logfile` takes over the pipe, and this command exits.
"""

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import click

from fazt.cli.logfile import MAX_BYTES, RotatingFile

READY_DEADLINE = 180.0  # a first start on a slow machine takes ~35 s
READY = re.compile(rb"^  Listening: ")
SECRET = re.compile(rb"^(\s*Admin password \(shown once, save it now\): ).*$")
AFTER_READY = 0.3  # the banner's last lines (HTTPS) come right after "Listening"


def start(args: list[str], log: Path) -> int:
    """Run `fazt server ARGS` in the background; the exit status for this command."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = RotatingFile(log, MAX_BYTES)
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [sys.executable, "-m", "fazt", "server", *args],
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=write_end,
        start_new_session=True,  # Ctrl-C or closing this terminal does not reach it
    )
    os.close(write_end)
    try:
        ready = _relay_until_ready(read_end, server, out)
    finally:
        out.close()
        if server.poll() is None:
            _hand_over(read_end, log)
        os.close(read_end)
    if server.poll() is not None:
        click.echo(f"The server did not start (exit status {server.returncode}); log: {log}")
        return server.returncode or 1
    if not ready:
        click.echo(
            f"Not serving after {READY_DEADLINE:g} s (pid {server.pid}); it may still be "
            "starting: `fazt server logs --follow`, `fazt server status`."
        )
        return 1
    click.echo(
        f"Running in the background (pid {server.pid}). Log: {log} "
        "(`fazt server logs --follow`); stop it with `fazt server stop`."
    )
    return 0


def _relay_until_ready(fd: int, server: subprocess.Popen, out: RotatingFile) -> bool:
    """Show and log the server's lines until it listens (True), exits or is too slow."""
    deadline = time.monotonic() + READY_DEADLINE
    ready_at: float | None = None
    pending = b""
    while True:
        now = time.monotonic()
        wait = (ready_at + AFTER_READY - now) if ready_at else (deadline - now)
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            out.write(pending)  # a partial line: the log keeps it, the writer continues
            return ready_at is not None
        chunk = os.read(fd, 65536)
        if not chunk:  # the server exited
            out.write(pending)
            server.wait()
            return False
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            sys.stdout.buffer.write(line + b"\n")
            out.write(SECRET.sub(rb"\1(shown on the terminal only)", line) + b"\n")
            if ready_at is None and READY.match(line):
                ready_at = time.monotonic()
        sys.stdout.flush()


def _hand_over(fd: int, log: Path) -> None:
    """Start the log writer on the server's output pipe, in a session of its own."""
    subprocess.Popen(
        [sys.executable, "-m", "fazt.cli.logfile", str(log), str(MAX_BYTES)],
        stdin=fd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
