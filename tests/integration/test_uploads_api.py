"""Resumable uploads (/api/uploads) on a real server: pieces, resume, limits, refusals.

A big file arrives in pieces at the committed offset; once whole and verified it is a blob
a deployment can be finalized with, served byte for byte (also by range). Lies about the
size or the hash, bad Content-Range headers and limits are refused and publish nothing.
"""

import hashlib
import os
import sqlite3

import pytest

from tests.conftest import running_server

MiB = 1024 * 1024
LIMITS = {
    "deploy_max_file_bytes": str(24 * MiB),
    "deploy_max_site_bytes": str(30 * MiB),
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("uploads") / "home", LIMITS) as server:
        yield server


def _blob(size: int, seed: int = 0) -> tuple[bytes, str]:
    data = os.urandom(size) if seed == 0 else bytes([seed]) * size
    return data, hashlib.sha256(data).hexdigest()


def _start(srv, site: str, data: bytes, sha: str | None = None, size: int | None = None):
    body = {"site": site, "sha256": sha or hashlib.sha256(data).hexdigest()}
    body["size"] = len(data) if size is None else size
    return srv.api("POST", "/api/uploads", json=body)


def _put(srv, upload_id: int, data: bytes, start: int, total: int, **headers):
    rng = f"bytes {start}-{start + len(data) - 1}/{total}"
    return srv.api(
        "PUT",
        f"/api/uploads/{upload_id}",
        content=data,
        headers={"content-range": rng, **headers},
    )


def _deploy_with(srv, site: str, sha: str, size: int) -> dict:
    files = [{"path": "big.bin", "sha256": sha, "size": size}]
    r = srv.api("POST", f"/api/apps/{site}/deployments", json={"files": files})
    assert r.status_code == 201, r.text
    return r.json()["data"]


def test_upload_in_pieces_resumes_and_publishes(srv):
    data, sha = _blob(9 * MiB + 12345)
    started = _deploy_with(srv, "bigone", sha, len(data))
    assert started["missing"] == [sha]
    r = _start(srv, "bigone", data)
    assert r.status_code == 201, r.text
    up = r.json()["data"]
    assert (up["offset"], up["complete"]) == (0, False)
    cut = 5 * MiB + 7  # not a piece boundary
    r = _put(srv, up["id"], data[:cut], 0, len(data))
    assert r.status_code == 200 and r.json()["data"]["offset"] == cut, r.text
    # Asking again for the same blob resumes the same upload; GET and HEAD tell the offset.
    again = _start(srv, "bigone", data)
    assert again.status_code == 200 and again.json()["data"]["id"] == up["id"]
    assert _start(srv, "fresh", data).status_code == 201  # another site: its own upload
    assert again.json()["data"]["offset"] == cut
    head = srv.api("HEAD", f"/api/uploads/{up['id']}")
    assert head.headers["upload-offset"] == str(cut)
    # The wrong offset is refused before any byte is read, naming the right one.
    r = _put(srv, up["id"], data[:10], 0, len(data))
    assert r.status_code == 409 and r.json()["error"]["code"] == "OFFSET_MISMATCH"
    assert str(cut) in r.json()["error"]["message"]
    r = _put(srv, up["id"], data[cut:], cut, len(data))
    assert r.status_code == 200, r.text
    assert r.json()["data"] | {"id": None} == {
        "id": None,
        "site": "bigone",
        "sha256": sha,
        "size": len(data),
        "offset": len(data),
        "complete": True,
    }
    assert srv.api("GET", f"/api/uploads/{up['id']}").status_code == 404
    r = srv.api("POST", f"/api/deployments/{started['deployment_id']}/finalize", json={})
    assert r.status_code == 200, r.text
    served = srv.get("/big.bin", host="bigone.localhost")
    assert served.status_code == 200 and served.content == data
    raw = srv.api("GET", "/api/sites/bigone/files/big.bin")  # v0.9's download, streamed
    assert raw.status_code == 200 and raw.content == data
    part = srv.get("/big.bin", host="bigone.localhost", headers={"range": "bytes=4194300-4194400"})
    assert part.status_code == 206 and part.content == data[4194300:4194401]
    # Stored in pieces of at most 4 MiB, under the blob's row.
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        chunk_set, inline = conn.execute(
            "SELECT chunk_set, length(data) FROM blobs WHERE sha256 = ?", (sha,)
        ).fetchone()
        sizes = [
            r[0]
            for r in conn.execute(
                "SELECT length(data) FROM blob_chunks WHERE chunk_set = ? ORDER BY start",
                (chunk_set,),
            )
        ]
    finally:
        conn.close()
    assert inline == 0 and sum(sizes) == len(data) and max(sizes) <= 4 * MiB


def test_a_stored_blob_needs_no_upload(srv):
    data, _ = _blob(5 * MiB)
    up = _start(srv, "again", data).json()["data"]
    assert _put(srv, up["id"], data, 0, len(data)).status_code == 200
    r = _start(srv, "again", data)
    assert r.status_code == 200 and r.json()["data"]["complete"] is True


def test_hash_mismatch_discards_and_nothing_goes_live(srv):
    data, _ = _blob(5 * MiB)
    claimed = hashlib.sha256(b"something else").hexdigest()
    started = _deploy_with(srv, "liar", claimed, len(data))
    up = _start(srv, "liar", data, sha=claimed).json()["data"]
    r = _put(srv, up["id"], data, 0, len(data))
    assert r.status_code == 400 and r.json()["error"]["code"] == "HASH_MISMATCH", r.text
    assert srv.api("GET", f"/api/uploads/{up['id']}").status_code == 404
    r = srv.api("POST", f"/api/deployments/{started['deployment_id']}/finalize", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "BLOBS_MISSING"
    assert srv.get("/big.bin", host="liar.localhost").status_code == 404
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:  # its pieces are gone too
        assert (
            conn.execute(
                "SELECT COUNT(*) FROM blob_chunks WHERE chunk_set = ?", (up["id"],)
            ).fetchone()[0]
            == 0
        )
    finally:
        conn.close()


def test_more_bytes_than_declared_are_refused(srv):
    data, _ = _blob(1 * MiB)
    up = _start(srv, "longer", data).json()["data"]
    # The range fits the declared size but the body is longer than the range.
    r = srv.api(
        "PUT",
        f"/api/uploads/{up['id']}",
        content=iter([data, b"extra"]),  # chunked: no Content-Length to check first
        headers={"content-range": f"bytes 0-{len(data) - 1}/{len(data)}"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "UPLOAD_TOO_LARGE", r.text
    # A range past the declared size is refused before reading.
    r = srv.api(
        "PUT",
        f"/api/uploads/{up['id']}",
        content=data + b"x",
        headers={"content-range": f"bytes 0-{len(data)}/*"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "UPLOAD_TOO_LARGE", r.text
    status = srv.api("GET", f"/api/uploads/{up['id']}").json()["data"]
    assert status["offset"] == 0 and status["complete"] is False


@pytest.mark.parametrize(
    "header",
    ["bytes 0-9", "bytes=0-9/10", "bytes 5-2/10", "bytes 0-10/10", "items 0-9/10", "bytes -1-9/10"],
)
def test_bad_content_range_is_refused(srv, header):
    data, _ = _blob(10, seed=7)
    up = _start(srv, "ranges", data).json()["data"]
    r = srv.api("PUT", f"/api/uploads/{up['id']}", content=data, headers={"content-range": header})
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_CONTENT_RANGE", r.text


def test_total_and_length_must_agree(srv):
    data, _ = _blob(10, seed=8)
    up = _start(srv, "ranges", data).json()["data"]
    r = _put(srv, up["id"], data, 0, 11)
    assert r.status_code == 400 and "declared 10" in r.json()["error"]["message"]
    r = srv.api(
        "PUT",
        f"/api/uploads/{up['id']}",
        content=data[:5],
        headers={"content-range": "bytes 0-9/10"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_CONTENT_RANGE"


def test_per_file_limit_is_checked_on_the_declared_size(srv):
    r = srv.api(
        "POST",
        "/api/uploads",
        json={"site": "huge", "sha256": "a" * 64, "size": 24 * MiB + 1, "path": "video.webm"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "FILE_TOO_LARGE"
    assert "video.webm" in r.json()["error"]["message"]
    assert "deploy_max_file_bytes" in r.json()["error"]["message"]


def test_per_site_limit_counts_uploads_in_progress(srv):
    first = srv.api(
        "POST", "/api/uploads", json={"site": "quota", "sha256": "b" * 64, "size": 20 * MiB}
    )
    assert first.status_code == 201, first.text
    r = srv.api(
        "POST", "/api/uploads", json={"site": "quota", "sha256": "c" * 64, "size": 11 * MiB}
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "SITE_TOO_LARGE", r.text
    assert "deploy_max_site_bytes" in r.json()["error"]["message"]
    # Another site is not affected.
    r = srv.api(
        "POST", "/api/uploads", json={"site": "other", "sha256": "c" * 64, "size": 11 * MiB}
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("upload_id", ["abc", "-1", "99999999999999999999999", "0"])
def test_unknown_upload_ids_are_not_found(srv, upload_id):
    for method in ("GET", "PUT"):
        r = srv.api(method, f"/api/uploads/{upload_id}", content=b"x" if method == "PUT" else None)
        assert r.status_code == 404 and r.json()["error"]["code"] == "UPLOAD_NOT_FOUND", r.text


@pytest.mark.parametrize(
    "body",
    [
        {"site": "x", "sha256": "A" * 64, "size": 1},
        {"site": "x", "sha256": "a" * 64, "size": -1},
        {"site": "x", "sha256": "a" * 64, "size": "1"},
        {"site": "Not A Site!", "sha256": "a" * 64, "size": 1},
        [],
    ],
)
def test_bad_upload_requests_are_refused(srv, body):
    r = srv.api("POST", "/api/uploads", json=body)
    assert 400 <= r.status_code < 500 and r.json()["error"]["code"], r.text


def test_an_upload_resumes_after_a_server_restart(tmp_path):
    """The offset and the pieces are in the database; the hash state is rebuilt from them."""
    data, sha = _blob(10 * MiB + 3)
    with running_server(tmp_path / "home") as server:
        started = _deploy_with(server, "restarted", sha, len(data))
        up = _start(server, "restarted", data).json()["data"]
        cut = 6 * MiB + 1
        assert _put(server, up["id"], data[:cut], 0, len(data)).json()["data"]["offset"] == cut
        server.stop()
        server.start()
        status = server.api("GET", f"/api/uploads/{up['id']}")
        assert status.status_code == 200 and status.json()["data"]["offset"] == cut
        r = _put(server, up["id"], data[cut:], cut, len(data))
        assert r.status_code == 200 and r.json()["data"]["complete"] is True, r.text
        r = server.api("POST", f"/api/deployments/{started['deployment_id']}/finalize", json={})
        assert r.status_code == 200, r.text
        assert server.get("/big.bin", host="restarted.localhost").content == data


def test_no_room_on_the_disk_is_refused_before_bytes_are_accepted(tmp_path):
    """On a small tmpfs: an upload the disk cannot hold is 507 when it starts, and a piece
    is 507 before its first byte when the disk filled meanwhile; the committed part stays
    and the upload completes once there is room."""
    from tests.conftest import FaztServer, free_port
    from tests.tmpfs import fill, small_tmpfs

    home = tmp_path / "home"
    home.mkdir()
    with small_tmpfs(48) as mount:
        srv = FaztServer(home=home, port=free_port(), db=mount / "data.db")
        with srv.serving():
            r = _start(srv, "full", b"", sha="e" * 64, size=40 * MiB)
            assert r.status_code == 507 and r.json()["error"]["code"] == "INSUFFICIENT_STORAGE"
            assert "MB needed" in r.json()["error"]["message"]
            data, _ = _blob(8 * MiB)
            up = _start(srv, "full", data).json()["data"]
            half = 4 * MiB
            assert _put(srv, up["id"], data[:half], 0, len(data)).json()["data"]["offset"] == half
            filler = fill(mount, leave_bytes=6 * MiB)
            r = _put(srv, up["id"], data[half:], half, len(data))
            assert r.status_code == 507 and r.json()["error"]["code"] == "INSUFFICIENT_STORAGE"
            assert srv.api("GET", f"/api/uploads/{up['id']}").json()["data"]["offset"] == half
            filler.unlink()
            r = _put(srv, up["id"], data[half:], half, len(data))
            assert r.status_code == 200 and r.json()["data"]["complete"] is True, r.text
