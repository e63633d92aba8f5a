"""The deploy API over real HTTP: the ZIP endpoint, the incremental protocol, the app
endpoints, and every way a bad deploy must be refused without changing anything."""

import hashlib
import io
import random
import sqlite3
import stat
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import FaztServer, preview_label, running_server

MiB = 1024 * 1024
LIMITS = {
    "deploy_max_upload_bytes": str(1 * MiB),
    "deploy_max_files": "20",
    "deploy_max_file_bytes": str(3 * MiB),
    "deploy_max_total_bytes": str(5 * MiB),
    "deploy_max_ratio": "50",
}
LOGO = random.Random(1).randbytes(3000)  # binary, incompressible
V1 = {
    "index.html": b"<h1>victim v1</h1>",
    "css/site.css": b"body { color: #111 }",
    "img/logo.bin": LOGO,
}
V2 = {"index.html": b"<h1>victim v2</h1>", "img/logo.bin": LOGO[::-1]}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(entries, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP from {name: bytes} or [(name | ZipInfo, bytes)]."""
    items = entries.items() if isinstance(entries, dict) else entries
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", compression) as zf:
        warnings.simplefilter("ignore")  # "Duplicate name" is wanted in one case
        for name, data in items:
            if isinstance(name, zipfile.ZipInfo):
                name.compress_type = compression
            zf.writestr(name, data)
    return buf.getvalue()


def post_zip(srv: FaztServer, site: str | None, data: bytes | None, token: str | None = None):
    form = {} if site is None else {"site_name": site}
    files = None if data is None else {"file": ("site.zip", data, "application/zip")}
    return srv.api("POST", "/api/deploy", token=token, data=form, files=files)


def host(srv: FaztServer, label: str) -> str:
    return f"{label}.localhost:{srv.port}"


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["code"]


def live_id(srv: FaztServer, site: str) -> int | None:
    r = srv.api("GET", f"/api/apps/{site}")
    assert r.status_code == 200, r.text
    return r.json()["data"]["live_deployment_id"]


def db_counts(srv: FaztServer) -> tuple[int, int, int, int]:
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        return tuple(
            conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("blobs", "deployments", "deployment_files", "sites")
        )
    finally:
        conn.close()


def assert_serves(srv: FaztServer, site: str, files: dict[str, bytes]) -> None:
    for path, content in files.items():
        r = srv.get("/" + path, host=host(srv, site))
        assert r.status_code == 200, (path, r.status_code)
        assert r.content == content, path


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    with running_server(tmp_path_factory.mktemp("deploy-api"), LIMITS) as server:
        yield server


@pytest.fixture(scope="module")
def deploy_key(srv) -> str:
    return srv.create_key("ci", "deploy")


@pytest.fixture(scope="module")
def victim(srv) -> int:
    """Site `victim` live at V1; returns its deployment id."""
    r = post_zip(srv, "victim", make_zip(V1))
    assert r.status_code == 200, r.text
    return r.json()["data"]["deployment_id"]


@pytest.fixture
def untouched(srv, victim) -> Iterator[None]:
    """The test must leave `victim`, the database and the app list exactly as they were."""
    before = db_counts(srv)
    apps_before = srv.api("GET", "/api/apps").json()["data"]
    yield
    changed = live_id(srv, "victim")
    if changed != victim:  # put V1 back so one failure does not cascade into the others
        srv.api("POST", "/api/apps/victim/rollback", json={"deployment_id": victim})
    assert changed == victim
    assert_serves(srv, "victim", V1)
    assert srv.get("/nothing-here", host=host(srv, "victim")).status_code == 404
    assert db_counts(srv) == before
    assert srv.api("GET", "/api/apps").json()["data"] == apps_before


# -- ZIP endpoint: success ------------------------------------------------------------------


def test_zip_deploy_compatible_envelope(srv):
    files = {"index.html": b"<p>zip</p>", "docs/a.txt": b"alpha", "data.json": b'{"a": 1}'}
    r = post_zip(srv, "zipped", make_zip(files))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data"}
    data = body["data"]
    assert data["site"] == "zipped"
    assert data["file_count"] == 3
    assert data["size_bytes"] == sum(len(v) for v in files.values())
    assert isinstance(data["message"], str) and data["message"]
    assert data["live"] is True
    assert data["url"] == f"http://zipped.localhost:{srv.port}"
    assert live_id(srv, "zipped") == data["deployment_id"]
    assert_serves(srv, "zipped", files)
    r = srv.get("/docs/a.txt", host=host(srv, "zipped"))
    assert r.headers["content-type"].startswith("text/plain")


def test_zip_with_one_top_folder_is_stripped(srv):
    entries = [
        (zipfile.ZipInfo("my-site/"), b""),
        ("my-site/index.html", b"<p>top folder</p>"),
        ("my-site/css/app.css", b"p{}"),
        ("__MACOSX/my-site/._index.html", b"junk"),
        ("my-site/.DS_Store", b"junk"),
    ]
    r = post_zip(srv, "foldered", make_zip(entries))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["file_count"] == 2
    listing = srv.api("GET", "/api/apps/foldered/files").json()["data"]
    assert [f["path"] for f in listing] == ["css/app.css", "index.html"]
    assert_serves(srv, "foldered", {"index.html": b"<p>top folder</p>", "css/app.css": b"p{}"})
    assert srv.get("/my-site/index.html", host=host(srv, "foldered")).status_code == 404


def test_redeploy_replaces_whole_site(srv):
    assert post_zip(srv, "replaced", make_zip({"index.html": b"1", "old.txt": b"o"})).is_success
    r = post_zip(srv, "replaced", make_zip({"index.html": b"2"}))
    assert r.status_code == 200
    assert srv.get("/", host=host(srv, "replaced")).content == b"2"
    # a file that only the old deployment had is gone, not merged in
    assert srv.get("/old.txt", host=host(srv, "replaced")).status_code == 404


# -- ZIP endpoint: every bad deploy changes nothing ------------------------------------------


def _incompressible(n: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def _lying_sizes(data: bytes, claimed: int) -> bytes:
    """Patch the uncompressed size of the only entry (local header + central directory)."""
    buf = bytearray(data)
    local = buf.index(b"PK\x03\x04")
    struct.pack_into("<I", buf, local + 22, claimed)
    central = buf.index(b"PK\x01\x02")
    struct.pack_into("<I", buf, central + 24, claimed)
    return bytes(buf)


def _symlink_zip() -> bytes:
    link = zipfile.ZipInfo("index.html")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    return make_zip([("about.html", b"ok"), (link, b"/etc/passwd")])


def _nul_zip() -> bytes:
    info = zipfile.ZipInfo("placeholder.html")
    info.filename = "evil.html\x00.png"  # set after construction: ZipInfo would cut at NUL
    return make_zip([("index.html", b"ok"), (info, b"<script>")])


BAD_ZIPS: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "oversized-upload": (
        lambda: make_zip({"index.html": _incompressible(MiB + 4096)}, zipfile.ZIP_STORED),
        413,
        "PAYLOAD_TOO_LARGE",
    ),
    "too-many-files": (
        lambda: make_zip({f"f{i}.txt": b"x" for i in range(21)}),
        413,
        "TOO_MANY_FILES",
    ),
    "file-too-large": (
        lambda: make_zip({"index.html": b"ok", "big.bin": bytes(3 * MiB + 1)}),
        413,
        "FILE_TOO_LARGE",
    ),
    "total-too-large": (
        # six files just under the ratio-check size, 6 MiB in all: over the 5 MiB total
        lambda: make_zip({f"part{i}.bin": bytes(MiB - 1) for i in range(6)}),
        413,
        "DEPLOY_TOO_LARGE",
    ),
    "compression-ratio": (
        lambda: make_zip({"index.html": b"ok", "bomb.bin": bytes(2 * MiB)}),
        400,
        "SUSPICIOUS_COMPRESSION",
    ),
    "lying-size-header": (
        lambda: _lying_sizes(make_zip({"bomb.bin": bytes(2 * MiB)}), 1000),
        400,
        "INVALID_ZIP",
    ),
    "zip-slip": (lambda: make_zip({"index.html": b"ok", "../x": b"pwn"}), 400, "UNSAFE_PATH"),
    "zip-slip-nested": (
        lambda: make_zip({"index.html": b"ok", "a/../../x": b"pwn"}),
        400,
        "UNSAFE_PATH",
    ),
    "zip-slip-backslash": (
        lambda: make_zip({"index.html": b"ok", "..\\x": b"pwn"}),
        400,
        "UNSAFE_PATH",
    ),
    "absolute-path": (lambda: make_zip({"index.html": b"ok", "/etc/x": b"p"}), 400, "UNSAFE_PATH"),
    "drive-path": (lambda: make_zip({"index.html": b"ok", "C:/x": b"p"}), 400, "UNSAFE_PATH"),
    "symlink": (_symlink_zip, 400, "UNSAFE_PATH"),
    "nul-in-name": (_nul_zip, 400, "UNSAFE_PATH"),
    "duplicate-entry": (
        lambda: make_zip([("index.html", b"one"), ("index.html", b"two")]),
        400,
        "DUPLICATE_PATH",
    ),
    "not-a-zip": (lambda: b"this is not a zip file at all" * 10, 400, "INVALID_ZIP"),
    "truncated-zip": (lambda: make_zip({"index.html": b"x" * 5000})[:-30], 400, "INVALID_ZIP"),
    "empty-zip": (lambda: make_zip({}), 400, "EMPTY_DEPLOY"),
    "bad-manifest": (
        lambda: make_zip({"index.html": b"ok", "manifest.json": b"{not json"}),
        400,
        "INVALID_MANIFEST",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ZIPS))
def test_bad_zip_is_refused_and_changes_nothing(srv, untouched, case):
    build, status, code = BAD_ZIPS[case]
    r = post_zip(srv, "victim", build())
    assert error_of(r, status) == code


def test_duplicate_entry_does_not_break_the_server(srv, untouched):
    # the earlier duplicate case must not have left a writer transaction open
    r = post_zip(srv, "dup-ok", make_zip({"index.html": b"fine"}))
    assert r.status_code == 200, r.text
    assert srv.api("DELETE", "/api/apps/dup-ok").status_code == 200


@pytest.mark.parametrize(
    "name", ["Bad_Name", "-x", "x-", "a--b", "a" * 64, "a.b.c", "sp ace", "admin", "www", "api"]
)
def test_invalid_or_reserved_site_name(srv, untouched, name):
    r = post_zip(srv, name, make_zip({"index.html": b"nope"}))
    assert error_of(r, 400) == "INVALID_SITE_NAME"


def test_sixty_three_characters_is_fine(srv):
    name = "a" * 63
    r = post_zip(srv, name, make_zip({"index.html": b"long"}))
    assert r.status_code == 200, r.text
    assert srv.get("/", host=host(srv, name)).content == b"long"
    assert srv.api("DELETE", f"/api/apps/{name}").status_code == 200


def test_missing_fields_and_wrong_content_type(srv, untouched):
    assert error_of(post_zip(srv, None, make_zip(V2)), 400) == "MISSING_FIELD"
    # multipart with the site_name field but no file
    r = srv.api("POST", "/api/deploy", files={"site_name": (None, "victim")})
    assert error_of(r, 400) == "MISSING_FIELD"
    # a file under another field name is not the site
    r = srv.api(
        "POST",
        "/api/deploy",
        data={"site_name": "victim"},
        files={"upload": ("s.zip", make_zip(V2), "application/zip")},
    )
    assert error_of(r, 400) == "MISSING_FIELD"
    assert error_of(post_zip(srv, "", make_zip(V2)), 400) == "MISSING_FIELD"
    r = srv.api("POST", "/api/deploy", json={"site_name": "victim"})
    assert error_of(r, 400) == "BAD_REQUEST"
    r = srv.api(
        "POST",
        "/api/deploy",
        content=b"--xyz\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert r.status_code == 400


def test_no_token_and_bad_tokens_are_401(srv, untouched):
    zipped = make_zip(V2)
    r = srv.request(
        "POST",
        "/api/deploy",
        data={"site_name": "victim"},
        files={"file": ("s.zip", zipped, "application/zip")},
    )
    assert error_of(r, 401) == "UNAUTHORIZED"
    assert error_of(post_zip(srv, "victim", zipped, token="fazt_notarealtoken"), 401) == (
        "INVALID_API_KEY"
    )
    r = srv.request(
        "POST",
        "/api/deploy",
        data={"site_name": "victim"},
        files={"file": ("s.zip", zipped, "application/zip")},
        headers={"authorization": f"Basic {srv.token}"},
    )
    assert error_of(r, 401) == "UNAUTHORIZED"
    r = srv.request("GET", "/api/apps")
    assert error_of(r, 401) == "UNAUTHORIZED"


def test_revoked_key_is_401(srv, untouched):
    token = srv.create_key("revoked-soon", "deploy")
    assert srv.api("GET", "/api/apps/victim", token=token).status_code == 200
    conn = sqlite3.connect(srv.db)
    try:
        with conn:
            conn.execute(
                "UPDATE api_keys SET revoked_at = '2024-01-01T00:00:00Z' WHERE name = ?",
                ("revoked-soon",),
            )
    finally:
        conn.close()
    assert error_of(post_zip(srv, "victim", make_zip(V2), token=token), 401) == "INVALID_API_KEY"
    r = srv.api("POST", "/api/apps/victim/deployments", token=token, json={"files": []})
    assert error_of(r, 401) == "INVALID_API_KEY"


# -- scopes ---------------------------------------------------------------------------------


def test_deploy_key_can_deploy_and_read(srv, deploy_key):
    r = post_zip(srv, "keysite", make_zip({"index.html": b"by key"}), token=deploy_key)
    assert r.status_code == 200, r.text
    assert srv.get("/", host=host(srv, "keysite")).content == b"by key"
    history = srv.api("GET", "/api/apps/keysite/deployments", token=deploy_key).json()["data"]
    assert [d["deployed_by"] for d in history] == ["ci"]
    names = [a["name"] for a in srv.api("GET", "/api/apps", token=deploy_key).json()["data"]]
    assert "keysite" in names
    r = srv.api("GET", "/api/apps/keysite/files", token=deploy_key)
    assert [f["path"] for f in r.json()["data"]] == ["index.html"]


def test_deploy_key_cannot_delete_or_manage_domains(srv, deploy_key, untouched):
    r = srv.api("DELETE", "/api/apps/victim", token=deploy_key)
    assert error_of(r, 403) == "FORBIDDEN"
    r = srv.api(
        "POST", "/api/domains", token=deploy_key, json={"domain": "a.com", "site": "victim"}
    )
    assert error_of(r, 403) == "FORBIDDEN"
    assert error_of(srv.api("GET", "/api/domains", token=deploy_key), 403) == "FORBIDDEN"
    r = srv.api("DELETE", "/api/domains/a.com", token=deploy_key)
    assert error_of(r, 403) == "FORBIDDEN"


def _system_page(srv: FaztServer, label: str) -> tuple[int, bytes]:
    r = srv.get("/", host=host(srv, label))
    return r.status_code, r.content


def test_deploy_key_cannot_touch_system_sites(srv, deploy_key, untouched):
    root_before = _system_page(srv, "root")
    notfound_before = _system_page(srv, "no-such-site")
    assert root_before[0] == 200 and notfound_before[0] == 404
    for site in ("root", "404"):
        r = post_zip(srv, site, make_zip({"index.html": b"defaced"}), token=deploy_key)
        assert error_of(r, 403) == "SYSTEM_SITE"
        body = {"files": [{"path": "index.html", "sha256": sha(b"x"), "size": 1}]}
        r = srv.api("POST", f"/api/apps/{site}/deployments", token=deploy_key, json=body)
        assert error_of(r, 403) == "SYSTEM_SITE"
        r = srv.api("POST", f"/api/apps/{site}/rollback", token=deploy_key)
        assert error_of(r, 403) == "SYSTEM_SITE"
        r = srv.api("DELETE", f"/api/apps/{site}", token=deploy_key)
        assert error_of(r, 403) == "FORBIDDEN"
    # never `admin`, whatever the key
    for token in (deploy_key, None):
        r = post_zip(srv, "admin", make_zip({"index.html": b"defaced"}), token=token)
        assert error_of(r, 400) == "INVALID_SITE_NAME"
    assert _system_page(srv, "root") == root_before
    assert _system_page(srv, "no-such-site") == notfound_before
    dash = srv.get("/")
    assert dash.status_code == 200 and b"defaced" not in dash.content


def test_system_apps_cannot_be_deleted_even_by_admin(srv, untouched):
    for site in ("root", "404", "admin"):
        assert error_of(srv.api("DELETE", f"/api/apps/{site}"), 403) == "SYSTEM_APP"


def test_admin_can_replace_root_and_404_then_roll_back(srv):
    root_before = _system_page(srv, "root")
    notfound_before = _system_page(srv, "no-such-site")
    try:
        assert post_zip(srv, "root", make_zip({"index.html": b"my landing"})).status_code == 200
        assert post_zip(srv, "404", make_zip({"index.html": b"my 404"})).status_code == 200
        assert _system_page(srv, "root") == (200, b"my landing")
        assert _system_page(srv, "no-such-site") == (404, b"my 404")
    finally:
        for site in ("root", "404"):
            assert srv.api("POST", f"/api/apps/{site}/rollback").status_code == 200
    assert _system_page(srv, "root") == root_before
    assert _system_page(srv, "no-such-site") == notfound_before


# -- incremental protocol -------------------------------------------------------------------


def manifest_of(files: dict[str, bytes]) -> dict:
    return {"files": [{"path": p, "sha256": sha(d), "size": len(d)} for p, d in files.items()]}


def start(srv: FaztServer, site: str, files: dict[str, bytes], token: str | None = None):
    r = srv.api("POST", f"/api/apps/{site}/deployments", token=token, json=manifest_of(files))
    assert r.status_code == 201, r.text
    return r.json()["data"]


def put_blob(srv: FaztServer, data: bytes, name: str | None = None, token: str | None = None):
    return srv.api(
        "PUT",
        f"/api/blobs/{name or sha(data)}",
        token=token,
        content=data,
        headers={"content-type": "application/octet-stream"},
    )


def finalize(srv: FaztServer, dep_id: int, preview: bool = False, token: str | None = None):
    return srv.api(
        "POST", f"/api/deployments/{dep_id}/finalize", token=token, json={"preview": preview}
    )


def test_incremental_deploy_uploads_only_missing(srv, deploy_key):
    files = {"index.html": b"<h1>inc</h1>", "a.txt": b"unique-a-" + LOGO[:50]}
    started = start(srv, "inc-full", files, token=deploy_key)
    assert set(started["missing"]) == {sha(d) for d in files.values()}
    for data in files.values():
        assert put_blob(srv, data, token=deploy_key).status_code == 201
    assert put_blob(srv, files["a.txt"], token=deploy_key).status_code == 200  # already there
    r = finalize(srv, started["deployment_id"], token=deploy_key)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["live"] is True and data["deployment_id"] == started["deployment_id"]
    assert_serves(srv, "inc-full", files)
    # the same content again: nothing to upload, and `missing` is an empty list
    again = start(srv, "inc-full", files, token=deploy_key)
    assert again["missing"] == []
    assert finalize(srv, again["deployment_id"], token=deploy_key).status_code == 200


def test_nothing_visible_before_finalize_and_blobs_missing_is_409(srv, untouched_pending):
    started = start(srv, "victim", V2)
    dep_id = started["deployment_id"]
    preview = srv.get("/", host=host(srv, preview_label(srv, "victim", dep_id)))
    assert preview.status_code == 404 and preview.content != V2["index.html"]
    assert error_of(finalize(srv, dep_id), 409) == "BLOBS_MISSING"
    # one of two blobs uploaded is still not enough
    assert put_blob(srv, V2["index.html"]).status_code == 201
    assert error_of(finalize(srv, dep_id), 409) == "BLOBS_MISSING"
    assert srv.get("/", host=host(srv, preview_label(srv, "victim", dep_id))).status_code == 404
    history = srv.api("GET", "/api/apps/victim/deployments").json()["data"]
    assert dep_id not in [d["id"] for d in history]


@pytest.fixture
def untouched_pending(srv, victim) -> Iterator[None]:
    """Like `untouched`, but the test may add pending deployments and blobs."""
    yield
    changed = live_id(srv, "victim")
    if changed != victim:
        srv.api("POST", "/api/apps/victim/rollback", json={"deployment_id": victim})
    assert changed == victim
    assert_serves(srv, "victim", V1)


def test_blob_with_wrong_hash_is_refused(srv, untouched_pending):
    good, bad = b"the real content", b"something else"
    r = put_blob(srv, bad, name=sha(good))
    assert error_of(r, 400) == "HASH_MISMATCH"
    started = start(srv, "victim", {"index.html": good})
    assert started["missing"] == [sha(good)]  # the bad body was not stored under that name
    assert error_of(put_blob(srv, good, name=sha(good).upper()), 400) == "BAD_REQUEST"
    assert error_of(put_blob(srv, good, name="abc"), 400) == "BAD_REQUEST"
    assert error_of(finalize(srv, started["deployment_id"]), 409) == "BLOBS_MISSING"


def test_blob_over_file_limit_is_413(srv):
    big = bytes(3 * MiB + 1)
    assert error_of(put_blob(srv, big), 413) == "PAYLOAD_TOO_LARGE"
    started = start(srv, "inc-big", {"index.html": b"x"})
    assert sha(big) not in started["missing"] and started["missing"] == [sha(b"x")]
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        assert conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha(big),)).fetchone() is None
    finally:
        conn.close()


def test_preview_finalize_leaves_live_alone_then_promote(srv):
    v1 = {"index.html": b"<p>prev v1</p>"}
    v2 = {"index.html": b"<p>prev v2</p>", "new.txt": b"only in v2"}
    assert post_zip(srv, "prev", make_zip(v1)).status_code == 200
    live_before = live_id(srv, "prev")
    started = start(srv, "prev", v2)
    for data in v2.values():
        put_blob(srv, data)
    r = finalize(srv, started["deployment_id"], preview=True)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    dep_id = started["deployment_id"]
    assert data["live"] is False
    assert data["url"] == f"http://prev--{data['preview_id']}.localhost:{srv.port}"
    assert live_id(srv, "prev") == live_before
    assert_serves(srv, "prev", v1)
    assert srv.get("/new.txt", host=host(srv, "prev")).status_code == 404
    assert_serves(srv, f"prev--{data['preview_id']}", v2)
    # finalizing twice is a conflict, and changes nothing
    assert error_of(finalize(srv, dep_id), 409) == "CONFLICT"
    assert live_id(srv, "prev") == live_before
    r = srv.api("POST", "/api/apps/prev/promote", json={"deployment_id": dep_id})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["live"] is True
    assert live_id(srv, "prev") == dep_id
    assert_serves(srv, "prev", v2)


def test_preview_of_another_sites_deployment_is_not_served(srv):
    assert post_zip(srv, "mine", make_zip({"index.html": b"mine"})).status_code == 200
    theirs = post_zip(srv, "theirs", make_zip({"index.html": b"theirs, secret"}))
    other = theirs.json()["data"]
    for label in (other["deployment_id"], other["preview_id"]):
        r = srv.get("/", host=host(srv, f"mine--{label}"))
        assert r.status_code == 404 and b"secret" not in r.content


def test_bad_manifests_for_incremental_deploy(srv, untouched_pending):
    path = "/api/apps/victim/deployments"

    def files(*items):
        return {"files": [dict(zip(("path", "sha256", "size"), i, strict=True)) for i in items]}

    ok = ("index.html", sha(b"x"), 1)
    cases = [
        (files(("../x", sha(b"x"), 1)), 400, "UNSAFE_PATH"),
        (files(("/etc/passwd", sha(b"x"), 1)), 400, "UNSAFE_PATH"),
        (files(("a\x00b", sha(b"x"), 1)), 400, "UNSAFE_PATH"),
        (files(ok, ok), 400, "BAD_REQUEST"),
        (files(("index.html", "nothex", 1)), 400, "BAD_REQUEST"),
        (files(("index.html", sha(b"x"), "1")), 400, "BAD_REQUEST"),
        (files(("index.html", sha(b"x"), -1)), 413, "FILE_TOO_LARGE"),
        (files(("index.html", sha(b"x"), 3 * MiB + 1)), 413, "FILE_TOO_LARGE"),
        (files(*[(f"f{i}", sha(b"x"), 1) for i in range(21)]), 413, "TOO_MANY_FILES"),
        (files(*[(f"f{i}", sha(b"x"), 3 * MiB) for i in range(2)]), 413, "DEPLOY_TOO_LARGE"),
        ({"files": []}, 400, "EMPTY_DEPLOY"),
        ({"files": None}, 400, "BAD_REQUEST"),
        ([], 400, "BAD_REQUEST"),
    ]
    before = db_counts(srv)
    for body, status, code in cases:
        assert error_of(srv.api("POST", path, json=body), status) == code, body
    r = srv.api("POST", path, content=b"{oops", headers={"content-type": "application/json"})
    assert error_of(r, 400) == "INVALID_JSON"
    r = srv.api("POST", "/api/apps/Bad_Name/deployments", json=files(ok))
    assert error_of(r, 400) == "INVALID_SITE_NAME"
    assert db_counts(srv) == before


def test_finalize_unknown_or_malformed_id(srv):
    assert error_of(finalize(srv, 987654), 404) == "DEPLOYMENT_NOT_FOUND"
    r = srv.api("POST", "/api/deployments/abc/finalize", json={})
    assert error_of(r, 400) == "BAD_REQUEST"


# -- app endpoints --------------------------------------------------------------------------


def test_rollback_previous_and_explicit(srv):
    ids = []
    for n in range(3):
        r = post_zip(srv, "rolly", make_zip({"index.html": f"rolly {n}".encode()}))
        ids.append(r.json()["data"]["deployment_id"])
    r = srv.api("POST", "/api/apps/rolly/rollback")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == ids[1]
    assert srv.get("/", host=host(srv, "rolly")).content == b"rolly 1"
    r = srv.api("POST", "/api/apps/rolly/rollback", json={"deployment_id": ids[2]})
    assert r.status_code == 200 and live_id(srv, "rolly") == ids[2]
    assert srv.get("/", host=host(srv, "rolly")).content == b"rolly 2"
    r = srv.api("POST", "/api/apps/rolly/rollback", json={"deployment_id": ids[0]})
    assert srv.get("/", host=host(srv, "rolly")).content == b"rolly 0"
    history = srv.api("GET", "/api/apps/rolly/deployments").json()["data"]
    assert [d["id"] for d in history] == ids[::-1]
    assert [d["live"] for d in history] == [False, False, True]
    # a deployment of another site, a bad id, nothing before the first
    victim_id = post_zip(srv, "rolly-other", make_zip({"index.html": b"o"})).json()["data"][
        "deployment_id"
    ]
    r = srv.api("POST", "/api/apps/rolly/rollback", json={"deployment_id": victim_id})
    assert error_of(r, 404) == "DEPLOYMENT_NOT_FOUND"
    r = srv.api("POST", "/api/apps/rolly/rollback", json={"deployment_id": "1"})
    assert error_of(r, 400) == "BAD_REQUEST"
    r = srv.api("POST", "/api/apps/rolly-other/rollback")
    assert error_of(r, 409) == "NO_PREVIOUS_DEPLOYMENT"
    assert srv.get("/", host=host(srv, "rolly")).content == b"rolly 0"


def test_promote_errors(srv):
    assert post_zip(srv, "promo", make_zip({"index.html": b"p"})).status_code == 200
    assert error_of(srv.api("POST", "/api/apps/promo/promote"), 400) == "MISSING_FIELD"
    pending = start(srv, "promo", {"index.html": b"pending promo"})["deployment_id"]
    r = srv.api("POST", "/api/apps/promo/promote", json={"deployment_id": pending})
    assert error_of(r, 409) == "CONFLICT"
    assert srv.get("/", host=host(srv, "promo")).content == b"p"


def test_app_info_and_list_shapes(srv, victim):
    info = srv.api("GET", "/api/apps/victim").json()["data"]
    assert info["name"] == "victim" and info["kind"] == "user"
    assert info["url"] == f"http://victim.localhost:{srv.port}"
    assert info["live_deployment"]["id"] == victim
    assert info["file_count"] == len(V1)
    assert info["size_bytes"] == sum(len(v) for v in V1.values())
    assert {f["path"]: f["sha256"] for f in info["files"]} == {p: sha(d) for p, d in V1.items()}
    assert info["last_deploy_at"].endswith("Z")
    apps = {a["name"]: a for a in srv.api("GET", "/api/apps").json()["data"]}
    assert {"root", "404", "admin", "victim"} <= set(apps)
    assert apps["root"]["kind"] == "system"
    assert apps["victim"]["live_deployment_id"] == victim
    # case-insensitive names
    assert srv.api("GET", "/api/apps/VICTIM").json()["data"]["name"] == "victim"


def test_an_unfinished_first_deploy_is_not_an_app(srv):
    start(srv, "only-pending", {"index.html": b"never finalized"})
    assert error_of(srv.api("GET", "/api/apps/only-pending"), 404) == "APP_NOT_FOUND"
    names = [a["name"] for a in srv.api("GET", "/api/apps").json()["data"]]
    assert "only-pending" not in names
    assert srv.get("/", host=host(srv, "only-pending")).status_code == 404


def test_lists_are_empty_lists_never_null(srv):
    files = {"index.html": b"preview only"}
    dep = start(srv, "only-preview", files)
    for data in files.values():
        put_blob(srv, data)
    r = srv.api("POST", f"/api/deployments/{dep['deployment_id']}/finalize", json={"preview": True})
    assert r.status_code == 200, r.text
    info = srv.api("GET", "/api/apps/only-preview").json()["data"]
    assert info["live_deployment_id"] is None and info["url"] is None
    assert info["files"] == []
    assert srv.api("GET", "/api/apps/only-preview/files").json() == {"data": []}
    assert srv.api("GET", "/api/domains").json() == {"data": []}
    assert srv.get("/", host=host(srv, "only-preview")).status_code == 404


def test_unknown_app_is_404(srv):
    for method, path in [
        ("GET", "/api/apps/nope"),
        ("GET", "/api/apps/nope/deployments"),
        ("GET", "/api/apps/nope/files"),
        ("POST", "/api/apps/nope/rollback"),
        ("POST", "/api/apps/nope/promote"),
        ("DELETE", "/api/apps/nope"),
    ]:
        kw = {"json": {"deployment_id": 1}} if path.endswith("promote") else {}
        assert error_of(srv.api(method, path, **kw), 404) == "APP_NOT_FOUND", (method, path)
    assert error_of(srv.api("GET", "/api/nothing"), 404) == "NOT_FOUND"
    r = srv.api("GET", "/api/apps/victim/files", params={"deployment": "999999"})
    assert error_of(r, 404) == "DEPLOYMENT_NOT_FOUND"


def test_wrong_method_is_405(srv, untouched):
    for method, path, allowed in [
        ("GET", "/api/deploy", "POST"),
        ("PUT", "/api/apps/victim", "DELETE, GET, PATCH"),
        ("GET", "/api/blobs/" + sha(b"x"), "PUT"),
        ("DELETE", "/api/apps", "GET"),
        ("GET", "/api/deployments/1/finalize", "POST"),
        ("POST", "/health", "GET"),
    ]:
        r = srv.api(method, path)
        assert error_of(r, 405) == "METHOD_NOT_ALLOWED", (method, path)
        assert r.headers["allow"] == allowed


def test_delete_app(srv):
    assert post_zip(srv, "doomed", make_zip({"index.html": b"bye"})).status_code == 200
    assert srv.get("/", host=host(srv, "doomed")).status_code == 200
    r = srv.api("DELETE", "/api/apps/doomed")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["name"] == "doomed"
    r = srv.get("/", host=host(srv, "doomed"))
    assert r.status_code == 404 and b"bye" not in r.content
    assert error_of(srv.api("GET", "/api/apps/doomed"), 404) == "APP_NOT_FOUND"
    assert error_of(srv.api("DELETE", "/api/apps/doomed"), 404) == "APP_NOT_FOUND"


def test_health_is_public(srv):
    r = srv.request("GET", "/health")
    assert r.status_code == 200
    assert r.json()["data"]["status"] == "ok"


def test_deploy_key_cannot_finalize_an_admins_system_deployment(srv, deploy_key):
    root_before = _system_page(srv, "root")
    started = start(srv, "root", {"index.html": b"sneaky root"})  # admin key: allowed
    assert put_blob(srv, b"sneaky root", token=deploy_key).status_code in (200, 201)
    r = finalize(srv, started["deployment_id"], token=deploy_key)
    assert error_of(r, 403) == "SYSTEM_SITE"
    assert _system_page(srv, "root") == root_before


def test_zip_preview_field_and_domain_suffix(srv):
    r = post_zip(srv, "blog.localhost", make_zip({"index.html": b"blog v1"}))
    assert r.status_code == 200 and r.json()["data"]["site"] == "blog"
    r = srv.api(
        "POST",
        "/api/deploy",
        data={"site_name": "blog", "preview": "true"},
        files={"file": ("s.zip", make_zip({"index.html": b"blog v2"}), "application/zip")},
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["live"] is False
    assert srv.get("/", host=host(srv, "blog")).content == b"blog v1"
    assert srv.get("/", host=host(srv, f"blog--{data['preview_id']}")).content == b"blog v2"


def test_files_of_another_sites_deployment_is_404(srv, victim):
    other = post_zip(srv, "files-other", make_zip({"index.html": b"o"})).json()["data"]
    r = srv.api("GET", "/api/apps/victim/files", params={"deployment": other["deployment_id"]})
    assert error_of(r, 404) == "DEPLOYMENT_NOT_FOUND"
    r = srv.api("GET", "/api/apps/victim/files", params={"deployment": victim})
    assert {f["path"] for f in r.json()["data"]} == set(V1)


def test_empty_files_deploy_both_ways(srv):
    r = post_zip(srv, "empties", make_zip({"index.html": b"e", "empty.txt": b""}))
    assert r.status_code == 200, r.text
    r = srv.get("/empty.txt", host=host(srv, "empties"))
    assert r.status_code == 200 and r.content == b""
    started = start(srv, "empties", {"index.html": b"e2", "blank.css": b""})
    for digest in started["missing"]:
        data = b"" if digest == sha(b"") else b"e2"
        assert put_blob(srv, data).status_code in (200, 201)
    assert finalize(srv, started["deployment_id"]).status_code == 200
    r = srv.get("/blank.css", host=host(srv, "empties"))
    assert r.status_code == 200 and r.content == b""


def test_zip_form_fields_in_any_order(srv):
    boundary = "b0undary"
    zipped = make_zip({"index.html": b"file field first"})
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.zip"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        + zipped
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="site_name"\r\n\r\n'
            f"ordered\r\n--{boundary}--\r\n"
        ).encode()
    )
    r = srv.api(
        "POST",
        "/api/deploy",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 200, r.text
    assert srv.get("/", host=host(srv, "ordered")).content == b"file field first"


def test_server_log_has_no_tracebacks(srv):
    # every bad input above must have been a clean 4xx, never an unhandled exception
    assert "Traceback" not in srv.output()
