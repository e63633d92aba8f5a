"""/api/backups: admins can list, create and download verified backups."""

import hashlib
import sqlite3

import pytest


def test_create_list_and_download(server, tmp_path):
    r = server.api("POST", "/api/backups")
    assert r.status_code == 201, r.text
    made = r.json()["data"]
    assert "path" not in made
    listed = server.api("GET", "/api/backups").json()["data"]
    assert [b["file"] for b in listed] == [made["file"]]
    r = server.api("GET", f"/api/backups/{made['file']}")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="{made["file"]}"'
    assert hashlib.sha256(r.content).hexdigest() == made["sha256"]
    copy = tmp_path / "copy.db"
    copy.write_bytes(r.content)
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM sites").fetchone()[0] == 3
    conn.close()


@pytest.mark.parametrize("name", ["nope.db", "..%2Fdata.db", "%2Fetc%2Fpasswd"])
def test_only_listed_backups_can_be_downloaded(server, name):
    server.api("POST", "/api/backups")
    r = server.api("GET", f"/api/backups/{name}")
    assert r.status_code == 404
    # %2F arrives decoded as "/", so those never even match the route.
    assert r.json()["error"]["code"] in ("BACKUP_NOT_FOUND", "NOT_FOUND")


def test_backups_are_admin_only(server):
    token = server.create_key("ci", "deploy")
    for method in ("GET", "POST"):
        assert server.api(method, "/api/backups", token=token).status_code == 403
