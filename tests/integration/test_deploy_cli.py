"""`fazt deploy` and `fazt app ...` end to end: the real CLI against a real server."""

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FaztServer, free_port, preview_label, run_cli, running_server, write_site


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def deploy(srv: FaztServer, directory: Path, *args: str) -> dict:
    return json.loads(srv.cli("deploy", str(directory), "--json", *args).stdout)


def app_json(srv: FaztServer, *args: str):
    return json.loads(srv.cli("app", *args, "--json").stdout)


def page(srv: FaztServer, site: str, path: str = "/") -> tuple[int, str]:
    r = srv.get(path, host=f"{site}.localhost:{srv.port}")
    return r.status_code, r.text


def paths_of(srv: FaztServer, site: str) -> list[str]:
    return [f["path"] for f in app_json(srv, "files", site)]


def query(srv: FaztServer, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def blob_present(srv: FaztServer, content: str) -> bool:
    return bool(query(srv, "SELECT 1 FROM blobs WHERE sha256 = ?", sha(content)))


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    with running_server(tmp_path_factory.mktemp("deploy-cli")) as server:
        yield server


# -- names ----------------------------------------------------------------------------------


def test_name_resolution_order(srv, tmp_path):
    folder = write_site(
        tmp_path / "Folder-Name",
        {"index.html": "<p>named</p>", "manifest.json": '{"name": "from-manifest"}'},
    )
    out = srv.cli("deploy", str(folder), "--site", "explicit-name")
    assert f"http://explicit-name.localhost:{srv.port}" in out.stdout
    assert page(srv, "explicit-name") == (200, "<p>named</p>")

    assert deploy(srv, folder)["site"] == "from-manifest"
    assert page(srv, "from-manifest") == (200, "<p>named</p>")

    (folder / "manifest.json").unlink()
    result = deploy(srv, folder)
    assert result["site"] == "folder-name"
    assert result["url"] == f"http://folder-name.localhost:{srv.port}"
    assert page(srv, "folder-name") == (200, "<p>named</p>")


def test_unusable_names_fail_before_uploading(srv, tmp_path):
    before = query(srv, "SELECT COUNT(*) FROM deployments")
    bad_manifest = write_site(
        tmp_path / "ok-folder", {"index.html": "x", "manifest.json": '{"name": "Bad_Name"}'}
    )
    r = srv.cli("deploy", str(bad_manifest), check=False)
    assert r.returncode != 0
    assert "bad_name" in r.stderr and "--site" in r.stderr
    bad_folder = write_site(tmp_path / "under_score", {"index.html": "x"})
    r = srv.cli("deploy", str(bad_folder), check=False)
    assert r.returncode != 0 and "--site" in r.stderr
    for name in ("a--b", "www", "-x"):
        r = srv.cli("deploy", str(bad_folder), "--site", name, check=False)
        assert r.returncode != 0, name
        assert "Traceback" not in r.stderr
    assert query(srv, "SELECT COUNT(*) FROM deployments") == before


# -- what gets uploaded ---------------------------------------------------------------------

SKIP_TREE = {
    "index.html": "home",
    "about/index.html": "about",
    "drafts.txt": "a file, not the drafts/ folder",
    "sub/build/y.js": "only the top build/ is ignored",
    "sub/keep.md": "kept",
    ".git/config": "[core]",
    ".git/objects/ab/cdef": "object",
    "node_modules/lib/index.js": "module.exports = 1",
    "sub/node_modules/x.js": "nested module",
    "__pycache__/x.pyc": "bytecode",
    ".env": "SECRET=1",
    ".well-known/security.txt": "Contact: me",
    "css/.hidden": "hidden",
    "debug.log": "log",
    "sub/deep.log": "deep log",
    "drafts/post.md": "draft",
    "sub/drafts/x.md": "nested draft",
    "secret.txt": "secret",
    "build/out.js": "built",
    ".faztignore": "# comment line\n*.log\ndrafts/\nsecret.txt\n/build/\n\n",
}
KEPT = [
    ".well-known/security.txt",  # the one dot folder published by default
    "about/index.html",
    "drafts.txt",
    "index.html",
    "sub/build/y.js",
    "sub/keep.md",
]
DOTFILES = ["css/.hidden"]


def test_skip_rules_and_faztignore(srv, tmp_path):
    site = write_site(tmp_path / "skippy", SKIP_TREE)
    (site / "outside-link.txt").symlink_to("/etc/hostname")
    (site / "linked-dir").symlink_to(site / "about", target_is_directory=True)
    result = deploy(srv, site)
    assert paths_of(srv, "skippy") == KEPT
    assert result["file_count"] == len(KEPT)
    assert result["uploaded_files"] == len(KEPT)
    assert page(srv, "skippy", "/.env")[0] == 404
    assert page(srv, "skippy", "/.well-known/security.txt") == (200, "Contact: me")
    # reported: what the publishing policy left out (not what .faztignore asked for)
    assert result["skipped"] == [".env", ".git/", "css/.hidden"]
    assert page(srv, "skippy", "/drafts.txt") == (200, SKIP_TREE["drafts.txt"])


def test_include_dotfiles(srv, tmp_path):
    site = write_site(tmp_path / "dotty", SKIP_TREE)
    result = deploy(srv, site, "--include-dotfiles")
    # dotfiles now, but never .git, .env, node_modules or the ignore file; patterns still apply
    assert paths_of(srv, "dotty") == sorted(KEPT + DOTFILES)
    assert result["skipped"] == [".env", ".git/"]
    assert page(srv, "dotty", "/css/.hidden") == (200, "hidden")
    assert page(srv, "dotty", "/.env")[0] == 404


SECRETS = {
    "index.html": "<p>secrets</p>",
    ".env.local": "SECRET=1",
    ".git/config": "[remote]",
    ".ssh/id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----",
    ".npmrc": "//registry.npmjs.org/:_authToken=secret",
    ".gitignore": "*.log",
    "certs/server.pem": "-----BEGIN PRIVATE KEY-----",
}


def test_skipped_files_are_printed_and_secrets_warned_about(srv, tmp_path):
    site = write_site(tmp_path / "secrets", SECRETS)
    out = srv.cli("deploy", str(site))
    assert "Not published: .env.local, .git/, .gitignore, .npmrc, .ssh/" in out.stderr
    assert "--include-dotfiles" in out.stderr
    warning = next(ln for ln in out.stderr.splitlines() if ln.startswith("Warning"))
    assert "certs/server.pem" in warning and ".npmrc" not in warning
    assert paths_of(srv, "secrets") == ["certs/server.pem", "index.html"]

    out = srv.cli("deploy", str(site), "--include-dotfiles", "--json")
    result = json.loads(out.stdout)
    assert result["skipped"] == [".env.local", ".git/", ".ssh/"]
    warning = next(ln for ln in out.stderr.splitlines() if ln.startswith("Warning"))
    assert "certs/server.pem" in warning and ".npmrc" in warning
    assert paths_of(srv, "secrets") == [".gitignore", ".npmrc", "certs/server.pem", "index.html"]
    for path in (".env.local", ".git/config", ".ssh/id_ed25519"):
        assert page(srv, "secrets", "/" + path)[0] == 404, path


def test_redeploy_uploads_only_what_changed(srv, tmp_path):
    files = {f"page{i}.html": f"<p>page {i} of incremental</p>" for i in range(8)}
    files["index.html"] = "<p>incremental home v1</p>"
    site = write_site(tmp_path / "incr", files)
    first = deploy(srv, site)
    assert first["uploaded_files"] == 9 and first["file_count"] == 9
    assert deploy(srv, site)["uploaded_files"] == 0
    (site / "page3.html").write_text("<p>page 3 changed</p>")
    changed = deploy(srv, site)
    assert changed["uploaded_files"] == 1
    assert changed["file_count"] == 9
    assert page(srv, "incr", "/page3.html") == (200, "<p>page 3 changed</p>")
    assert page(srv, "incr", "/page4.html") == (200, files["page4.html"])
    # a new file whose bytes the server already has costs no upload
    (site / "copy.html").write_text(files["page5.html"])
    copied = deploy(srv, site)
    assert copied["uploaded_files"] == 0 and copied["file_count"] == 10
    assert page(srv, "incr", "/copy.html") == (200, files["page5.html"])
    history = app_json(srv, "history", "incr")
    assert [d["file_count"] for d in history] == [10, 9, 9, 9]


# -- preview, promote, rollback -------------------------------------------------------------


def test_preview_then_promote(srv, tmp_path):
    site = write_site(tmp_path / "prev", {"index.html": "prev v1"})
    v1 = deploy(srv, site)["deployment_id"]
    (site / "index.html").write_text("prev v2")
    out = srv.cli("deploy", str(site), "--preview").stdout
    v2 = app_json(srv, "history", "prev")[0]["id"]
    assert v2 > v1
    label = preview_label(srv, "prev", v2)
    assert f"http://{label}.localhost:{srv.port}" in out
    assert f"fazt app promote prev {v2}" in out
    assert page(srv, "prev") == (200, "prev v1")
    assert page(srv, label) == (200, "prev v2")
    assert app_json(srv, "info", "prev")["live_deployment_id"] == v1

    promoted = app_json(srv, "promote", "prev", str(v2))
    assert promoted["id"] == v2 and promoted["live"] is True
    assert page(srv, "prev") == (200, "prev v2")
    out = srv.cli("app", "promote", "prev", str(v1)).stdout
    assert f"deployment {v1}" in out
    assert page(srv, "prev") == (200, "prev v1")


def test_rollback_previous_and_explicit(srv, tmp_path):
    site = write_site(tmp_path / "rolls", {"index.html": "rolls 0"})
    ids = [deploy(srv, site)["deployment_id"]]
    for n in (1, 2):
        (site / "index.html").write_text(f"rolls {n}")
        ids.append(deploy(srv, site)["deployment_id"])
    back = app_json(srv, "rollback", "rolls")
    assert back["id"] == ids[1] and back["live"] is True
    assert page(srv, "rolls") == (200, "rolls 1")
    out = srv.cli("app", "rollback", "rolls", str(ids[0])).stdout
    assert f"deployment {ids[0]}" in out
    assert page(srv, "rolls") == (200, "rolls 0")
    history = app_json(srv, "history", "rolls")
    assert [(d["id"], d["live"]) for d in history] == [
        (ids[2], False),
        (ids[1], False),
        (ids[0], True),
    ]
    # nothing older than the first deployment
    r = srv.cli("app", "rollback", "rolls", check=False)
    assert r.returncode != 0 and "NO_PREVIOUS_DEPLOYMENT" in r.stderr
    assert page(srv, "rolls") == (200, "rolls 0")


# -- listings -------------------------------------------------------------------------------


def test_app_json_shapes(srv, tmp_path):
    files = {"index.html": "<h1>shapes</h1>", "js/app.js": "console.log(1)"}
    site = write_site(tmp_path / "shapes", files)
    dep = deploy(srv, site)
    size = sum(len(v) for v in files.values())

    apps = app_json(srv, "list")
    assert isinstance(apps, list)
    entry = next(a for a in apps if a["name"] == "shapes")
    assert entry["kind"] == "user"
    assert entry["url"] == f"http://shapes.localhost:{srv.port}"
    assert entry["live_deployment_id"] == dep["deployment_id"]
    assert (entry["file_count"], entry["size_bytes"]) == (2, size)
    assert entry["last_deploy_at"].endswith("Z")
    assert {"root", "404", "admin"} <= {a["name"] for a in app_json(srv, "list", "--all")}

    info = app_json(srv, "info", "shapes")
    assert info["name"] == "shapes" and info["url"] == entry["url"]
    assert info["live_deployment"]["id"] == dep["deployment_id"]
    assert info["live_deployment"]["deployed_by"] == "local-cli"
    assert sorted(f["path"] for f in info["files"]) == sorted(files)

    history = app_json(srv, "history", "shapes")
    assert len(history) == 1
    assert history[0]["id"] == dep["deployment_id"] and history[0]["live"] is True
    assert history[0]["state"] == "ready"
    assert (history[0]["file_count"], history[0]["size_bytes"]) == (2, size)

    listing = app_json(srv, "files", "shapes")
    assert listing == [
        {
            "path": "index.html",
            "sha256": sha(files["index.html"]),
            "size": len(files["index.html"]),
            "mime": "text/html; charset=utf-8",
        },
        {
            "path": "js/app.js",
            "sha256": sha(files["js/app.js"]),
            "size": len(files["js/app.js"]),
            "mime": listing[1]["mime"],
        },
    ]
    assert "javascript" in listing[1]["mime"]
    old = app_json(srv, "files", "shapes", "--deployment", str(dep["deployment_id"]))
    assert old == listing
    # the human-readable forms work too
    assert "shapes" in srv.cli("app", "list").stdout
    assert "js/app.js" in srv.cli("app", "files", "shapes").stdout
    assert str(dep["deployment_id"]) in srv.cli("app", "info", "shapes").stdout


def test_delete_app(srv, tmp_path):
    unique = "<p>only the doomed site has these bytes</p>"
    site = write_site(tmp_path / "doomed", {"index.html": unique})
    deploy(srv, site)
    assert page(srv, "doomed") == (200, unique)
    assert blob_present(srv, unique)
    # without --yes it asks, and "no" keeps the app
    r = srv.cli("app", "delete", "doomed", check=False, input="n\n")
    assert r.returncode != 0
    assert page(srv, "doomed") == (200, unique)
    result = app_json(srv, "delete", "doomed", "--yes")
    assert result["name"] == "doomed"
    status, body = page(srv, "doomed")
    assert status == 404 and unique not in body
    r = srv.cli("app", "info", "doomed", check=False)
    assert r.returncode != 0 and "APP_NOT_FOUND" in r.stderr
    assert not blob_present(srv, unique)  # its files went with it
    assert query(srv, "SELECT COUNT(*) FROM deployments WHERE site = 'doomed'") == [(0,)]


def test_system_apps_cannot_be_deleted(srv):
    r = srv.cli("app", "delete", "root", "--yes", check=False)
    assert r.returncode != 0 and "SYSTEM_APP" in r.stderr
    assert srv.get("/", host=f"root.localhost:{srv.port}").status_code == 200


# -- errors and other servers ---------------------------------------------------------------


def test_cli_errors_are_clear(srv, tmp_path):
    for args in (
        ("app", "info", "no-such-app"),
        ("app", "history", "no-such-app"),
        ("app", "files", "no-such-app"),
        ("app", "rollback", "no-such-app"),
        ("app", "delete", "no-such-app", "--yes"),
    ):
        r = srv.cli(*args, check=False)
        assert r.returncode != 0, args
        assert f"localhost:{srv.port}" in r.stderr, r.stderr
        assert "APP_NOT_FOUND" in r.stderr and "404" in r.stderr
        assert "Traceback" not in r.stderr
        assert r.stdout == ""
    empty = tmp_path / "empty-site"
    write_site(empty, {".only-a-dotfile": "x"})
    r = srv.cli("deploy", str(empty), check=False)
    assert r.returncode != 0 and "no files" in r.stderr
    # a file name the server refuses: the whole deploy fails, the site is untouched
    weird = write_site(tmp_path / "weird", {"index.html": "weird v1"})
    deploy(srv, weird)
    (weird / "index.html").write_text("weird v2")
    (weird / "back\\slash.txt").write_text("x")
    r = srv.cli("deploy", str(weird), check=False)
    assert r.returncode != 0 and "UNSAFE_PATH" in r.stderr and "Traceback" not in r.stderr
    assert page(srv, "weird") == (200, "weird v1")
    dead = f"http://127.0.0.1:{free_port()}"
    site = write_site(tmp_path / "nowhere", {"index.html": "x"})
    r = srv.cli("deploy", str(site), "--url", dead, "--token", "fazt_x", check=False)
    assert r.returncode != 0
    assert dead in r.stderr and "cannot reach" in r.stderr
    assert "Traceback" not in r.stderr


def test_to_and_token_with_a_deploy_key(srv, tmp_path, monkeypatch):
    key = srv.create_key("laptop", "deploy")
    laptop = tmp_path / "laptop-home"  # no saved peers at all
    laptop.mkdir()
    site = write_site(tmp_path / "remote-site", {"index.html": "from the laptop"})
    out = run_cli(laptop, "deploy", str(site), "--url", srv.url, "--token", key, "--json")
    result = json.loads(out.stdout)
    assert result["site"] == "remote-site" and result["live"] is True
    assert page(srv, "remote-site") == (200, "from the laptop")
    history = app_json(srv, "history", "remote-site")
    assert history[0]["deployed_by"] == "laptop"
    listed = run_cli(laptop, "app", "list", "--url", srv.url, "--token", key, "--json").stdout
    assert "remote-site" in {a["name"] for a in json.loads(listed)}

    # a deploy key may not delete, nor replace a system site
    r = run_cli(
        laptop, "app", "delete", "remote-site", "--yes", "--url", srv.url, "--token", key,
        check=False,
    )  # fmt: skip
    assert r.returncode != 0 and "403" in r.stderr and "FORBIDDEN" in r.stderr
    r = run_cli(
        laptop, "deploy", str(site), "--site", "root", "--url", srv.url, "--token", key,
        check=False,
    )  # fmt: skip
    assert r.returncode != 0 and "SYSTEM_SITE" in r.stderr
    assert page(srv, "remote-site") == (200, "from the laptop")

    # the token can come from FAZT_TOKEN
    monkeypatch.setenv("FAZT_TOKEN", key)
    (site / "index.html").write_text("via env token")
    run_cli(laptop, "deploy", str(site), "--url", srv.url)
    assert page(srv, "remote-site") == (200, "via env token")
    monkeypatch.delenv("FAZT_TOKEN")

    # --to with no token for that URL, and a wrong token
    r = run_cli(laptop, "deploy", str(site), "--url", srv.url, check=False)
    assert r.returncode != 0 and "--token" in r.stderr
    r = run_cli(laptop, "app", "list", "--url", srv.url, "--token", "fazt_wrong", check=False)
    assert r.returncode != 0 and "401" in r.stderr and "INVALID_API_KEY" in r.stderr
    assert srv.url in r.stderr


# -- history limit and garbage collection ---------------------------------------------------


def test_history_limit_prunes_and_collects_blobs(tmp_path):
    with running_server(tmp_path / "home", None, "--history-limit", "3") as srv:
        system_blobs = query(srv, "SELECT COUNT(*) FROM blobs")[0][0]
        shared = "body { margin: 0 }  /* in every version */"
        site = write_site(tmp_path / "hist", {"style.css": shared})
        ids = []
        for n in range(6):
            (site / "index.html").write_text(f"<p>history version {n}</p>")
            ids.append(deploy(srv, site)["deployment_id"])
        history = app_json(srv, "history", "hist")
        assert [d["id"] for d in history] == ids[:2:-1]
        assert query(srv, "SELECT id FROM deployments WHERE site = 'hist' ORDER BY id") == [
            (i,) for i in ids[3:]
        ]
        for n in range(6):
            assert blob_present(srv, f"<p>history version {n}</p>") == (n >= 3), n
        assert blob_present(srv, shared)
        assert query(srv, "SELECT COUNT(*) FROM blobs")[0][0] == system_blobs + 4
        assert page(srv, "hist") == (200, "<p>history version 5</p>")

        r = srv.cli("app", "rollback", "hist", str(ids[0]), check=False)
        assert r.returncode != 0 and "DEPLOYMENT_NOT_FOUND" in r.stderr
        assert page(srv, "hist") == (200, "<p>history version 5</p>")

        # the live deployment is kept even when it is older than the newest three
        app_json(srv, "rollback", "hist", str(ids[3]))
        (site / "index.html").write_text("<p>history preview</p>")
        preview = deploy(srv, site, "--preview")["deployment_id"]
        app_json(srv, "rollback", "hist", str(ids[3]))  # flips again: prunes
        kept = [d["id"] for d in app_json(srv, "history", "hist")]
        assert kept == [preview, ids[5], ids[4], ids[3]]
        assert page(srv, "hist") == (200, "<p>history version 3</p>")
        assert page(srv, preview_label(srv, "hist", preview)) == (200, "<p>history preview</p>")
        assert query(srv, "SELECT COUNT(*) FROM blobs")[0][0] == system_blobs + 5
        assert query(srv, "PRAGMA foreign_key_check") == []
