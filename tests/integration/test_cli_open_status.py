"""`fazt open [SITE]` and `fazt status` against a real server."""

import json
import os
import sys

import pytest

from tests.conftest import free_port, init_server, run_cli, write_site


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """A running server with one deployed site, `blog`."""
    root = tmp_path_factory.mktemp("open-status")
    server = init_server(root / "home")
    with server.serving():
        server.deploy(write_site(root / "blog", {"index.html": "<h1>blog</h1>"}), "blog")
        yield server
    server.http.close()


# -- fazt open ------------------------------------------------------------------------------


def test_open_prints_the_dashboard_and_a_site_url_that_answer(srv):
    dashboard = srv.cli("open", "--print").stdout.strip()
    assert dashboard == f"http://localhost:{srv.port}"  # the local peer: the admin URL
    site = srv.cli("open", "blog", "--print").stdout.strip()
    assert site == f"http://blog.localhost:{srv.port}"
    assert "<h1>blog</h1>" in srv.get("/", host=f"blog.localhost:{srv.port}").text


def test_open_an_unknown_site_suggests_the_close_one(srv):
    out = srv.cli("open", "blgo", "--print", check=False)
    assert out.returncode == 1 and out.stdout == ""
    assert "no site named 'blgo'" in out.stderr and "Did you mean 'blog'?" in out.stderr
    far = srv.cli("open", "zzzzzz", "--print", check=False)
    assert far.returncode == 1 and "Did you mean" not in far.stderr


def test_open_without_print_hands_the_url_to_the_browser(srv, tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\n")
    env = {**os.environ, "FAZT_HOME": str(srv.home), "BROWSER": f"{sys.executable} {browser} %s"}
    import subprocess

    from tests.conftest import fazt_cmd

    out = subprocess.run(
        [*fazt_cmd(), "open", "blog"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"http://blog.localhost:{srv.port}"  # printed too
    assert opened.read_text() == f"http://blog.localhost:{srv.port}"


# -- fazt status ----------------------------------------------------------------------------


def test_status_summarises_the_server_on_one_screen(srv):
    srv.cli("backup", "create", "--db", str(srv.db))
    info = json.loads(srv.cli("status", "--json").stdout)
    assert info["up"] is True and info["admin"] is True
    assert info["version"] and info["uptime_seconds"] >= 0
    assert info["url"] == f"http://localhost:{srv.port}"
    assert info["sites"] == 1  # blog; the system sites are not counted
    assert [d["site"] for d in info["last_deploys"]] == ["blog"]
    assert info["https"]["enabled"] is False
    assert info["replication"]["enabled"] is False
    assert info["backups"] >= 1 and info["last_backup"]["file"].startswith("fazt-")
    text = srv.cli("status").stdout
    lines = {line.split(":", 1)[0].strip(): line for line in text.splitlines()}
    assert "up, fazt " in lines["Server"]
    assert "1 (" in lines["Sites"] and "blog (" in lines["Last deploys"]
    assert " ago (fazt-" in lines["Last backup"]
    assert "off" in lines["HTTPS"] and "off" in lines["Replication"]
    assert len(text.splitlines()) <= 12  # one screen


def test_status_with_a_deploy_key_shows_what_that_key_may_see(srv):
    key = srv.create_key("status-deploy")
    info = json.loads(srv.cli("status", "--json", "--token", key).stdout)
    assert info["up"] and info["admin"] is False and info["sites"] == 1
    assert [d["site"] for d in info["last_deploys"]] == ["blog"]
    assert info["https"] is None and info["last_backup"] is None
    text = srv.cli("status", "--token", key).stdout
    assert "needs an admin key" in text


def test_status_of_a_server_that_is_down_says_what_to_do(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    out = run_cli(tmp_path, "status", "--url", url, "--token", "t", check=False)
    assert out.returncode == 1
    assert f"down ({url})" in out.stdout
    assert f"next: nothing answers at {url}" in out.stderr
    as_json = run_cli(tmp_path, "status", "--url", url, "--token", "t", "--json", check=False)
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["up"] is False
