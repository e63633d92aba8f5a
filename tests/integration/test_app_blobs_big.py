"""fazt.storage.s3 objects of tens of MB through a real app: the limit is a setting (its
refusal names it), and a 24 MB object goes in and comes back whole."""

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import FaztServer, running_server, write_site

MiB = 1024 * 1024
SETTINGS = {"storage_max_object_bytes": str(32 * MiB), "runtime_max_timeout_ms": "60000"}
APP = r"""
module.exports = function (req) {
  const s3 = fazt.storage.s3, mb = Number(req.query.mb || 0);
  if (req.query.op === 'put') {
    try { return s3.put('big.txt', 'x'.repeat(mb * 1024 * 1024), 'text/plain'); }
    catch (e) { return respond(413, {error: String(e.message || e)}); }
  }
  const got = s3.get('big.txt');
  return {size: got.size, b64: got.data.length, head: got.data.slice(0, 8)};
};
"""


def call(srv: FaztServer, path: str) -> httpx.Response:
    """The app's answer; slow on a loaded machine (tens of MB through base64 and JS)."""
    return srv.http.get(srv.url + path, headers={"host": "blobs.localhost"}, timeout=120)


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> FaztServer:
    root = tmp_path_factory.mktemp("appblobs")
    with running_server(root / "home", SETTINGS) as server:
        files = {
            "api/blob.js": APP,
            "manifest.json": json.dumps({"limits": {"memory_mb": 256, "timeout_ms": 60000}}),
        }
        server.deploy(write_site(Path(root / "site"), files), "blobs")
        yield server


def test_a_24_mb_object_round_trips(srv: FaztServer) -> None:
    put = call(srv, "/api/blob?op=put&mb=24")
    assert put.status_code == 200, put.text
    assert put.json()["size"] == 24 * MiB
    got = call(srv, "/api/blob?op=get")
    assert got.status_code == 200, got.text
    assert got.json() == {"size": 24 * MiB, "b64": 32 * MiB, "head": "eHh4eHh4"}


def test_over_the_setting_is_refused_naming_it(srv: FaztServer) -> None:
    r = call(srv, "/api/blob?op=put&mb=33")
    assert r.status_code == 413, r.text
    message = r.json()["error"]
    assert "storage_max_object_bytes" in message and str(32 * MiB) in message
