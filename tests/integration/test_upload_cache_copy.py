"""With blob_cache_from_uploads, a finished upload's disk cache copy is written from the
upload stream (fazt.api.uploads staging, fazt.hosting.blob_cache.adopt): it is in place
before anyone asks for the file, and only when this worker wrote and hashed every byte of
it in order. Off (the default), the copy is made from SQLite on first use."""

import hashlib
import os
from pathlib import Path

from tests.conftest import FaztServer, running_server

MiB = 1024 * 1024
ON = {"blob_cache_from_uploads": "1"}


def _upload(srv: FaztServer, site: str, data: bytes, cuts: list[int], sha: str = "") -> dict:
    """Deploy (pending) one big file and send it in requests ending at `cuts`."""
    sha = sha or hashlib.sha256(data).hexdigest()
    files = [{"path": "big.bin", "sha256": sha, "size": len(data)}]
    started = srv.api("POST", f"/api/apps/{site}/deployments", json={"files": files})
    assert started.status_code == 201, started.text
    up = srv.api(
        "POST", "/api/uploads", json={"site": site, "sha256": sha, "size": len(data)}
    ).json()["data"]
    start, answer = up["offset"], None
    for end in cuts:
        answer = srv.api(
            "PUT",
            f"/api/uploads/{up['id']}",
            content=data[start:end],
            headers={"content-range": f"bytes {start}-{end - 1}/{len(data)}"},
        )
        start = end
    return {"deployment": started.json()["data"]["deployment_id"], "last": answer}


def _cache(srv: FaztServer) -> Path:
    return Path(srv.db).parent / "blob-cache"


def _copy_of(srv: FaztServer, sha: str) -> Path:
    return _cache(srv) / sha[:2] / sha


def _staging_files(srv: FaztServer) -> list[str]:
    folder = _cache(srv)
    return sorted(p.name for p in folder.glob("tmp-*")) if folder.exists() else []


def test_the_cache_copy_is_there_before_the_first_request(tmp_path: Path) -> None:
    data = os.urandom(9 * MiB + 5)
    sha = hashlib.sha256(data).hexdigest()
    with running_server(tmp_path / "home", ON) as srv:
        # Two requests (a broken connection resumed), pieces not on boundaries.
        sent = _upload(srv, "video", data, [5 * MiB + 3, len(data)])
        assert sent["last"].json()["data"]["complete"] is True, sent["last"].text
        assert _copy_of(srv, sha).read_bytes() == data  # before any GET
        assert _staging_files(srv) == []
        r = srv.api("POST", f"/api/deployments/{sent['deployment']}/finalize", json={})
        assert r.status_code == 200, r.text
        served = srv.get("/big.bin", host="video.localhost")
        assert served.status_code == 200 and served.content == data
        part = srv.get("/big.bin", host="video.localhost", headers={"range": "bytes=7-16"})
        assert part.status_code == 206 and part.content == data[7:17]


def test_no_copy_from_a_stream_this_worker_did_not_see_whole(tmp_path: Path) -> None:
    """A restart in the middle: the bytes before it were hashed from SQLite, not written
    to a staging file by this worker, so the copy is made from SQLite on first use."""
    data = os.urandom(6 * MiB + 1)
    sha = hashlib.sha256(data).hexdigest()
    with running_server(tmp_path / "home", ON) as srv:
        sent = _upload(srv, "resumed", data, [4 * MiB + 1])
        srv.stop()
        srv.start()
        up = srv.api(
            "POST", "/api/uploads", json={"site": "resumed", "sha256": sha, "size": len(data)}
        ).json()["data"]
        r = srv.api(
            "PUT",
            f"/api/uploads/{up['id']}",
            content=data[up["offset"] :],
            headers={"content-range": f"bytes {up['offset']}-{len(data) - 1}/{len(data)}"},
        )
        assert r.json()["data"]["complete"] is True, r.text
        assert not _copy_of(srv, sha).exists()
        assert _staging_files(srv) == []
        r = srv.api("POST", f"/api/deployments/{sent['deployment']}/finalize", json={})
        assert r.status_code == 200, r.text
        assert srv.get("/big.bin", host="resumed.localhost").content == data
        assert _copy_of(srv, sha).read_bytes() == data  # made on first use, as before


def test_a_hash_mismatch_leaves_no_copy_and_no_staging_file(tmp_path: Path) -> None:
    data = os.urandom(5 * MiB)
    claimed = hashlib.sha256(b"not these bytes").hexdigest()
    with running_server(tmp_path / "home", ON) as srv:
        sent = _upload(srv, "liar", data, [len(data)], sha=claimed)
        assert sent["last"].json()["error"]["code"] == "HASH_MISMATCH"
        assert not _copy_of(srv, claimed).exists()
        assert not _copy_of(srv, hashlib.sha256(data).hexdigest()).exists()
        assert _staging_files(srv) == []


def test_off_by_default_the_copy_comes_on_first_use(tmp_path: Path) -> None:
    data = os.urandom(9 * MiB)
    sha = hashlib.sha256(data).hexdigest()
    with running_server(tmp_path / "home") as srv:
        sent = _upload(srv, "plain", data, [len(data)])
        assert sent["last"].json()["data"]["complete"] is True
        assert not _copy_of(srv, sha).exists() and _staging_files(srv) == []
        r = srv.api("POST", f"/api/deployments/{sent['deployment']}/finalize", json={})
        assert r.status_code == 200, r.text
        assert srv.get("/big.bin", host="plain.localhost").content == data
