"""The supervisor's side of an upgrade request: a request it cannot use is ignored, and
the server keeps serving (it used to end the supervisor, and its worker with it)."""

import signal

import pytest

from fazt.upgrade.request import request_path
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
