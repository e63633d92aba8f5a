"""The kv path (docs/decisions/010-kv-path.md): JS workers send kv.set to the server,
which commits the writes of all workers in groups. What must still hold: a request reads
its own writes and the writes of requests answered before it; app A's keys never reach
app B; a worker killed right after a kv.set returned loses nothing; a server killed in
the middle of a group commit loses no write whose request was answered."""

import contextlib
import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import FaztServer, child_pids, running_server, wait_for, write_site

MAIN = """
function handler(req) {
  const kv = fazt.storage.kv, q = req.query, p = req.path;
  const get = k => { const v = kv.get(k); return v === undefined ? null : v; };
  if (p === '/api/set') { kv.set(q.k, q.v); return {v: get(q.k)}; }
  if (p === '/api/get') return {v: get(q.k)};
  if (p === '/api/spin') { kv.set(q.k, q.v); while (true) {} }
  if (p === '/api/mixed') {
    kv.set(q.k, 'a'); kv.set(q.k + '-2', 'b');
    const deleted = kv.delete(q.k);
    return {deleted: deleted, keys: kv.list(q.k).map(e => e.key), v: get(q.k)};
  }
  if (p === '/api/ttl') {
    kv.set(q.k, 'short', 1);
    const t = Date.now(); while (Date.now() - t < 5) {}
    return {v: get(q.k)};
  }
  return {status: 404, body: 'no'};
}
handler(request);
"""
SETTINGS = {"runtime_timeout_ms": "1500"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    root = tmp_path_factory.mktemp("kvpath")
    with running_server(root / "home", SETTINGS) as server:
        for site in ("kva", "kvb"):
            write_site(root / site, {"api/main.js": MAIN})
            server.deploy(root / site, site)
        yield server


def call(srv: FaztServer, site: str, path: str, **params: str) -> httpx.Response:
    return srv.get(path, host=f"{site}.localhost", params=params)


def value(srv: FaztServer, site: str, key: str):
    r = call(srv, site, "/api/get", k=key)
    assert r.status_code == 200, r.text
    return r.json()["v"]


def js_workers(srv: FaztServer) -> list[int]:
    found = []
    for worker in child_pids(srv.proc.pid):
        for pid in child_pids(worker):
            if b"fazt.runtime.worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


def test_reads_see_the_requests_own_writes_and_earlier_answered_ones(srv):
    for i in range(30):  # sequential requests land on different workers
        r = call(srv, "kva", "/api/set", k="counter", v=f"v{i}")
        assert r.status_code == 200 and r.json() == {"v": f"v{i}"}, r.text
        assert value(srv, "kva", "counter") == f"v{i}"
        assert value(srv, "kvb", "counter") is None


def test_delete_and_list_after_sets_in_one_request(srv):
    r = call(srv, "kva", "/api/mixed", k="m")
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": True, "keys": ["m-2"], "v": None}
    assert value(srv, "kva", "m-2") == "b"


def test_a_pending_write_expires_on_time(srv):
    r = call(srv, "kva", "/api/ttl", k="brief")
    assert r.status_code == 200 and r.json() == {"v": None}, r.text


def test_apps_never_see_each_others_keys_under_concurrent_writes(srv):
    failures: list[str] = []

    def writer(site: str, n: int) -> None:
        for i in range(n):
            r = call(srv, site, "/api/set", k="secret", v=f"{site}-{i}")
            if r.status_code != 200 or r.json()["v"] != f"{site}-{i}":
                failures.append(f"{site} set: {r.status_code} {r.text}")

    def reader(site: str, other: str, n: int) -> None:
        for _ in range(n):
            v = value(srv, site, "secret")
            if v is not None and not v.startswith(f"{site}-"):
                failures.append(f"{site} read {other}'s value {v}")

    threads = [
        threading.Thread(target=writer, args=("kva", 40)),
        threading.Thread(target=writer, args=("kva", 40)),
        threading.Thread(target=reader, args=("kvb", "kva", 60)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    call(srv, "kvb", "/api/set", k="secret", v="kvb-own")
    assert value(srv, "kvb", "secret") == "kvb-own"
    assert value(srv, "kva", "secret").startswith("kva-")


def test_a_worker_killed_after_a_set_loses_nothing(srv):
    # Killed by the server at the deadline, while spinning after the set.
    r = call(srv, "kva", "/api/spin", k="spun", v="1")
    assert r.status_code == 504, r.text
    assert value(srv, "kva", "spun") == "1"
    # Killed from outside: the write is committed while the worker still spins (it
    # left the worker when kv.set returned, not when the request ended).
    answers: list[httpx.Response] = []
    t = threading.Thread(
        target=lambda: answers.append(call(srv, "kva", "/api/spin", k="k9", v="9"))
    )
    t.start()

    def written() -> bool:  # (a read may wait behind the spinning request: 504, again)
        r = call(srv, "kva", "/api/get", k="k9")
        return r.status_code == 200 and r.json()["v"] == "9"

    wait_for(written, what="the write while the worker spins")
    for pid in js_workers(srv):  # children of our own server, by pid
        kill(pid)
    t.join()
    assert answers[0].status_code in (500, 502, 504), answers[0].text
    srv.stop()
    srv.start()
    assert value(srv, "kva", "k9") == "9" and value(srv, "kva", "spun") == "1"


def test_server_killed_mid_group_commit_loses_no_answered_write(tmp_path):
    with running_server(tmp_path / "home") as srv:
        write_site(tmp_path / "site", {"api/main.js": MAIN})
        srv.deploy(tmp_path / "site", "kvc")
        answered: dict[str, str] = {}
        stop = threading.Event()

        def load(t: int) -> None:
            client = httpx.Client(timeout=10)
            try:
                for i in range(100_000):
                    if stop.is_set():
                        return
                    key, v = f"t{t}-{i}", f"{t}:{i}"
                    try:
                        r = client.get(
                            f"{srv.url}/api/set",
                            params={"k": key, "v": v},
                            headers={"host": "kvc.localhost"},
                        )
                    except httpx.HTTPError:
                        return  # the server is gone: this request was not answered
                    if r.status_code == 200:
                        answered[key] = v
            finally:
                client.close()

        threads = [threading.Thread(target=load, args=(t,)) for t in range(6)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(answered) >= 300, deadline=60, what="answered writes")
            workers = child_pids(srv.proc.pid)  # the server worker: the writer thread's
            for pid in workers:
                kill(pid)  # in the middle of the load, so most likely of a group commit
            srv.kill()  # and the supervisor, before it starts another worker
        finally:
            stop.set()
            for t in threads:
                t.join()
        conn = sqlite3.connect(srv.db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            stored = dict(conn.execute("SELECT key, value FROM app_kv WHERE app = 'kvc'"))
        finally:
            conn.close()
        lost = [k for k, v in answered.items() if stored.get(k) != f'"{v}"']
        assert lost == [], f"{len(lost)} of {len(answered)} answered writes lost"
        srv.start()
        key = next(iter(answered))
        assert value(srv, "kvc", key) == answered[key]


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
