"""`fazt server start --background` and `fazt server logs [--follow] [--lines N]`: a real
detached server, its size-capped log next to the database, and what reads it."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fazt.cli import logfile
from tests.conftest import fazt_cmd, free_port, run_cli, wait_for


def _pids_running(marker: str) -> list[int]:
    """Our own processes whose command line names `marker` (a unique tmp path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline:
                found.append(int(entry.name))
    return found


def _stop(home: Path, pid: int | None) -> None:
    """Stop the background server; SIGKILL its supervisor's session if that fails."""
    if run_cli(home, "server", "stop", check=False).returncode != 0 and pid:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # its own session: supervisor and workers


@pytest.fixture(scope="module")
def bg(tmp_path_factory):
    """A first `fazt server start --background` in a fresh FAZT_HOME."""
    home = tmp_path_factory.mktemp("background") / "home"
    port = free_port()
    out = run_cli(home, "server", "start", "--background", "--port", str(port), check=False)
    match = re.search(r"Running in the background \(pid (\d+)\)", out.stdout)
    pid = int(match.group(1)) if match else None
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        yield home, port, pid, out
    finally:
        _stop(home, pid)


def test_background_start_returns_once_serving_and_shows_the_password_once(bg):
    home, port, pid, out = bg
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    password = re.search(r"Admin password \(shown once, save it now\): (\S+)", out.stdout)
    assert password, out.stdout
    assert f"Log: {home / 'fazt.log'}" in out.stdout
    log = home / "fazt.log"
    text = log.read_text()
    assert f"Listening: 127.0.0.1:{port}" in text
    assert password.group(1) not in text  # the terminal saw it; the log file does not
    assert "Admin password (shown once, save it now): (shown on the terminal only)" in text
    assert log.stat().st_mode & 0o777 == 0o600
    assert os.getsid(pid) == pid  # its own session: closing the terminal does not stop it


def test_logs_shows_the_newest_lines(bg):
    home, port, _, _ = bg
    out = run_cli(home, "server", "logs", "--lines", "2")
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    assert lines[-1].startswith(f"  Listening: 127.0.0.1:{port}")


def test_logs_follow_prints_what_the_server_writes_next_until_ctrl_c(bg):
    home, _, _, _ = bg
    follower = subprocess.Popen(
        [*fazt_cmd(), "server", "logs", "--follow", "-n", "1"],
        env={**os.environ, "FAZT_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = follower.stdout.readline()  # the newest line, printed before following
        assert "Listening:" in first
        restarted = run_cli(home, "server", "restart")  # a new worker prints its banner
        worker = re.search(r"worker (\d+)", restarted.stdout).group(1)
        seen = []
        wait_for(
            lambda: seen.append(follower.stdout.readline()) or f"worker {worker}" in seen[-1],
            deadline=30,
            what="the new worker's banner in the followed log",
        )
        follower.send_signal(signal.SIGINT)  # Ctrl-C
        assert follower.wait(timeout=10) == 0
        assert "Traceback" not in follower.stderr.read()
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


def test_the_log_writer_exits_with_the_server(tmp_path):
    home = tmp_path / "home"
    port = free_port()
    out = run_cli(home, "server", "start", "--background", "--port", str(port))
    pid = int(re.search(r"\(pid (\d+)\)", out.stdout).group(1))
    marker = f"fazt.cli.logfile {home / 'fazt.log'}"
    try:
        assert len(_pids_running(marker)) == 1
    finally:
        _stop(home, pid)
    wait_for(lambda: not _pids_running(marker), deadline=20, what="the log writer to exit")
    assert (home / "fazt.log").read_text().rstrip().endswith("fazt stopped")


def test_a_background_start_that_fails_says_why_and_exits_non_zero(tmp_path):
    home = tmp_path / "home"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run_cli(home, "server", "start", "--background", "--port", str(port), check=False)
    assert out.returncode != 0
    assert "already in use" in out.stdout and "--port" in out.stdout
    assert "did not start" in out.stdout
    assert "already in use" in (home / "fazt.log").read_text()


def test_logs_without_a_background_server_says_where_logs_are(tmp_path):
    out = run_cli(tmp_path, "server", "logs", check=False)
    assert out.returncode == 1
    assert "fazt server start --background" in out.stderr and "fazt service logs" in out.stderr


def test_the_log_writer_caps_the_file_and_keeps_one_older(tmp_path):
    log = tmp_path / "fazt.log"
    lines = [b"line %04d\n" % n for n in range(400)]  # 4000 bytes
    data = b"".join(lines)
    writer = subprocess.run(
        [sys.executable, "-m", "fazt.cli.logfile", str(log), "1000"],
        input=data,
        capture_output=True,
        timeout=30,
    )
    assert writer.returncode == 0, writer.stderr
    current, previous = log.read_bytes(), logfile.older(log).read_bytes()
    assert 0 < len(current) <= 1000 and 0 < len(previous) <= 1000
    assert data.endswith(previous + current)  # nothing lost between the two files
    assert not (tmp_path / "fazt.log.2").exists()
    newest = logfile.last_lines(log, 150)  # reaches into fazt.log.1
    assert newest == [line.decode().rstrip("\n") for line in lines[-150:]]
