"""The supervisor's own fork/exec and command line (fazt.server.supervisor), which replace
subprocess.Popen and argparse there to keep the process small (issue 22)."""

import json
import os
import signal
import sys

import pytest

from fazt.server.supervisor import TimeoutExpired, parse, start_process
from tests.conftest import wait_for

# The child reports what it inherited: which of the fds it is asked about are open, its
# blocked signals, and SIGPIPE's disposition (Python ignores SIGPIPE; exec would keep that).
REPORT = """
import json, os, signal, sys
fds = [int(a) for a in sys.argv[2:]]
open_fds = [fd for fd in fds if os.path.exists(f"/proc/self/fd/{fd}")]
with open(sys.argv[1], "w") as f:
    json.dump({
        "open": open_fds,
        "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "env": os.environ.get("FAZT_TEST_MARK"),
        "ppid": os.getppid(),
    }, f)
"""


def test_the_child_gets_only_the_fds_it_is_given_and_no_blocked_signals(tmp_path):
    out = tmp_path / "report.json"
    given_r, given_w = os.pipe()
    other_r, other_w = os.pipe()
    for fd in (given_r, other_r):
        os.set_inheritable(fd, True)  # inheritable: only start_process keeps it from the child
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP, signal.SIGUSR2})
    try:
        cmd = [sys.executable, "-c", REPORT, str(out), str(given_r), str(other_r)]
        proc = start_process(cmd, {**os.environ, "FAZT_TEST_MARK": "x"}, (given_r,))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for fd in (given_r, given_w, other_r, other_w):
            os.close(fd)
    assert proc.wait(30) == 0
    report = json.loads(out.read_text())
    assert report["open"] == [given_r]  # the other pipe was closed in the child
    assert report["blocked"] == []
    assert report["env"] == "x" and report["ppid"] == os.getpid()
    assert proc.poll() == 0


def test_a_program_that_cannot_be_run_is_an_oserror(tmp_path):
    with pytest.raises(OSError) as raised:
        start_process([str(tmp_path / "no-such-python"), "-c", "pass"], dict(os.environ), ())
    assert raised.value.errno == 2  # ENOENT, from the child's exec


def test_wait_with_a_timeout_and_signals_to_a_started_process():
    proc = start_process([sys.executable, "-c", "import time; time.sleep(60)"], {}, ())
    try:
        with pytest.raises(TimeoutExpired):
            proc.wait(0.2)
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: proc.poll() is not None, 10, what="the child to exit")
        assert proc.returncode == -signal.SIGTERM
        proc.send_signal(signal.SIGTERM)  # reaped: no signal to a pid that may be reused
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_parse_reads_what_exec_supervisor_writes():
    args = parse(
        [
            "--host",
            "127.0.0.1",
            "--port",
            "8080",
            "--db",
            "/d/data.db",
            "--lock-fd",
            "3",
            "--adopt",
            "77",
            "--listen-fd",
            "5",
            "--extra-listen-fd",
            "6",
            "--extra-listen-fd",
            "7",
            "--https-listen",
            "0.0.0.0:443",
        ]
    )
    assert (args.host, args.port, args.db, args.lock_fd) == ("127.0.0.1", 8080, "/d/data.db", 3)
    assert (args.adopt, args.listen_fd, args.extra_listen_fd) == (77, 5, [6, 7])
    assert args.https_listen == ["0.0.0.0:443"]
    bare = parse(["--host", "h", "--port", "1", "--db", "x"])
    assert (bare.lock_fd, bare.adopt, bare.listen_fd, bare.extra_listen_fd) == (
        None,
        None,
        None,
        [],
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--host", "h", "--port", "1"],  # no --db
        ["--host", "h", "--port", "one", "--db", "x"],
        ["--host", "h", "--port", "1", "--db", "x", "--bogus", "1"],
        ["--host", "h", "--port", "1", "--db"],  # a value is missing
    ],
)
def test_parse_refuses_a_bad_command_line(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        parse(argv)
    assert exited.value.code == 2
    assert "bad arguments" in capsys.readouterr().err
