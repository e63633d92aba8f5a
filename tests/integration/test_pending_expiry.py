"""Uploads of deploys that are never finalized expire on a short timer, by the server's
own periodic job, without waiting for another deploy (issue 23, item 4)."""

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, running_server, wait_for, write_site

TTL = 2  # seconds


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    settings = {"deploy_pending_ttl_seconds": str(TTL)}
    with running_server(tmp_path_factory.mktemp("pending"), settings) as server:
        yield server


def rows(srv: FaztServer, sql: str, *args) -> list:
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_an_abandoned_upload_is_deleted_with_its_blobs(srv, tmp_path, site_name):
    srv.deploy(write_site(tmp_path / "live", {"index.html": "stays"}), site_name)
    data = os.urandom(50_000)
    digest = hashlib.sha256(data).hexdigest()
    files = [
        {"path": "index.html", "sha256": digest, "size": len(data)},
        {"path": "never.bin", "sha256": "0" * 64, "size": 1},  # never uploaded
    ]
    started = srv.api("POST", f"/api/apps/{site_name}/deployments", json={"files": files})
    dep_id = started.json()["data"]["deployment_id"]
    assert srv.api("PUT", f"/api/blobs/{digest}", content=data).status_code == 201
    orphan = os.urandom(1000)  # a blob no deployment names (a ZIP deploy cut short)
    orphan_sha = hashlib.sha256(orphan).hexdigest()
    assert srv.api("PUT", f"/api/blobs/{orphan_sha}", content=orphan).status_code == 201

    def gone() -> bool:
        pending = rows(srv, "SELECT 1 FROM deployments WHERE id = ?", dep_id)
        blobs = rows(srv, "SELECT sha256 FROM blobs WHERE sha256 IN (?, ?)", digest, orphan_sha)
        return not pending and not blobs

    # No other deploy runs meanwhile: only the server's own job can do it.
    wait_for(gone, deadline=TTL + 20, what="the abandoned upload to be deleted")
    finalize = srv.api("POST", f"/api/deployments/{dep_id}/finalize", json={})
    assert finalize.status_code == 404, finalize.text
    assert srv.get("/", host=f"{site_name}.localhost").text == "stays"
    assert rows(srv, "PRAGMA integrity_check") == [("ok",)]


def test_an_upload_in_progress_is_kept_while_blobs_arrive(srv, site_name):
    """The TTL counts idle time: a deploy still uploading is not taken away."""
    parts = [os.urandom(20_000) for _ in range(6)]
    files = [
        {"path": f"p{i}.bin", "sha256": hashlib.sha256(p).hexdigest(), "size": len(p)}
        for i, p in enumerate(parts)
    ]
    started = srv.api("POST", f"/api/apps/{site_name}/deployments", json={"files": files})
    dep_id = started.json()["data"]["deployment_id"]
    for part, entry in zip(parts, files, strict=True):
        assert srv.api("PUT", f"/api/blobs/{entry['sha256']}", content=part).status_code == 201
        # A slow client: the pause is what is tested (3 x TTL in all), not a wait for
        # something to happen.
        time.sleep(TTL / 2)
    done = srv.api("POST", f"/api/deployments/{dep_id}/finalize", json={})
    assert done.status_code == 200, done.text
    assert done.json()["data"]["live"] is True
