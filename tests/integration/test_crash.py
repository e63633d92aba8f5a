"""kill -9 in the middle of a deploy: after a restart on the same database the site serves
the old deployment (or, once committed, the new one) completely, and the file is sound."""

import hashlib
import io
import random
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import FaztServer, preview_label, running_server, wait_for

SITE = "crashy"
KiB, MiB = 1024, 1024 * 1024


def files_for(tag: str, count: int, size: int, seed: int) -> dict[str, bytes]:
    """`count` incompressible files, plus an index page naming the version."""
    rnd = random.Random(seed)
    files = {f"assets/f{i:03}.bin": rnd.randbytes(size) for i in range(count)}
    files["index.html"] = f"<h1>{tag}</h1>".encode()
    return files


V1 = {
    **files_for("v1", 6, 300 * KiB, seed=1),
    "big.bin": random.Random(2).randbytes(3 * MiB),
    "css/site.css": b"body { color: red }",
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return buf.getvalue()


def multipart(site: str, zipped: bytes, boundary: str = "fazt-crash-boundary") -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="site_name"\r\n\r\n{site}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="site.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    return head + zipped + f"\r\n--{boundary}--\r\n".encode()


def zip_headers(srv: FaztServer, body: bytes) -> dict[str, str]:
    return {
        "authorization": f"Bearer {srv.token}",
        "content-type": "multipart/form-data; boundary=fazt-crash-boundary",
        "content-length": str(len(body)),
    }


def served(srv: FaztServer, files: dict[str, bytes]) -> bool:
    """True if every file of `files` is served byte for byte."""
    for path, data in files.items():
        r = srv.get("/" + path, host=f"{SITE}.localhost:{srv.port}")
        if r.status_code != 200 or r.content != data:
            return False
    return True


def live_id(srv: FaztServer) -> int | None:
    return srv.api("GET", f"/api/apps/{SITE}").json()["data"]["live_deployment_id"]


def check_database(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # every ready deployment still has every one of its blobs
        dangling = conn.execute(
            "SELECT COUNT(*) FROM deployment_files f JOIN deployments d "
            "ON d.id = f.deployment_id WHERE d.state = 'ready' AND NOT EXISTS "
            "(SELECT 1 FROM blobs b WHERE b.sha256 = f.sha256)"
        ).fetchone()[0]
        assert dangling == 0
        live_ok = conn.execute(
            "SELECT COUNT(*) FROM sites s JOIN deployments d ON d.id = s.live_deployment_id "
            "WHERE d.state != 'ready' OR d.site != s.name"
        ).fetchone()[0]
        assert live_ok == 0
    finally:
        conn.close()


def wal_size(srv: FaztServer) -> int:
    wal = Path(f"{srv.db}-wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.fixture
def crashy(tmp_path) -> Iterator[tuple[FaztServer, int]]:
    """A server with V1 live on `crashy`; yields (server, V1's deployment id)."""
    with running_server(tmp_path / "home") as srv:
        r = srv.api(
            "POST",
            "/api/deploy",
            data={"site_name": SITE},
            files={"file": ("v1.zip", make_zip(V1), "application/zip")},
        )
        assert r.status_code == 200, r.text
        assert served(srv, V1)
        yield srv, r.json()["data"]["deployment_id"]


def restart_after_kill(srv: FaztServer) -> None:
    srv.kill()  # SIGKILL, by pid
    assert srv.proc.returncode == -9
    srv.start()


def after_restart_deploys_still_work(srv: FaztServer) -> None:
    v3 = {"index.html": b"<h1>v3 after the crash</h1>"}
    r = srv.api(
        "POST",
        "/api/deploy",
        data={"site_name": SITE},
        files={"file": ("v3.zip", make_zip(v3), "application/zip")},
    )
    assert r.status_code == 200, r.text
    assert served(srv, v3)
    check_database(srv.db)


def test_kill_during_incremental_upload(crashy):
    srv, v1_id = crashy
    v2 = files_for("v2", 40, 64 * KiB, seed=3)
    auth = {"authorization": f"Bearer {srv.token}"}
    manifest = [{"path": p, "sha256": sha(d), "size": len(d)} for p, d in v2.items()]
    r = srv.api("POST", f"/api/apps/{SITE}/deployments", json={"files": manifest})
    assert r.status_code == 201
    pending = r.json()["data"]["deployment_id"]
    missing = r.json()["data"]["missing"]
    assert len(missing) == len(v2)
    by_sha = {sha(d): d for d in v2.values()}
    uploaded = missing[:20]
    for digest in uploaded:
        assert srv.api("PUT", f"/api/blobs/{digest}", content=by_sha[digest]).status_code == 201

    # one more blob is half-way through its upload when the server dies
    half_sent, killed = threading.Event(), threading.Event()
    in_flight = missing[20]

    def body() -> Iterator[bytes]:
        data = by_sha[in_flight]
        yield data[: len(data) // 2]
        half_sent.set()
        killed.wait(20)
        yield data[len(data) // 2 :]

    outcome: list[object] = []

    def put() -> None:
        try:
            outcome.append(
                httpx.put(
                    f"{srv.url}/api/blobs/{in_flight}",
                    content=body(),
                    headers={**auth, "content-length": str(len(by_sha[in_flight]))},
                    timeout=20,
                )
            )
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=put)
    thread.start()
    try:
        assert half_sent.wait(20)
        restart_after_kill(srv)
    finally:
        killed.set()
        thread.join(30)
    assert isinstance(outcome[0], httpx.HTTPError)  # it never completed

    assert live_id(srv) == v1_id
    assert served(srv, V1)
    check_database(srv.db)
    preview = srv.get("/", host=f"{preview_label(srv, SITE, pending)}.localhost:{srv.port}")
    assert preview.status_code == 404
    history = srv.api("GET", f"/api/apps/{SITE}/deployments").json()["data"]
    assert [d["id"] for d in history] == [v1_id]

    # what was committed before the crash is kept: only the rest needs uploading
    r = srv.api("POST", f"/api/apps/{SITE}/deployments", json={"files": manifest})
    retry = r.json()["data"]
    assert set(retry["missing"]) == set(missing) - set(uploaded)
    for digest in retry["missing"]:
        assert srv.api("PUT", f"/api/blobs/{digest}", content=by_sha[digest]).status_code == 201
    r = srv.api("POST", f"/api/deployments/{retry['deployment_id']}/finalize", json={})
    assert r.status_code == 200, r.text
    assert served(srv, v2)
    after_restart_deploys_still_work(srv)


def _zip_upload_in_thread(srv: FaztServer, body: bytes, half_sent, release, outcome) -> None:
    def chunks() -> Iterator[bytes]:
        step = 256 * KiB
        for offset in range(0, len(body), step):
            if half_sent is not None and offset >= len(body) // 2 and not half_sent.is_set():
                half_sent.set()
                release.wait(20)
            yield body[offset : offset + step]

    try:
        outcome.append(
            httpx.post(
                f"{srv.url}/api/deploy",
                content=chunks(),
                headers=zip_headers(srv, body),
                timeout=60,
            )
        )
    except httpx.HTTPError as exc:
        outcome.append(exc)


def test_kill_during_zip_upload(crashy):
    srv, v1_id = crashy
    v2 = files_for("v2", 24, 512 * KiB, seed=4)
    body = multipart(SITE, make_zip(v2))
    half_sent, release, outcome = threading.Event(), threading.Event(), []
    thread = threading.Thread(
        target=_zip_upload_in_thread, args=(srv, body, half_sent, release, outcome)
    )
    thread.start()
    try:
        assert half_sent.wait(20)
        restart_after_kill(srv)
    finally:
        release.set()
        thread.join(60)
    assert isinstance(outcome[0], httpx.HTTPError)

    assert live_id(srv) == v1_id
    assert served(srv, V1)
    history = srv.api("GET", f"/api/apps/{SITE}/deployments").json()["data"]
    assert [d["id"] for d in history] == [v1_id]
    check_database(srv.db)
    after_restart_deploys_still_work(srv)


def test_kill_while_the_zip_is_being_written(crashy):
    """The upload is complete and the writer is storing 32 MB of blobs: kill it then."""
    srv, v1_id = crashy
    v2 = files_for("v2", 32, 1 * MiB, seed=5)
    body = multipart(SITE, make_zip(v2))
    baseline = wal_size(srv)
    outcome: list[object] = []
    thread = threading.Thread(target=_zip_upload_in_thread, args=(srv, body, None, None, outcome))
    thread.start()
    try:
        # the WAL grows while the deploy transaction writes; the request has not returned
        wait_for(
            lambda: outcome or wal_size(srv) > baseline + 8 * MiB,
            deadline=30,
            interval=0.001,
            what="the deploy transaction to start writing",
        )
        answered_before_kill = list(outcome)
        restart_after_kill(srv)
    finally:
        thread.join(60)

    live = live_id(srv)
    if answered_before_kill:  # too late to interrupt it: then it must have succeeded
        assert answered_before_kill[0].status_code == 200, answered_before_kill[0]
        assert live == answered_before_kill[0].json()["data"]["deployment_id"]
    if live == v1_id:
        assert served(srv, V1)
        history = srv.api("GET", f"/api/apps/{SITE}/deployments").json()["data"]
        assert [d["id"] for d in history] == [v1_id]
    else:  # the commit made it before the kill: then all of it did
        assert live > v1_id
        assert served(srv, v2)
    check_database(srv.db)
    after_restart_deploys_still_work(srv)
