"""POST /api/blobs: batch uploads are all-or-nothing and verified frame by frame."""

import hashlib
import sqlite3

import pytest

from fazt.hosting import blobframes


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(shared_server):
    """One server for the module: each test counts the blobs before and after itself."""
    return shared_server


def blob_count(server) -> int:
    conn = sqlite3.connect(server.db)
    try:
        return conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
    finally:
        conn.close()


def post(server, body: bytes, token=None):
    return server.api(
        "POST",
        "/api/blobs",
        token=token,
        content=body,
        headers={"content-type": "application/octet-stream"},
    )


def test_batch_stores_every_blob(server):
    blobs = [b"alpha", b"", b"x" * 70_000]
    r = post(server, b"".join(blobframes.encode(sha(b), b) for b in blobs))
    assert r.status_code == 201, r.text
    assert r.json()["data"]["stored"] == [sha(b) for b in blobs]
    conn = sqlite3.connect(server.db)
    stored = dict(conn.execute("SELECT sha256, data FROM blobs WHERE size < 100000"))
    conn.close()
    for b in blobs:
        assert stored[sha(b)] == b


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            blobframes.encode(sha(b"ok"), b"ok") + blobframes.encode(sha(b"a"), b"b"),
            "HASH_MISMATCH",
        ),
        (
            blobframes.encode(sha(b"ok"), b"ok") + blobframes.encode(sha(b"abc"), b"abc")[:-1],
            "BAD_REQUEST",
        ),
        (b"not-a-frame" * 10, "BAD_REQUEST"),
        (f"{sha(b'ok')}00000000000x".encode() + b"ok", "BAD_REQUEST"),
        (b"", "BAD_REQUEST"),
    ],
)
def test_a_bad_frame_rejects_the_whole_batch(server, body, code):
    before = blob_count(server)
    r = post(server, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == code
    assert blob_count(server) == before


def test_batch_needs_a_deploy_token(server):
    body = blobframes.encode(sha(b"ok"), b"ok")
    assert post(server, body, token="fazt_nope").status_code == 401
