"""The supervisor gives up on a silent starting worker within its deadline, counted from
the last progress report, and kills it even if it ignores SIGTERM (fazt.server.supervisor).

The "workers" are real processes: small Python scripts standing in for `python -m fazt
server worker`, writing to the ready pipe the supervisor passes them."""

import os
import sys
import time
from pathlib import Path

import pytest

from fazt.server import supervisor
from fazt.server.supervisor import Supervisor, WorkerFailed, bind

HEAD = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a hung worker does not drain either
fd = int(sys.argv[sys.argv.index("--ready-fd") + 1])
def say(word):
    os.write(fd, (word + "\\n").encode())
"""


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text(f"#!{sys.executable}\n{HEAD}\n{body}\n")
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def sup(tmp_path):
    s = Supervisor("127.0.0.1", 0, str(tmp_path / "none.db"), say=lambda line: None)
    sock = bind("127.0.0.1", 0)
    yield s, sock
    sock.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_silent_worker_is_killed_at_the_deadline_even_if_it_ignores_sigterm(sup, tmp_path):
    s, sock = sup
    python = _fake_python(tmp_path, 'say("starting")\ntime.sleep(600)')
    started = time.monotonic()
    with pytest.raises(WorkerFailed, match="did not serve within 1s of silence") as failed:
        s.spawn(python, sock, silence=1.0)
    took = time.monotonic() - started
    # 1 s of silence, then SIGTERM (ignored) and SIGKILL after the grace; the old code
    # waited READY_DEADLINE (60 s) and then a drain deadline (30 s) for this worker.
    assert took < 1.0 + supervisor.GIVE_UP_GRACE + 3, took
    assert _gone(failed.value.pid)


def test_each_progress_report_restarts_the_clock(sup, tmp_path):
    """Three seconds in all, never 1 s silent: it is waited for."""
    s, sock = sup
    body = 'for _ in range(6):\n    say("starting"); time.sleep(0.5)\nsay("ready")\ntime.sleep(600)'
    python = _fake_python(tmp_path, body)
    worker = s.spawn(python, sock, silence=1.0)
    try:
        assert worker.proc.poll() is None
    finally:
        worker.proc.kill()
        worker.proc.wait()


def test_opening_the_database_may_be_silent_for_longer(sup, tmp_path, monkeypatch):
    """A backup and migrations of a big database are one long silent step."""
    monkeypatch.setattr(supervisor, "OPENING_DEADLINE", 5.0)
    s, sock = sup
    python = _fake_python(tmp_path, 'say("opening"); time.sleep(2); say("ready"); time.sleep(600)')
    worker = s.spawn(python, sock, silence=1.0)
    worker.proc.kill()
    worker.proc.wait()
    python = _fake_python(tmp_path, 'say("opened"); time.sleep(2); say("ready"); time.sleep(600)')
    with pytest.raises(WorkerFailed, match="silence"):
        s.spawn(python, sock, silence=1.0)


def test_a_worker_that_exits_before_serving_is_reported_with_its_code(sup, tmp_path):
    s, sock = sup
    python = _fake_python(tmp_path, 'say("starting"); os.close(fd); sys.exit(3)')
    with pytest.raises(WorkerFailed, match="exited with code 3") as failed:
        s.spawn(python, sock, silence=5.0)
    assert failed.value.code == 3


def test_the_handover_deadline_is_a_setting(tmp_path):
    import sqlite3

    db = tmp_path / "s.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)")
    conn.commit()
    assert supervisor.ready_silence(str(db)) == supervisor.READY_SILENCE_DEFAULT == 10
    conn.execute("INSERT INTO settings VALUES ('worker_ready_deadline_seconds', '2.5')")
    conn.commit()
    conn.close()
    assert supervisor.ready_silence(str(db)) == 2.5
