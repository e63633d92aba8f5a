"""`fazt deploy` with big files on a real server: streamed in pieces with bounded memory on
the server, resumed after the CLI is killed half way, progress lines when not a terminal.
"""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import fazt_cmd, running_server, wait_for

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("uploads-cli") / "home") as server:
        yield server


def _big_file(folder: Path, name: str, size: int) -> str:
    """A file of random bytes written in pieces; its sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with (folder / name).open("wb") as fh:
        left = size
        while left:
            piece = os.urandom(min(8 * MiB, left))
            digest.update(piece)
            fh.write(piece)
            left -= len(piece)
    (folder / "index.html").write_text("<p>media</p>")
    return digest.hexdigest()


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _worker_pid(srv) -> int:
    with open(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children") as f:
        return int(f.read().split()[0])


def _served_sha(srv, host: str, path: str) -> str:
    digest = hashlib.sha256()
    with srv.http.stream("GET", srv.url + path, headers={"host": host}, timeout=60) as r:
        assert r.status_code == 200
        for piece in r.iter_bytes(MiB):
            digest.update(piece)
    return digest.hexdigest()


def test_a_300_mb_file_deploys_with_the_server_memory_bounded(srv, tmp_path):
    size = 300 * MiB
    sha = _big_file(tmp_path / "site", "video.webm", size)
    worker = _worker_pid(srv)
    baseline, peak, stop = _rss(worker), [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss(worker))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        out = srv.cli("deploy", str(tmp_path / "site"), "--site", "media", "--json", timeout=300)
    finally:
        stop.set()
        sampler.join()
    took = time.monotonic() - started
    result = json.loads(out.stdout)
    assert result["live"] is True and result["uploaded_bytes"] >= size
    growth = peak[0] - baseline
    print(f"300 MB deploy: {took:.1f} s, worker RSS {baseline // MiB} -> {peak[0] // MiB} MB")
    assert growth < 100 * MiB, f"worker RSS grew by {growth // MiB} MB"
    head = srv.get("/video.webm", host="media.localhost", headers={"range": "bytes=-16"})
    assert (
        head.status_code == 206
        and head.headers["content-range"] == f"bytes {size - 16}-{size - 1}/{size}"
    )
    assert _served_sha(srv, "media.localhost", "/video.webm") == sha


def _committed(db: Path) -> tuple[int, int] | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT received, size FROM uploads").fetchone()
    finally:
        conn.close()
    return row


def test_a_killed_deploy_resumes_where_it_stopped(srv, tmp_path):
    size = 256 * MiB
    sha = _big_file(tmp_path / "site", "big.iso", size)
    env = {**os.environ, "FAZT_HOME": str(srv.home), "NO_COLOR": "1"}
    cmd = [*fazt_cmd(), "deploy", str(tmp_path / "site"), "--site", "resumed", "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(
            lambda: (row := _committed(srv.db)) is not None and row[0] >= size * 0.45,
            deadline=120,
            interval=0.01,
            what="half the upload to be committed",
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    before = _committed(srv.db)[0]
    assert before < size, "the deploy finished before it could be killed"
    out = srv.cli("deploy", str(tmp_path / "site"), "--site", "resumed", "--json", timeout=300)
    result = json.loads(out.stdout)
    print(f"killed at {before / size:.0%}; the rerun sent {result['uploaded_bytes'] / size:.0%}")
    assert result["live"] is True
    assert result["uploaded_bytes"] < 0.6 * size
    assert _committed(srv.db) is None  # the upload became the blob
    assert _served_sha(srv, "resumed.localhost", "/big.iso") == sha


def test_progress_lines_without_a_terminal(srv, tmp_path):
    _big_file(tmp_path / "site", "data.bin", 80 * MiB)
    out = srv.cli("deploy", str(tmp_path / "site"), "--site", "lines", timeout=300)
    assert "Live:" in out.stdout
    # Not a terminal: no bar drawing codes, plain lines from the start to the end.
    assert "\x1b[" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("data.bin:")]
    assert lines[0].startswith("data.bin: 0% (0 B of 80.0 MB"), out.stderr
    assert lines[-1].startswith("data.bin: 100% (80.0 MB of 80.0 MB"), out.stderr
    assert all("/s, " in line and " s left)" in line for line in lines)
    # --json shows no progress at all.
    out = srv.cli("deploy", str(tmp_path / "site"), "--site", "lines2", "--json", timeout=300)
    assert "data.bin" not in out.stderr


def test_a_zip_deploy_refuses_a_file_it_would_hold_whole_in_memory(srv):
    """ZIP deploys read one file at a time into memory: past 256 MB they point to the
    streamed path, though deploy_max_file_bytes (5 GB) would allow the file."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z, z.open("big.bin", "w") as f:
        zeros = bytes(8 * MiB)
        for _ in range(257 // 8 + 1):
            f.write(zeros)
    r = srv.api(
        "POST",
        "/api/deploy",
        files={"file": ("site.zip", buf.getvalue())},
        data={"site_name": "zipped"},
    )
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["code"] == "FILE_TOO_LARGE" and "fazt deploy" in error["message"]
    assert srv.get("/", host="zipped.localhost").status_code == 404


def test_a_blob_sent_whole_is_capped_and_pointed_to_uploads(srv):
    """PUT /api/blobs holds the body in memory: past 64 MB it refuses, naming the way."""
    body = bytes(64 * MiB + 1)
    r = srv.api("PUT", f"/api/blobs/{hashlib.sha256(body).hexdigest()}", content=body)
    assert r.status_code == 413, r.text
    assert "/api/uploads" in r.json()["error"]["message"]


def test_the_cli_rides_out_a_worker_crash_mid_upload(srv, tmp_path):
    """The worker is killed while the file streams in: the CLI retries with backoff, the
    supervisor starts a new worker, and the upload goes on from the committed offset (its
    hash state rebuilt from the stored pieces)."""
    size = 192 * MiB
    sha = _big_file(tmp_path / "site", "crash.bin", size)
    env = {**os.environ, "FAZT_HOME": str(srv.home), "NO_COLOR": "1"}
    cmd = [*fazt_cmd(), "deploy", str(tmp_path / "site"), "--site", "crashed", "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(
            lambda: (row := _committed(srv.db)) is not None and row[0] >= size * 0.3,
            deadline=120,
            interval=0.01,
            what="a third of the upload to be committed",
        )
        crashed_worker = _worker_pid(srv)
        os.kill(crashed_worker, signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["live"] is True
    assert result["uploaded_bytes"] < 1.5 * size  # resumed, not started over
    assert _worker_pid(srv) != crashed_worker
    assert _served_sha(srv, "crashed.localhost", "/crash.bin") == sha
