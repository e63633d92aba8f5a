"""The quick-start path: start, deploy with no flags, browse."""

import pytest

from tests.conftest import write_site


@pytest.fixture
def server(shared_server):
    """One server for the module (its first start printed the credentials)."""
    return shared_server


def test_start_deploy_browse(server, tmp_path):
    site = write_site(tmp_path / "my-site", {"index.html": "<h1>hi there</h1>"})
    out = server.cli("deploy", str(site))
    assert f"http://my-site.localhost:{server.port}" in out.stdout
    r = server.get("/", host=f"my-site.localhost:{server.port}")
    assert r.status_code == 200
    assert r.text == "<h1>hi there</h1>"
    assert r.headers["content-type"] == "text/html; charset=utf-8"


def test_first_start_prints_credentials_and_paths(server):
    out = server.output()
    assert "Admin password (shown once" in out
    assert str(server.db) in out
    assert f"http://localhost:{server.port}" in out


def test_health_reports_version(server):
    from fazt import __version__

    r = server.get("/health")
    assert r.status_code == 200
    assert r.json() == {
        "data": {
            "status": "ok",
            "version": __version__,
            "uptime_seconds": r.json()["data"]["uptime_seconds"],
            "instance": r.json()["data"]["instance"],  # which worker answered (handover)
            "restarts_last_hour": 0,  # worker restarts after crashes (a crash loop shows here)
            "last_restart": None,
        }
    }
    assert len(r.json()["data"]["instance"]) == 16
