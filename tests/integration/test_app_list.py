"""`fazt app list` shows the user's apps; the system sites only with --all."""

import json
from pathlib import Path

from tests.conftest import FaztServer, write_site

SYSTEM = {"root", "404", "admin"}


def test_app_list_hides_system_sites_unless_all(server: FaztServer, tmp_path: Path) -> None:
    server.deploy(write_site(tmp_path / "blog", {"index.html": "<h1>blog</h1>"}), "blog")

    listed = json.loads(server.cli("app", "list", "--json").stdout)
    assert [a["name"] for a in listed] == ["blog"]

    table = server.cli("app", "list").stdout
    assert "blog" in table
    rows = {line.split()[0] for line in table.splitlines() if line.split()}
    assert not SYSTEM & rows, table

    everything = json.loads(server.cli("app", "list", "--all", "--json").stdout)
    kinds = {a["name"]: a["kind"] for a in everything}
    assert kinds == {"blog": "user", **{name: "system" for name in SYSTEM}}
    assert "root" in server.cli("app", "list", "--all").stdout


def test_the_api_still_lists_every_site_with_its_kind(server: FaztServer) -> None:
    sites = server.api("GET", "/api/apps").json()["data"]
    assert {s["name"]: s["kind"] for s in sites} == {name: "system" for name in SYSTEM}
