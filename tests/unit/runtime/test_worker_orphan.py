"""A JS worker that cannot reach the server (it closed the pipes while stopping) exits
quietly: no BrokenPipeError traceback in the server's log."""

import subprocess
import sys

from fazt.db import Database


def test_a_worker_whose_server_went_away_exits_quietly(tmp_path):
    path = tmp_path / "data.db"
    with Database.open(path):
        pass
    proc = subprocess.Popen(
        [sys.executable, "-m", "fazt.runtime.worker", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # The server stopped while this worker was starting: both of its pipes are closed
    # before the worker says "ready".
    proc.stdout.close()
    proc.stdin.close()
    err = proc.stderr.read()
    proc.wait(60)
    assert b"Traceback" not in err, err.decode()
    assert b"BrokenPipe" not in err, err.decode()
    assert proc.returncode == 0
