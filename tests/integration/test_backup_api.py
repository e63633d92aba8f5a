"""/api/backups: admins can list, create and download verified backups."""

import hashlib
import sqlite3

import pytest


def backup_files(server) -> list[str]:
    return sorted(b["file"] for b in server.api("GET", "/api/backups").json()["data"])


@pytest.fixture
def server(shared_server):
    """One server for the module: lists of backups are compared with the list before the
    test; no test here deploys a site."""
    return shared_server


def test_create_list_and_download(server, tmp_path):
    before = backup_files(server)
    r = server.api("POST", "/api/backups")
    assert r.status_code == 201, r.text
    made = r.json()["data"]
    assert "path" not in made
    assert backup_files(server) == sorted([*before, made["file"]])
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
