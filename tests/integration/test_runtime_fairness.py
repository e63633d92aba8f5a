"""One app saturated with slow requests does not starve another app's /api: over real HTTP,
with more of the slow app's requests than fit in its queue."""

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import running_server, wait_for, write_site

# Two workers: the slow app may hold one of them while the other app is about.
SETTINGS = {"runtime_workers": "2", "runtime_queue": "4"}
SLOW = "const end = Date.now() + 500;\nwhile (Date.now() < end) {}\n({slow: true})\n"
CLIENTS = 12  # more than the workers and the slow app's queue together
BOUND = 1.5  # generous for a loaded CI machine; the old single FIFO answered 503 or ~2 s


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("fair")
    with running_server(root / "home", SETTINGS) as server:
        server.deploy(write_site(root / "slow", {"api/main.js": SLOW}), "slow")
        server.deploy(write_site(root / "fast", {"api/main.js": "({fast: true})\n"}), "fast")
        yield server


class SlowLoad:
    """CLIENTS threads sending GET /api to slow.localhost back to back until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.codes: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client) for _ in range(CLIENTS)]

    def client(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                code = client.get(self.url + "/api", headers={"host": "slow.localhost"})
                with self.lock:
                    self.codes[code.status_code] += 1
                if code.status_code == 503:
                    self.stop.wait(0.05)  # a client backing off, not synchronisation

    def __enter__(self) -> "SlowLoad":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def test_a_saturated_app_does_not_starve_another(srv, tmp_path: Path):
    assert srv.get("/api", host="fast.localhost").json() == {"fast": True}
    with SlowLoad(srv.url) as load:
        # the slow app has answered, so its queue is full of requests behind these
        wait_for(lambda: load.codes[200] >= 2, 20, what="the slow app's first answers")
        timings = []
        for _ in range(5):
            started = time.monotonic()
            r = srv.get("/api", host="fast.localhost")
            timings.append(time.monotonic() - started)
            assert r.status_code == 200, (r.status_code, r.text, dict(load.codes))
            assert r.json() == {"fast": True}
        assert max(timings) < BOUND, (timings, dict(load.codes))
        # the slow app was saturated: more of its requests than fit were turned away
        wait_for(lambda: load.codes[503] > 0, 10, what="the slow app's queue to overflow")
    assert set(load.codes) <= {200, 503}, dict(load.codes)
