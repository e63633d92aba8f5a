"""`fazt migrate-v09 OLD.db`: a v0.9-shaped data.db (built from the reference's schema,
tests/v09_database.py) imported by the real CLI, then served by a real fazt server on the
new database; the old file is never changed, and bad input changes nothing."""

import hashlib
import hmac
import json
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.conftest import FaztServer, free_port, run_cli
from tests.v09_database import PNG, SITE_FILES, V09_ADMIN, V09_TOKENS, build_v09_db


def file_state(path: Path) -> tuple[str, int, int]:
    """(sha256, mtime in ns, size) of a file."""
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size


def migrate(home: Path, *args: str, check: bool = True):
    return run_cli(home, "migrate-v09", *args, check=check)


def report_of(result) -> dict:
    return json.loads(result.stdout)


def kind(report: dict, name: str) -> dict:
    return next(k for k in report["kinds"] if k["kind"] == name)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """(old db path, its state before, the JSON report, a server on the new database)."""
    root = tmp_path_factory.mktemp("mig09")
    home = root / "home"
    home.mkdir()
    old = build_v09_db(root / "old" / "data.db") if (root / "old").mkdir() is None else None
    before = file_state(old)
    new = root / "new.db"
    result = migrate(home, str(old), "--db", str(new), "--json")
    # v0.9 served example.com; the imported domain is replaced for this loopback test.
    srv = FaztServer(home=home, port=free_port(), db=new, extra_args=["--domain", "localhost"])
    with srv.serving():
        yield old, before, report_of(result), result.stderr, srv


def test_old_file_is_untouched_and_nothing_is_left_beside_it(migrated):
    old, before, _, _, _ = migrated
    assert file_state(old) == before
    assert sorted(p.name for p in old.parent.iterdir()) == ["data.db"]


def test_report_counts_and_reasons(migrated):
    _, _, report, progress, _ = migrated
    assert report["verified"] is True and report["mismatches"] == []
    sites = kind(report, "sites")
    assert (sites["found"], sites["imported"], sites["skipped"]) == (5, 4, 1)
    files = kind(report, "files")
    assert (files["found"], files["imported"]) == (11, 9)  # admin's page and blog/.env skipped
    assert {i["item"] for i in files["skipped_items"]} == {"admin/index.html", "blog/.env"}
    keys = kind(report, "api_keys")
    assert (keys["found"], keys["imported"], keys["skipped"]) == (2, 2, 0)
    assert (kind(report, "admin")["found"], kind(report, "admin")["imported"]) == (1, 1)
    assert "local_token" not in json.dumps(report)
    assert kind(report, "redirects")["skipped_items"][0]["item"] == "bad"
    assert kind(report, "webhooks")["skipped_items"][0]["item"] == "old-hook"
    assert kind(report, "events")["imported"] == 5
    assert kind(report, "kv")["imported"] == 4  # 3 db.* rows + 1 live fazt.storage.kv row
    # progress per kind on stderr
    for name in ("sites", "kv", "env_vars", "redirects", "webhooks", "events"):
        assert f"{name}: " in progress


def test_sites_serve_the_same_bytes(migrated):
    srv = migrated[4]
    for path, data in [
        ("/", SITE_FILES["blog"]["index.html"]),
        ("/css/style.css", SITE_FILES["blog"]["css/style.css"]),
        ("/img/logo.png", PNG),
    ]:
        r = srv.get(path, host="blog.localhost")
        assert r.status_code == 200 and r.content == data, path
    assert r.headers["content-type"] == "image/png"
    assert srv.get("/.env", host="blog.localhost").status_code == 404
    # v0.9 stored "Docs" but routed lower-cased hosts: here it is "docs" and reachable
    r = srv.get("/guide/intro.html", host="docs.localhost")
    assert r.content == SITE_FILES["Docs"]["guide/intro.html"]
    # v0.9's root site is kept: the first start's seeding does not replace it
    assert srv.get("/", host="root.localhost").content == SITE_FILES["root"]["index.html"]


def test_legacy_app_answers_with_its_kv_data_and_env(migrated):
    srv = migrated[4]
    r = srv.get("/hello", host="counter.localhost")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "count": 42,  # v0.9 stored the text "41"; db.get parses it as v0.9 did
        "greeting": "hello",
        "obj": {"a": 1},
        "env": "hi from env",
        "path": "/hello",
    }
    assert srv.get("/", host="counter.localhost").json()["count"] == 43
    assert srv.get("/main.js", host="counter.localhost").status_code == 404


def test_app_storage_is_imported(migrated):
    srv = migrated[4]
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        kv = dict(conn.execute("SELECT key, value FROM app_kv WHERE app = 'blog'").fetchall())
        docs = conn.execute("SELECT id, data FROM app_documents WHERE app = 'blog'").fetchall()
        obj = conn.execute("SELECT data FROM app_objects WHERE app = 'blog'").fetchone()
    finally:
        conn.close()
    assert kv == {"cart": '{"items":2}'}  # the expired key is not imported
    assert docs == [("p1", '{"title":"Hello"}')]
    assert obj == (b"\x00\x01\x02",)


def test_blobs_are_stored_once_per_sha256(migrated):
    srv = migrated[4]
    css = hashlib.sha256(SITE_FILES["blog"]["css/style.css"]).hexdigest()
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        users = conn.execute("SELECT COUNT(*) FROM deployment_files WHERE sha256 = ?", (css,))
        blobs = conn.execute("SELECT COUNT(*) FROM blobs WHERE sha256 = ?", (css,))
        assert (users.fetchone()[0], blobs.fetchone()[0]) == (2, 1)
    finally:
        conn.close()


def test_redirects_redirect_with_their_tags_and_clicks(migrated):
    srv = migrated[4]
    listed = srv.api("GET", "/api/redirects").json()["data"]
    gh = next(r for r in listed if r["slug"] == "gh")
    assert (gh["url"], gh["clicks"], gh["tags"]) == (
        "https://github.com/fazt-sh",
        7,
        ["social", "code"],
    )
    assert (gh["destination"], gh["click_count"]) == (gh["url"], 7)  # v0.9's names
    assert gh["created_at"] == "2026-01-05T09:30:00.000000Z"
    assert next(r for r in listed if r["slug"] == "plain")["tags"] == []
    tagged = srv.api("GET", "/api/redirects", params={"tag": "code"}).json()["data"]
    assert [r["slug"] for r in tagged] == ["gh"]
    hop = srv.get("/r/gh")
    assert hop.status_code == 302 and hop.headers["location"] == "https://github.com/fazt-sh"
    assert srv.get("/r/bad").status_code == 404


def test_webhooks_keep_their_secrets_and_v09_signatures(migrated):
    srv = migrated[4]
    payload = b'{"event": "push"}'
    sign = hmac.new(b"s3cret", payload, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json"}
    bad = srv.request(
        "POST",
        "/webhook/github-deploy",
        content=payload,
        headers={**headers, "x-webhook-signature": "0" * 64},
    )
    assert bad.status_code == 401
    ok = srv.request(
        "POST",
        "/webhook/github-deploy",
        content=payload,
        headers={**headers, "x-webhook-signature": sign},
    )
    assert ok.status_code == 200, ok.text
    assert srv.request("POST", "/webhook/open", content=payload, headers=headers).status_code == 200
    assert srv.request("POST", "/webhook/old-hook", content=payload).status_code == 404
    listed = {w["name"]: w for w in srv.api("GET", "/api/webhooks").json()["data"]}
    assert listed["github-deploy"]["legacy_signatures"] is True
    assert listed["open"]["signed"] is False
    events = srv.api("GET", "/api/webhook-events", params={"webhook": "github-deploy"})
    payloads = [e["payload"] for e in events.json()["data"]]
    assert '{"event": "push", "ref": "main"}' in payloads  # the delivery v0.9 stored


def test_analytics_events_are_imported(migrated):
    srv = migrated[4]
    events = srv.api("GET", "/api/events", params={"domain": "blog"}).json()["data"]
    assert sorted(e["path"] for e in events) == ["/", "/css"]
    # 11:00:00.123456789+01:00 is 10:00 UTC
    assert sorted(e["created_at"] for e in events) == ["2026-01-10T10:00:00Z"] * 2
    clicks = srv.api("GET", "/api/events", params={"source_type": "redirect"}).json()["data"]
    assert [(e["domain"], e["event_type"]) for e in clicks] == [("localhost", "gh")]
    pixels = srv.api("GET", "/api/events", params={"source_type": "pixel"}).json()["data"]
    assert [e["domain"] for e in pixels] == ["root"]  # example.com was v0.9's own domain


def test_v09_api_keys_keep_their_tokens_and_are_converted(migrated):
    srv = migrated[4]
    assert srv.api("GET", "/api/apps", token="a" * 64).status_code == 401  # no such key
    for name, token in V09_TOKENS.items():
        r = srv.api("GET", "/api/apps", token=token)
        assert r.status_code == 200, (name, r.text)
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        left = conn.execute("SELECT COUNT(*) FROM legacy_key_hashes").fetchone()[0]
        stored = {
            row[0]: row[1]
            for row in conn.execute(
                "SELECT name, token_hash FROM api_keys WHERE name IN ('laptop', 'ci')"
            )
        }
    finally:
        conn.close()
    assert left == 0  # each converted at its first use: no bcrypt check from now on
    for name, token in V09_TOKENS.items():
        assert stored[name] == hashlib.sha256(token.encode()).hexdigest()
    assert srv.api("GET", "/api/apps", token=V09_TOKENS["ci"]).status_code == 200


def test_the_v09_admin_signs_in_with_their_password(migrated):
    srv = migrated[4]
    username, password = V09_ADMIN
    login = srv.url + "/api/login"
    origin = {"origin": srv.url}
    wrong = httpx.post(login, json={"username": username, "password": "no"}, headers=origin)
    assert wrong.status_code == 401
    ok = httpx.post(login, json={"username": username, "password": password}, headers=origin)
    assert ok.status_code == 200, ok.text
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        (stored,) = conn.execute("SELECT password_hash FROM users").fetchone()
    finally:
        conn.close()
    assert stored.startswith("$argon2id$")  # re-hashed at the first login


# -- bad input: a clear error, nothing written ---------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def assert_refused(home: Path, old: Path, new: Path, words: str) -> None:
    before = file_state(old)
    result = migrate(home, str(old), "--db", str(new), check=False)
    assert result.returncode != 0
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert file_state(old) == before
    assert not new.exists()
    assert [p.name for p in new.parent.iterdir() if ".migrate-" in p.name] == []


def test_not_a_sqlite_file(home, tmp_path):
    old = tmp_path / "notes.txt"
    old.write_text("hello, not a database")
    assert_refused(home, old, tmp_path / "new.db", "is not a SQLite database file")


def test_a_sqlite_file_without_v09_tables(home, tmp_path):
    old = tmp_path / "other.db"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE things (a)")
    conn.close()
    assert_refused(home, old, tmp_path / "new.db", "not a fazt v0.9 database: table(s) api_keys")


def test_a_missing_table(home, tmp_path):
    old = build_v09_db(tmp_path / "old.db")
    conn = sqlite3.connect(old)
    conn.execute("DROP TABLE webhooks")
    conn.close()
    assert_refused(home, old, tmp_path / "new.db", "table(s) webhooks missing")


def test_a_database_of_this_fazt(home, tmp_path):
    mine = tmp_path / "mine.db"
    run_cli(home, "server", "init", "--db", str(mine), "--password", "longenough1", input="")
    assert_refused(home, mine, tmp_path / "new.db", "a database of this fazt")


@pytest.mark.parametrize(
    ("fraction", "words"),
    [
        (0.0, "cannot be read as SQLite"),  # every page after the first: the schema
        (0.9, "reading "),  # the last pages: found in the middle of the import
    ],
)
def test_a_corrupt_file(home, tmp_path, fraction, words):
    old = build_v09_db(tmp_path / "old.db")
    data = bytearray(old.read_bytes())
    start = max(1, int(len(data) // 4096 * fraction)) * 4096
    data[start:] = b"\xde\xad" * ((len(data) - start) // 2)
    old.write_bytes(bytes(data))
    assert_refused(home, old, tmp_path / "new.db", words)


def test_an_existing_target_is_never_changed(home, tmp_path):
    old = build_v09_db(tmp_path / "old.db")
    target = tmp_path / "data.db"
    target.write_bytes(b"someone's database")
    result = migrate(home, str(old), "--db", str(target), check=False)
    assert result.returncode != 0 and "exists" in result.stderr
    assert target.read_bytes() == b"someone's database"


def test_default_target_is_the_data_path(home, tmp_path):
    old = build_v09_db(tmp_path / "old.db")
    migrate(home, str(old))
    assert (home / "data.db").stat().st_mode & 0o077 == 0  # the owner's only, as fazt's own


def test_dry_run_writes_nothing(home, tmp_path):
    old = build_v09_db(tmp_path / "old.db")
    new = tmp_path / "new.db"
    report = report_of(migrate(home, str(old), "--db", str(new), "--json", "--dry-run"))
    assert report["verified"] is True and report["dry_run"] is True
    assert kind(report, "sites")["imported"] == 4
    assert not new.exists()
    assert sorted(os.listdir(tmp_path)) == ["home", "old.db"]


def test_corrupt_rows_are_skipped_with_reasons(home, tmp_path):
    old = build_v09_db(tmp_path / "old.db")
    conn = sqlite3.connect(old)
    with conn:
        conn.execute(
            "INSERT INTO files (site_id, path, content, size_bytes, hash) "
            "VALUES ('blog', 'tampered.html', x'00', 1, 'abc')"
        )
        conn.execute(
            "INSERT INTO files (site_id, path, content, size_bytes, hash) "
            "VALUES ('blog', 'empty.html', NULL, 0, 'abc')"
        )
        conn.execute("INSERT INTO kv_store (site_id, key, value) VALUES ('counter', 'b', x'ff')")
        conn.execute(
            "INSERT INTO redirects (slug, destination) VALUES ('nulltags', 'https://a.example')"
        )
        conn.execute(
            "INSERT INTO events (domain, source_type, event_type, created_at) "
            "VALUES ('x', 'web', 'pageview', 'yesterday')"
        )
        conn.execute("INSERT INTO webhooks (name, endpoint, secret) VALUES ('n', 'bin', x'00')")
    conn.close()
    new = tmp_path / "new.db"
    report = report_of(migrate(home, str(old), "--db", str(new), "--json"))
    assert report["verified"] is True
    reasons = {
        (k["kind"], i["item"]): i["reason"] for k in report["kinds"] for i in k["skipped_items"]
    }
    assert "stored sha256" in reasons["files", "blog/tampered.html"]
    assert "no content" in reasons["files", "blog/empty.html"]
    assert "not text" in reasons["kv", "counter/b"]
    assert "cannot be read" in reasons["events", "event 6"]
    assert "not printable" in reasons["webhooks", "bin"]
    assert kind(report, "redirects")["imported"] == 3  # NULL tags: no tags


def test_a_running_v09_server_is_read_from_its_write_ahead_log(home, tmp_path):
    """v0.9 still running: rows only in its -wal file are imported, and the main file is
    not checkpointed by the import."""
    old = build_v09_db(tmp_path / "old.db")
    running = sqlite3.connect(old)
    try:
        running.execute("PRAGMA wal_autocheckpoint = 0")
        with running:
            running.execute(
                "INSERT INTO redirects (slug, destination, tags) "
                "VALUES ('fresh', 'https://e.example/fresh', 'new')"
            )
        assert (tmp_path / "old.db-wal").stat().st_size > 0
        before = file_state(old)
        new = tmp_path / "new.db"
        report = report_of(migrate(home, str(old), "--db", str(new), "--json"))
        assert file_state(old) == before
    finally:
        running.close()
    assert kind(report, "redirects")["imported"] == 3
    conn = sqlite3.connect(new)
    try:
        row = conn.execute("SELECT url, tags FROM redirects WHERE slug = 'fresh'").fetchone()
    finally:
        conn.close()
    assert row == ("https://e.example/fresh", '["new"]')
