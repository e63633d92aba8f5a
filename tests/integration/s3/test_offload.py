"""Blobs in object storage (`fazt storage offload`) against a real fazt server and a real
SeaweedFS S3 gateway: bytes move to the bucket and back, serving goes on from the
bucket and the disk cache, a killed run is resumed, the secret stays out of everything."""

import hashlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess

import pytest

from fazt.db import Database
from fazt.storage.bindings import AppStorage
from tests.conftest import fazt_cmd, init_server, wait_for, write_site
from tests.integration.s3.conftest import BUCKET

BIG = 5 * 1024 * 1024 + 123  # above one SQLite piece (4 MiB): stored chunked
MID = 300 * 1024  # above blob_cache_min_bytes: served from the disk cache


def _files() -> dict[str, bytes]:
    return {
        "index.html": b"<h1>offloaded</h1>",
        "style.css": b"body { color: red }\n" * 50,
        "mid.bin": os.urandom(MID),
        "big.bin": os.urandom(BIG),
    }


@pytest.fixture
def offloadable(seaweedfs, tmp_path):
    """A started server with one site and one app object, and the CLI arguments of an
    offload to a prefix of its own."""
    home = tmp_path / "home"
    home.mkdir()
    srv = init_server(home, {"blob_store_every_seconds": "5"})
    srv.start()
    files = _files()
    srv.deploy(write_site(tmp_path / "site", files), "media")
    prefix = "offload-" + secrets.token_hex(4)
    srv.offload_args = [*offload_to_bucket(seaweedfs, prefix, srv.db), "--json"]
    srv.prefix, srv.files, srv.store = prefix, files, seaweedfs
    try:
        yield srv
    finally:
        srv.stop()
        srv.kill()
        srv.http.close()


def offload_to_bucket(store, prefix: str, db) -> list[str]:
    """`fazt storage offload` to the test bucket under `prefix`, with its credentials."""
    return [
        *("storage", "offload", "--to", f"s3://{BUCKET}/{prefix}"),
        *("--endpoint", store.endpoint, "--access-key-id", store.access_key),
        *("--secret-access-key", store.secret_key, "--db", str(db)),
    ]


def rows(srv, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(srv.db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def offload(srv, *extra) -> dict:
    return json.loads(srv.cli(*srv.offload_args, *extra).stdout)


def test_offload_serves_from_the_bucket_and_comes_back(offloadable, monkeypatch):
    srv = offloadable
    monkeypatch.setenv("FAZT_HOME", str(srv.home))  # the test reads app objects too
    with Database.open(srv.db) as db:
        AppStorage(db, "media").s3_put("photo.bin", _b64(b"app object bytes"), "image/png")
    out = offload(srv)
    assert out["moved"] == out["total"] >= 5  # 4 files + the app object (+ system sites)
    assert out["local"]["blobs"] == 0 and out["bucket"]["blobs"] == out["total"]
    # The bytes left SQLite: empty values, no pieces, every row pointing at the bucket.
    assert rows(srv, "SELECT COUNT(*) FROM blobs WHERE location IS NULL OR length(data) > 0") == [
        (0,)
    ]
    assert rows(srv, "SELECT COUNT(*) FROM blob_chunks") == [(0,)]
    assert rows(srv, "SELECT location, length(data) FROM app_objects") == [("bucket", 0)]
    stored = srv.store.objects(f"{srv.prefix}/sha256")
    big_sha = hashlib.sha256(srv.files["big.bin"]).hexdigest()
    assert any(name.endswith(big_sha) for name in stored)
    # Served: small files from memory, mid and big through the disk cache, ranges.
    for name, data in srv.files.items():
        got = srv.get(f"/{name}", host="media.localhost")
        assert got.status_code == 200, (name, got.text[:200])
        if name != "index.html":  # pages get the analytics script
            assert got.content == data, name
    part = srv.get("/big.bin", host="media.localhost", headers={"range": "bytes=4194000-4194999"})
    assert part.status_code == 206 and part.content == srv.files["big.bin"][4194000:4195000]
    with Database.open(srv.db) as db:
        got = json.loads(AppStorage(db, "media").s3_get("photo.bin"))
    assert _unb64(got["data_b64"]) == b"app object bytes"
    # Back home: every byte in SQLite again, the bucket no longer configured.
    back = json.loads(
        srv.cli("storage", "offload", "--to", "local", "--db", str(srv.db), "--json").stdout
    )
    assert back["moved"] == out["total"] and back["bucket"]["blobs"] == 0
    assert rows(srv, "SELECT COUNT(*) FROM blobs WHERE location IS NOT NULL") == [(0,)]
    assert rows(srv, "SELECT value FROM settings WHERE key = 'blob_store_url'") == [("",)]
    assert not (srv.home / "objectstore-credentials.json").exists()
    srv.store.stop()  # nothing needs the bucket now
    try:
        with Database.open(srv.db) as db:
            from fazt.hosting.blob_read import read_blob

            assert db.read_sync(read_blob, big_sha) == srv.files["big.bin"]
            got = json.loads(AppStorage(db, "media").s3_get("photo.bin"))
        assert _unb64(got["data_b64"]) == b"app object bytes"
    finally:
        srv.store.start()


def test_the_secret_is_kept_in_a_0600_file_and_nowhere_else(offloadable):
    srv = offloadable
    secret = srv.store.secret_key
    printed = srv.cli(*srv.offload_args)
    status = srv.cli("storage", "status", "--db", str(srv.db), "--json")
    creds = srv.home / "objectstore-credentials.json"
    assert oct(creds.stat().st_mode & 0o777) == "0o600"
    assert secret in creds.read_text()
    srv.get("/big.bin", host="media.localhost")  # the server used it
    for path in srv.home.rglob("*"):
        if path.is_file() and path != creds:
            assert secret.encode() not in path.read_bytes(), path
    for text in (printed.stdout, printed.stderr, status.stdout, srv.output()):
        assert secret not in text


def test_a_run_killed_halfway_is_finished_by_the_next(offloadable, tmp_path):
    srv = offloadable
    many = {f"f{i:03d}.txt": f"file {i} {secrets.token_hex(8)}" for i in range(150)}
    srv.deploy(write_site(tmp_path / "many", many), "many")
    env = {**os.environ, "FAZT_HOME": str(srv.home)}
    proc = subprocess.Popen(
        [*fazt_cmd(), *srv.offload_args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def moved():
            return rows(srv, "SELECT COUNT(*) FROM blobs WHERE location IS NOT NULL")[0][0]

        wait_for(lambda: moved() >= 20, 120, 0.02, "the first blobs in the bucket")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    halfway = moved()
    total = rows(srv, "SELECT COUNT(*) FROM blobs")[0][0]
    assert 20 <= halfway < total, (halfway, total)
    # Halfway: everything still served, from wherever each blob is.
    for name, text in list(many.items())[::15]:
        assert srv.get(f"/{name}", host="many.localhost").text == text
    again = offload(srv)
    assert again["local"]["blobs"] == 0 and again["bucket"]["blobs"] == total
    # Only what was left is moved (the server's own job may have moved some meanwhile).
    assert again["total"] <= total - halfway
    for name, text in many.items():
        assert srv.get(f"/{name}", host="many.localhost").text == text, name


def test_bucket_down_uncached_blobs_503_cached_ones_keep_serving(offloadable):
    srv = offloadable
    offload(srv)
    assert srv.get("/mid.bin", host="media.localhost").content == srv.files["mid.bin"]
    srv.store.stop()
    try:
        cached = srv.get("/mid.bin", host="media.localhost")
        assert cached.status_code == 200 and cached.content == srv.files["mid.bin"]
        cold = srv.get("/style.css", host="media.localhost")
        assert cold.status_code == 503, cold.text
        assert cold.json()["error"]["code"] == "BLOB_STORE_UNAVAILABLE"
    finally:
        srv.store.start()
    wait_for(
        lambda: srv.get("/style.css", host="media.localhost").status_code == 200,
        30,
        what="serving after the bucket came back",
    )


def test_new_blobs_follow_to_the_bucket_and_unused_objects_are_deleted(offloadable, tmp_path):
    srv = offloadable
    offload(srv)
    srv.cli("server", "set-config", "blob_store_keep_days=0", "--db", str(srv.db))
    fresh = b"deployed after the offload " + secrets.token_bytes(8)
    srv.deploy(write_site(tmp_path / "later", {"new.txt": fresh}), "later")
    sha = hashlib.sha256(fresh).hexdigest()

    def located():
        return rows(srv, "SELECT location FROM blobs WHERE sha256 = ?", sha)

    wait_for(lambda: located() == [("bucket",)], 60, 0.2, "the new blob in the bucket")
    assert srv.get("/new.txt", host="later.localhost").content == fresh
    key = f"{srv.prefix}/sha256/{sha}"
    assert any(name.endswith(key) for name in srv.store.objects(f"{srv.prefix}/sha256"))
    # The site goes, its blob goes (the blob GC), then its object (the bucket's GC).
    assert srv.api("DELETE", "/api/apps/later").status_code in (200, 204)
    wait_for(lambda: located() == [], 60, 0.2, "the blob row deleted")
    wait_for(
        lambda: not any(n.endswith(key) for n in srv.store.objects(f"{srv.prefix}/sha256")),
        60,
        0.3,
        "the object deleted from the bucket",
    )
    assert srv.get("/big.bin", host="media.localhost").content == srv.files["big.bin"]


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def test_a_backup_holds_metadata_only_and_verify_names_missing_objects(offloadable, tmp_path):
    srv = offloadable
    out = offload(srv)
    backup = tmp_path / "offloaded.db"
    made = json.loads(
        srv.cli("backup", "create", "--out", str(backup), "--db", str(srv.db), "--json").stdout
    )
    blobs = made["blobs"]
    assert blobs["in_database"] == 0 and blobs["in_object_store"] == out["total"]
    assert (
        blobs["object_store"] == f"s3://{BUCKET}/{srv.prefix}" and "metadata only" in blobs["note"]
    )
    assert backup.stat().st_size < BIG  # the 5 MB file is not in it
    good = json.loads(srv.cli("backup", "verify", str(backup), "--json").stdout)
    assert good["ok"] and good["objects"]["missing"] == []
    assert good["objects"]["referenced"] == out["total"]
    # An object lost from the bucket: verify names it, restore refuses.
    big_sha = hashlib.sha256(srv.files["big.bin"]).hexdigest()
    from fazt.hosting.blob_remote import open_store

    store = open_store(
        f"s3://{BUCKET}/{srv.prefix}",
        srv.store.endpoint,
        "",
        srv.store.access_key,
        srv.store.secret_key,
    )
    store.client.delete(store.key(big_sha))
    bad = srv.cli("backup", "verify", str(backup), "--json", check=False)
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["objects"]["missing"] == [big_sha]
    assert any(big_sha in p and "missing from" in p for p in report["problems"])
    refused = srv.cli(
        "backup", "restore", str(backup), "--yes", "--db", str(tmp_path / "r.db"), check=False
    )
    assert refused.returncode != 0 and big_sha in refused.stderr


def test_a_big_file_streams_from_the_bucket_whole_and_in_ranges(seaweedfs, tmp_path):
    """The disk cache off: a file too big for memory is streamed from the bucket, whole
    and in ranges, by the static server's fetch threads."""
    home = tmp_path / "home"
    home.mkdir()
    srv = init_server(home, {"blob_cache_max_mb": "0"})
    data = os.urandom(9 * 1024 * 1024 + 7)  # above the memory cache's 8 MiB per file
    srv.start()
    try:
        srv.deploy(write_site(tmp_path / "site", {"video.bin": data}), "stream")
        prefix = "stream-" + secrets.token_hex(4)
        srv.cli(*offload_to_bucket(seaweedfs, prefix, srv.db))
        assert rows(srv, "SELECT location FROM blobs WHERE size = ?", len(data)) == [("bucket",)]
        whole = srv.get("/video.bin", host="stream.localhost")
        assert whole.status_code == 200 and whole.content == data
        part = srv.get(
            "/video.bin", host="stream.localhost", headers={"range": "bytes=5000000-5999999"}
        )
        assert part.status_code == 206 and part.content == data[5000000:6000000]
        tail = srv.get("/video.bin", host="stream.localhost", headers={"range": "bytes=-10"})
        assert tail.content == data[-10:]
    finally:
        srv.stop()
        srv.kill()
        srv.http.close()


def test_bad_targets_are_refused_and_change_nothing(tmp_path):
    from tests.conftest import free_port

    home = tmp_path / "home"
    home.mkdir()
    srv = init_server(home)
    db = str(srv.db)
    bad_url = srv.cli("storage", "offload", "--to", "ftp://x/y", "--db", db, check=False)
    assert bad_url.returncode == 1 and "s3://bucket/prefix" in bad_url.stderr
    down = srv.cli(
        "storage",
        "offload",
        "--to",
        "s3://b/p",
        "--endpoint",
        f"http://127.0.0.1:{free_port()}",
        "--access-key-id",
        "a",
        "--secret-access-key",
        "b",
        "--db",
        db,
        check=False,
    )
    assert down.returncode == 1 and "cannot use s3://b/p" in down.stderr
    assert not (home / "objectstore-credentials.json").exists()
    assert rows(srv, "SELECT value FROM settings WHERE key = 'blob_store_url'") in ([], [("",)])
    assert rows(srv, "SELECT COUNT(*) FROM blobs WHERE location IS NOT NULL") == [(0,)]


def test_an_object_changed_in_the_bucket_is_never_served(offloadable):
    srv = offloadable
    offload(srv)
    css = srv.files["style.css"]
    from fazt.hosting.blob_remote import open_store

    store = open_store(
        f"s3://{BUCKET}/{srv.prefix}",
        srv.store.endpoint,
        "",
        srv.store.access_key,
        srv.store.secret_key,
    )
    sha = hashlib.sha256(css).hexdigest()
    store.client.put(store.key(sha), b"X" * len(css))  # same size, other bytes
    got = srv.get("/style.css", host="media.localhost")
    assert got.status_code == 502, got.text
    assert got.json()["error"]["code"] == "BLOB_STORE_CORRUPT"
    assert b"XXXX" not in got.content
    # A file served through the disk cache is checked the same way.
    mid_sha = hashlib.sha256(srv.files["mid.bin"]).hexdigest()
    store.client.put(store.key(mid_sha), b"Y" * MID)
    bad = srv.get("/mid.bin", host="media.localhost")
    assert bad.status_code >= 500 and b"YYYY" not in bad.content
    store.client.close()
