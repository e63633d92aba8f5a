"""The disk blob cache against a real server: files are sent from verified copies under
<data dir>/blob-cache, which may be deleted, corrupted or bounded without a wrong byte
ever reaching a client."""

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import FaztServer, running_server, wait_for, write_site

SIZE = 300_000  # above blob_cache_min_bytes (64 KiB): sent from disk, read per request
BIG = 700_000  # above READ_WHOLE_MAX (512 KiB) too: sent by Granian's file response


def cached_file(srv: FaztServer, data: bytes) -> Path:
    sha = hashlib.sha256(data).hexdigest()
    return srv.home / "blob-cache" / sha[:2] / sha


def get(srv: FaztServer, site: str, path: str, **headers: str) -> httpx.Response:
    return srv.get(
        path, host=f"{site}.localhost", headers={"accept-encoding": "identity", **headers}
    )


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> FaztServer:
    with running_server(tmp_path_factory.mktemp("blobcache") / "home") as server:
        yield server


@pytest.mark.parametrize("size", [SIZE, BIG])
def test_big_file_is_sent_from_its_disk_copy(srv, tmp_path, size):
    data = os.urandom(size)
    srv.deploy(write_site(tmp_path / "s", {"big.bin": data}), f"copy{size}")
    for _ in range(2):  # the first answer makes the copy, the second is the hot path's
        r = get(srv, f"copy{size}", "/big.bin")
        assert (r.status_code, r.content) == (200, data)
        assert r.headers.get_list("content-length") == [str(size)]
    copy = cached_file(srv, data)
    assert copy.read_bytes() == data
    assert (srv.home / "blob-cache").stat().st_mode & 0o777 == 0o700
    r = get(srv, f"copy{size}", "/big.bin", range="bytes=1000-1999")
    assert (r.status_code, r.content) == (206, data[1000:2000])


def test_deleted_copy_is_made_again(srv, tmp_path):
    data = os.urandom(SIZE)
    srv.deploy(write_site(tmp_path / "s", {"big.bin": data}), "deleted")
    assert get(srv, "deleted", "/big.bin").content == data
    copy = cached_file(srv, data)
    copy.unlink()
    for _ in range(3):  # the first request sees it gone and copies it again
        assert get(srv, "deleted", "/big.bin").content == data
    assert copy.read_bytes() == data


def test_whole_cache_folder_deleted(srv, tmp_path):
    data = os.urandom(SIZE)
    srv.deploy(write_site(tmp_path / "s", {"big.bin": data}), "wiped")
    assert get(srv, "wiped", "/big.bin").content == data
    for sub in (srv.home / "blob-cache").iterdir():
        for f in sub.iterdir():
            f.unlink()
        sub.rmdir()
    assert get(srv, "wiped", "/big.bin").content == data
    assert cached_file(srv, data).read_bytes() == data


@pytest.mark.parametrize("size", [SIZE, BIG])
def test_corrupted_copy_is_never_sent(srv, tmp_path, size):
    """Same size, flipped bytes, even with the mtime put back: the ctime moved, so the copy
    is hashed again before it is sent, found wrong, and replaced from SQLite."""
    data = os.urandom(size)
    site = f"corrupt{size}"
    srv.deploy(write_site(tmp_path / "s", {"big.bin": data}), site)
    for _ in range(2):  # the second answer comes from the hot path
        assert get(srv, site, "/big.bin").content == data
    copy = cached_file(srv, data)
    before = copy.stat()
    flipped = bytearray(data)
    flipped[5000:5010] = bytes(b ^ 0xFF for b in flipped[5000:5010])
    with open(copy, "r+b") as f:  # in place: same inode, same size
        f.write(flipped)
    os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert copy.stat().st_size == size
    for headers in ({}, {"range": "bytes=4990-5019"}, {}):
        r = get(srv, site, "/big.bin", **headers)
        expected = data if not headers else data[4990:5020]
        assert r.content == expected
    assert copy.read_bytes() == data


def test_deploy_and_rollback_never_send_another_deployments_bytes(srv, tmp_path):
    v1, v2 = os.urandom(SIZE), os.urandom(SIZE)
    srv.deploy(write_site(tmp_path / "v1", {"video.bin": v1}), "versions")
    assert get(srv, "versions", "/video.bin").content == v1
    srv.deploy(write_site(tmp_path / "v2", {"video.bin": v2}), "versions")
    wait_for(lambda: get(srv, "versions", "/video.bin").content == v2, what="v2 live")
    assert get(srv, "versions", "/video.bin", range="bytes=0-99").content == v2[:100]
    r = srv.api("POST", "/api/apps/versions/rollback", json={})
    assert r.status_code == 200, r.text
    wait_for(lambda: get(srv, "versions", "/video.bin").content == v1, what="v1 live again")
    assert get(srv, "versions", "/video.bin", range="bytes=-100").content == v1[-100:]


def test_cache_stays_within_its_bound(tmp_path):
    """1 MB of disk cache, 3 MB of big files: every file comes back whole, the folder
    never holds more than the bound."""
    files = {f"f{i}.bin": os.urandom(SIZE) for i in range(10)}
    with running_server(tmp_path / "home", {"blob_cache_max_mb": "1"}) as srv:
        srv.deploy(write_site(tmp_path / "s", files), "bounded")
        folder = srv.home / "blob-cache"
        for _ in range(2):
            for name, data in files.items():
                r = get(srv, "bounded", f"/{name}")
                assert (r.status_code, r.content) == (200, data)
                used = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
                assert used <= 1024 * 1024


def test_cache_off_streams_from_sqlite(tmp_path):
    data = os.urandom(SIZE)
    with running_server(tmp_path / "home", {"blob_cache_max_mb": "0"}) as srv:
        srv.deploy(write_site(tmp_path / "s", {"big.bin": data}), "nocache")
        assert get(srv, "nocache", "/big.bin").content == data
        assert get(srv, "nocache", "/big.bin", range="bytes=10-19").content == data[10:20]
        r = get(srv, "nocache", "/big.bin", range="bytes=0-9,100000-100009")
        assert r.status_code == 206
        assert r.headers["content-type"].startswith("multipart/byteranges")
        assert int(r.headers["content-length"]) == len(r.content)
        assert data[:10] in r.content and data[100000:100010] in r.content
        assert not (srv.home / "blob-cache").exists()


def test_copies_from_an_earlier_run_are_verified(tmp_path):
    """A copy left by an earlier run is hashed on first use: one corrupted while the
    server was down (mtime and size kept) is replaced, never sent."""
    data = os.urandom(SIZE)
    with running_server(tmp_path / "home") as srv:
        srv.deploy(write_site(tmp_path / "s", {"big.bin": data}), "restart")
        assert get(srv, "restart", "/big.bin").content == data
        copy = cached_file(srv, data)
        srv.stop()
        before = copy.stat()
        copy.write_bytes(b"\x00" * SIZE)
        os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
        srv.start()
        assert get(srv, "restart", "/big.bin").content == data
        assert copy.read_bytes() == data
