"""`fazt server start` supervises a worker: handover on SIGHUP without a failed request,
no orphan worker when the supervisor is killed, a crashed worker is replaced."""

import os
import signal
import threading

import httpx
import pytest

from tests.conftest import child_pids, get_like_a_browser, pid_alive, wait_for


def _instance(server) -> str:
    return server.get("/health").json()["data"]["instance"]


def test_sighup_hands_over_to_a_new_worker_without_failing_a_request(server):
    before = _instance(server)
    (old_worker,) = child_pids(server.proc.pid)
    failures, ok = [], [0]
    stop = threading.Event()

    retried = [0]

    def get(client: httpx.Client) -> httpx.Response:
        response, again = get_like_a_browser(
            client, server.url + "/health", headers={"host": "localhost"}
        )
        retried[0] += again
        return response

    def load() -> None:
        with httpx.Client(timeout=10) as client:  # one keep-alive connection at a time
            while not stop.is_set():
                try:
                    r = get(client)
                    ok[0] += r.status_code == 200
                    if r.status_code != 200:
                        failures.append(r.status_code)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    thread = threading.Thread(target=load)
    thread.start()
    try:
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "took over (reload)" in server.output(), 30, what="the handover")
        wait_for(lambda: not pid_alive(old_worker), 30, what="the old worker to exit")
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert retried[0] <= 1  # at most the one connection the old worker closed
    assert ok[0] > 20
    assert _instance(server) != before
    assert child_pids(server.proc.pid) != [old_worker]


def test_killing_the_supervisor_takes_its_worker_along(server):
    (worker,) = child_pids(server.proc.pid)
    server.kill()
    wait_for(lambda: not pid_alive(worker), 10, what="the worker to die with its supervisor")


def test_a_crashed_worker_is_replaced(server):
    (worker,) = child_pids(server.proc.pid)
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: "exited with code -9; starting a new one" in server.output(), 15)

    def serving_again():
        try:
            return server.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(serving_again, 30, what="a new worker")
    assert child_pids(server.proc.pid) not in ([], [worker])


def test_sigterm_stops_worker_and_supervisor(server):
    (worker,) = child_pids(server.proc.pid)
    assert server.stop() == 0
    assert not pid_alive(worker)
    assert "fazt stopped" in server.output()


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_ctrl_c_stops_cleanly(server, sig):
    assert server.stop(sig) == 0


def test_stop_while_a_crashed_worker_is_being_replaced(server):
    (worker,) = child_pids(server.proc.pid)
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: "starting a new one" in server.output(), 15, what="the restart")
    assert server.stop() == 0  # promptly: no retry loop, no waiting on a dead worker
    assert "fazt stopped" in server.output()
