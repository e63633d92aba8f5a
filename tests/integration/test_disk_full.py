"""A full disk under the database, with a real server on a small tmpfs (issue 23, item 2):
deploys that cannot fit are refused before anything is stored, a write that hits the full
disk is 507 INSUFFICIENT_STORAGE with the free space in its message, the server keeps
serving, nothing is half-written, and it all works again once there is room."""

import hashlib
import io
import json
import os
import re
import sqlite3
import zipfile
from pathlib import Path

from tests.conftest import FaztServer, free_port, run_cli, write_site
from tests.tmpfs import fill, small_tmpfs

MB = 1024 * 1024


def counts(db: Path) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return tuple(
            conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("deployments", "blobs")
        )
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_disk_full_is_507_and_changes_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with small_tmpfs(20) as mount:
        srv = FaztServer(home=home, port=free_port(), db=mount / "data.db")
        with srv.serving():
            srv.deploy(write_site(tmp_path / "v1", {"index.html": "v1"}), "diskfull")
            before = counts(srv.db)

            # Too big for the room left: refused before anything is stored, by both routes.
            big = write_site(tmp_path / "big", {"index.html": "x", "big.bin": os.urandom(12 * MB)})
            cli = srv.cli("deploy", str(big), "--site", "diskfull", check=False)
            assert cli.returncode == 1, cli.stderr
            assert "507 INSUFFICIENT_STORAGE" in cli.stderr
            assert re.search(r"too full for this \(\d+ MB free, \d+ MB needed\)", cli.stderr)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
                zf.writestr("index.html", "x")
                zf.writestr("big.bin", os.urandom(12 * MB))
            zipped = srv.api(
                "POST", "/api/deploy", data={"site_name": "diskfull"},
                files={"file": ("site.zip", buf.getvalue(), "application/zip")},
            )  # fmt: skip
            assert error_of(zipped, 507)["code"] == "INSUFFICIENT_STORAGE"
            assert counts(srv.db) == before

            # Room when the deploy starts, none when its file arrives (another program
            # filled the disk meanwhile): the write is refused with the free space said.
            data = os.urandom(3 * MB)
            digest = hashlib.sha256(data).hexdigest()
            manifest = {"files": [{"path": "index.html", "sha256": digest, "size": len(data)}]}
            started = srv.api("POST", "/api/apps/diskfull/deployments", json=manifest)
            assert started.status_code == 201, started.text
            dep_id = started.json()["data"]["deployment_id"]
            filler = fill(mount, leave_bytes=MB)
            put = srv.api("PUT", f"/api/blobs/{digest}", content=data)
            error = error_of(put, 507)
            assert error["code"] == "INSUFFICIENT_STORAGE"
            assert re.match(
                r"the disk holding the database is full \(\d+ MB free\)", error["message"]
            )
            assert "cannot rollback" not in srv.output()

            # Still serving; the live site untouched; the half-done deploy cannot go live.
            assert srv.get("/health").status_code == 200
            assert srv.get("/", host="diskfull.localhost").text == "v1"
            finalize = srv.api("POST", f"/api/deployments/{dep_id}/finalize", json={})
            assert error_of(finalize, 409)["code"] == "BLOBS_MISSING"
            assert integrity(srv.db) == "ok"

            # Room again: the same deploy finishes.
            filler.unlink()
            assert srv.api("PUT", f"/api/blobs/{digest}", content=data).status_code == 201
            done = srv.api("POST", f"/api/deployments/{dep_id}/finalize", json={})
            assert done.status_code == 200, done.text
            assert srv.get("/", host="diskfull.localhost").content == data
            assert "cannot rollback" not in srv.output()
        assert integrity(srv.db) == "ok"


def test_server_status_warns_under_the_free_space_threshold(tmp_path):
    home = tmp_path / "home"
    db = str(home / "data.db")
    run_cli(home, "server", "init", "--db", db, "--password", "longenough1", input="")
    quiet = run_cli(home, "server", "status", "--db", db)
    assert "Disk free:" in quiet.stdout and "warning" not in quiet.stderr
    # More than any disk here has: the warning shows, with the setting to change.
    run_cli(home, "server", "set-config", "disk_free_warn_mb=1000000000", "--db", db)
    warned = run_cli(home, "server", "status", "--db", db)
    assert re.search(r"warning: only \d+ MB free on the disk holding the database", warned.stderr)
    assert "disk_free_warn_mb" in warned.stderr
    as_json = run_cli(home, "server", "status", "--db", db, "--json")
    info = json.loads(as_json.stdout)
    assert info["disk_free_bytes"] > 0 and "MB free" in info["disk_warning"]
