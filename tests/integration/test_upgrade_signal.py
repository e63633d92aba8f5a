"""The supervisor's side of an upgrade request: a request it cannot use is ignored and
the server keeps serving (it used to end the supervisor, and its worker with it); a
release that cannot start is rolled back by the supervisor's sequence."""

import signal
import sqlite3
from pathlib import Path

import pytest

from fazt.release.install import point, pointed_version
from fazt.upgrade import records
from fazt.upgrade.request import UpgradeRequest, request_path
from tests.conftest import wait_for


@pytest.mark.parametrize("text", ['{"id": "up_1", "version": "9.9.9"}', "[]"])
def test_an_unusable_upgrade_request_is_ignored(server, text):
    request_path(server.db).write_text(text)
    server.proc.send_signal(signal.SIGUSR2)
    wait_for(lambda: "ignoring upgrade signal" in server.output(), 15, what="the refusal")
    assert server.proc.poll() is None, server.output()
    assert server.get("/health").status_code == 200
    assert not request_path(server.db).exists()  # taken: a second signal does not retry it
    assert server.stop() == 0


def test_a_release_that_cannot_start_is_rolled_back_by_the_supervisor(server, tmp_path):
    """The supervisor's sequence alone: switch `current`, hand over (fails: the new
    release's python does not exist), put `current` back, record why; the old worker
    never stopped serving."""
    root = tmp_path / "root"
    for version in ("1.0.0", "9.9.9"):
        (root / "releases" / version).mkdir(parents=True)
    point(root, "current", "1.0.0")
    conn = sqlite3.connect(server.db, isolation_level=None, timeout=10)
    try:
        upgrade_id = records.create(conn, "1.0.0", "9.9.9")
    finally:
        conn.close()
    before = server.get("/health").json()["data"]["instance"]
    python = str(root / "releases" / "9.9.9" / "bin" / "python")
    UpgradeRequest(upgrade_id, "9.9.9", python, root, str(server.db)).write(request_path(server.db))
    server.proc.send_signal(signal.SIGUSR2)
    record = wait_for(lambda: _finished(server.db, upgrade_id), 30, what="the rollback")
    assert record["status"] == "rolled_back"
    assert record["message"].startswith("9.9.9 did not start: cannot start"), record
    assert [s["step"] for s in record["steps"]] == ["rolled_back"]
    assert pointed_version(root, "current") == "1.0.0"
    assert server.get("/health").json()["data"]["instance"] == before
    assert server.stop() == 0


def _finished(db: Path, upgrade_id: str) -> dict | None:
    conn = sqlite3.connect(db, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        record = records.get(conn, upgrade_id)
    finally:
        conn.close()
    return record if record["finished"] else None


def test_a_step_that_raises_does_not_end_the_supervisor(server, tmp_path):
    # The request names a database that cannot be opened: recording the outcome fails.
    python = str(tmp_path / "nowhere" / "bin" / "python")
    request = UpgradeRequest("up_1", "9.9.9", python, tmp_path, str(tmp_path / "no/such.db"))
    request.write(request_path(server.db))
    server.proc.send_signal(signal.SIGUSR2)
    wait_for(lambda: "upgrade up_1 to 9.9.9 stopped: " in server.output(), 30, what="the log")
    assert server.proc.poll() is None, server.output()
    assert server.get("/health").status_code == 200
    assert server.stop() == 0
