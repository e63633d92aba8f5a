"""`fazt app create`: templates that deploy and work as they are."""

import json

import pytest

from tests.conftest import wait_for


@pytest.fixture
def server(shared_server):
    """One server for the module: each test creates apps of its own names."""
    return shared_server


def test_api_template_counts_visits(server, tmp_path):
    target = tmp_path / "counter"
    out = server.cli("app", "create", "counter", "--template", "api", "--dir", str(target))
    assert "api/visits.js" in out.stdout
    assert json.loads((target / "manifest.json").read_text()) == {"name": "counter"}
    server.cli("deploy", str(target))  # the name comes from the manifest
    host = f"counter.localhost:{server.port}"
    page = server.get("/", host=host)
    assert page.status_code == 200 and "<h1>counter</h1>" in page.text
    assert server.get("/api/visits", host=host).json() == {"visits": 0}
    for expected in (1, 2):
        r = server.request("POST", "/api/visits", host=host)
        assert r.status_code == 200 and r.json() == {"visits": expected}
    assert server.get("/api/visits", host=host).json() == {"visits": 2}
    assert server.request("DELETE", "/api/visits", host=host).status_code == 405

    def logged() -> bool:
        out = server.cli("app", "logs", "counter", "--json")
        return "visit 2" in out.stdout

    wait_for(logged, what="the visit to reach the app's logs")


def test_static_template_deploys(server, tmp_path):
    target = tmp_path / "hello"
    server.cli("app", "create", "hello", "--dir", str(target))
    assert sorted(p.name for p in target.iterdir()) == ["index.html", "manifest.json"]
    server.cli("deploy", str(target))
    r = server.get("/", host=f"hello.localhost:{server.port}")
    assert r.status_code == 200 and "<h1>hello</h1>" in r.text


def test_create_refuses_bad_names_and_non_empty_folders(server, tmp_path):
    bad = server.cli("app", "create", "Bad_Name", "--dir", str(tmp_path / "x"), check=False)
    assert bad.returncode != 0 and "cannot create 'Bad_Name'" in bad.stderr
    assert not (tmp_path / "x").exists()
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    out = server.cli("app", "create", "full", "--dir", str(full), check=False)
    assert out.returncode != 0 and "not empty" in out.stderr
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
