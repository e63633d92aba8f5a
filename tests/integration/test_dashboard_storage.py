"""The dashboard's storage browser against a real server: kv pages and delete, document
queries with the runtime's operators, the JSON editor (bad JSON changes nothing), blobs
(images inline, everything else a sandboxed download), CSRF and logins."""

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, running_server, write_site
from tests.integration.test_auth_sessions import Browser

STAMP = "2026-01-01T00:00:00.000Z"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 20
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def seed(db, rows: dict[str, list[tuple]]) -> None:
    """Rows written straight into the server's database (WAL: the server keeps running)."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            for table, values in rows.items():
                # The table's first columns, in order (later migrations append columns).
                names = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
                columns = ", ".join(names[: len(values[0])])
                marks = ", ".join("?" * len(values[0]))
                conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("storage")
    with running_server(home / "home") as s:
        s.deploy(write_site(home / "site", {"index.html": "shop"}), "shop")
        kv = [
            ("shop", f"user:{i:03d}", json.dumps({"n": i}), None, STAMP, STAMP) for i in range(120)
        ]
        kv.append(("shop", "config", '"<b>x</b>"', None, STAMP, STAMP))
        docs = [
            (
                None,
                "shop",
                "people",
                f"p{i:03d}",
                json.dumps({"age": i, "name": f"n{i}"}),
                STAMP,
                STAMP,
            )
            for i in range(80)
        ]
        blobs = [
            (
                "shop",
                "img/dot.png",
                PNG,
                "image/png",
                len(PNG),
                hashlib.sha256(PNG).hexdigest(),
                STAMP,
                STAMP,
            ),
            (
                "shop",
                "evil.svg",
                SVG,
                "image/svg+xml",
                len(SVG),
                hashlib.sha256(SVG).hexdigest(),
                STAMP,
                STAMP,
            ),
        ]
        seed(s.db, {"app_kv": kv, "app_documents": docs, "app_objects": blobs})
        yield s


@pytest.fixture
def admin(srv) -> Iterator[Browser]:
    b = Browser(srv)
    assert b.login().status_code == 303
    yield b
    b.close()


def csrf_of(page) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def keys_on(page) -> list[str]:
    return re.findall(r'href="/apps/shop/storage/kv\?key=([^"]+)"', page.text)


def test_pages_need_a_login(srv):
    anonymous = Browser(srv)
    try:
        r = anonymous.get("/apps/shop/storage")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        r = anonymous.get("/apps/shop/storage/blob?path=img/dot.png")
        assert r.status_code == 303 and PNG not in r.content
    finally:
        anonymous.close()


def test_kv_list_pages_by_prefix_and_escapes_values(admin):
    first = admin.get("/apps/shop/storage?prefix=user:")
    assert first.status_code == 200
    keys = keys_on(first)
    assert len(keys) == 50 and keys[0] == "user%3A000" and keys[-1] == "user%3A049"
    following = re.search(r'href="([^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&")
    second = admin.get(following)
    assert keys_on(second)[0] == "user%3A050"
    everything = admin.get("/apps/shop/storage").text
    assert "&lt;b&gt;x&lt;/b&gt;" in everything and "<b>x</b>" not in everything
    assert 'action="/apps/shop/storage/kv/delete"' in everything
    one = admin.get("/apps/shop/storage/kv?key=user:007")
    assert one.status_code == 200 and "&#34;n&#34;: 7" in one.text
    assert admin.get("/apps/shop/storage/kv?key=nope").status_code == 404
    assert admin.get("/apps/nosuch/storage").status_code == 404


def test_kv_delete_needs_csrf_and_deletes(srv, admin):
    token = csrf_of(admin.get("/apps/shop/storage"))
    r = admin.post("/apps/shop/storage/kv/delete", {"key": "user:119"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "CSRF_FAILED"
    evil = admin.post(
        "/apps/shop/storage/kv/delete",
        {"key": "user:119", "csrf_token": token},
        origin="http://evil.localhost",
    )
    assert evil.status_code == 403
    assert admin.get("/apps/shop/storage/kv?key=user:119").status_code == 200
    r = admin.post("/apps/shop/storage/kv/delete", {"key": "user:119", "csrf_token": token})
    assert r.status_code == 303
    assert admin.get("/apps/shop/storage/kv?key=user:119").status_code == 404


def test_document_query_uses_the_runtime_operators_and_paginates(admin):
    page = admin.get("/apps/shop/storage/docs/people", params={"q": '{"age": {"$gte": 70}}'})
    assert page.status_code == 200
    assert "Matches 1\u201310." in page.text
    assert "p070" in page.text and "p069" not in page.text
    assert 'href="/apps/shop/storage/docs/people/edit?id=p070"' in page.text
    assert 'action="/apps/shop/storage/docs/people"' in page.text
    assert 'action="/apps/shop/storage/docs/people/delete"' in page.text
    ordered = admin.get(
        "/apps/shop/storage/docs/people",
        params={"q": '{"age": {"$in": [3, 5]}}', "sort": '{"age": -1}'},
    ).text
    assert ordered.index("p005") < ordered.index("p003")
    all_docs = admin.get("/apps/shop/storage/docs/people").text
    assert "80 documents; showing 1\u201350" in all_docs and 'rel="next"' in all_docs
    many = admin.get("/apps/shop/storage/docs/people", params={"q": '{"age": {"$gte": 10}}'})
    assert "Matches 1\u201350, and more." in many.text and 'rel="next"' in many.text
    second = admin.get("/apps/shop/storage/docs/people?offset=50").text
    assert "p050" in second and "p049" not in second
    # An operator the runtime does not have, or a query that is not JSON: a 400, the reason.
    bad = admin.get("/apps/shop/storage/docs/people", params={"q": '{"age": {"$where": 1}}'})
    assert bad.status_code == 400 and "$where" in bad.text
    bad = admin.get("/apps/shop/storage/docs/people", params={"q": "{age: 1"})
    assert bad.status_code == 400 and "not valid JSON" in bad.text


def _doc(srv, doc_id: str) -> tuple[str, str]:
    conn = sqlite3.connect(srv.db)
    try:
        return conn.execute(
            "SELECT data, updated_at FROM app_documents WHERE id = ?", (doc_id,)
        ).fetchone()
    finally:
        conn.close()


def test_document_edit_refuses_bad_json_and_changes_nothing(srv, admin):
    form = admin.get("/apps/shop/storage/docs/people/edit?id=p001")
    assert form.status_code == 200 and "&#34;age&#34;: 1" in form.text
    assert 'action="/apps/shop/storage/docs/people/edit"' in form.text
    token = csrf_of(form)
    before = _doc(srv, "p001")
    url = "/apps/shop/storage/docs/people/edit"
    for text, reason in (
        ('{"age": 2,', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"age": NaN}', "not valid JSON"),
    ):
        r = admin.post(url, {"csrf_token": token, "id": "p001", "json": text})
        assert r.status_code == 400 and reason in r.text, r.text
        assert text.replace('"', "&#34;") in r.text  # the typed text is kept for fixing
        assert _doc(srv, "p001") == before
    r = admin.post(url, {"id": "p001", "json": '{"age": 2}'})  # no CSRF token
    assert r.status_code == 403 and _doc(srv, "p001") == before
    r = admin.post(url, {"csrf_token": token, "id": "p001", "json": '{"age": 41, "id": "x"}'})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=doc-saved")
    data, updated = _doc(srv, "p001")
    assert json.loads(data) == {"age": 41} and updated != before[1]
    r = admin.post(url, {"csrf_token": token, "id": "gone", "json": "{}"})
    assert r.status_code == 404


def test_document_delete(srv, admin):
    token = csrf_of(admin.get("/apps/shop/storage/docs/people"))
    r = admin.post("/apps/shop/storage/docs/people/delete", {"csrf_token": token, "id": "p079"})
    assert r.status_code == 303
    assert _doc(srv, "p079") is None and _doc(srv, "p078") is not None


def test_blobs_images_inline_everything_else_a_sandboxed_download(admin):
    page = admin.get("/apps/shop/storage/blobs")
    assert page.status_code == 200
    assert '<img src="/apps/shop/storage/blob?path=img%2Fdot.png"' in page.text
    assert 'action="/apps/shop/storage/blobs/delete"' in page.text
    assert '<img src="/apps/shop/storage/blob?path=evil.svg' not in page.text
    png = admin.get("/apps/shop/storage/blob?path=img/dot.png")
    assert png.status_code == 200 and png.content == PNG
    assert png.headers["content-type"] == "image/png"
    assert png.headers["x-content-type-options"] == "nosniff"
    svg = admin.get("/apps/shop/storage/blob?path=evil.svg")
    assert svg.status_code == 200 and svg.content == SVG
    assert svg.headers["content-type"] == "application/octet-stream"
    assert svg.headers["content-disposition"].startswith("attachment")
    policies = svg.headers.get_list("content-security-policy")
    assert "default-src 'none'; sandbox" in policies
    assert admin.get("/apps/shop/storage/blob?path=nope").status_code == 404


def test_a_big_blob_downloads_in_pieces_with_ranges(srv, admin):
    big = hashlib.sha256(b"0").digest() * (9 * 1024 * 1024 // 32 + 7)  # read by BLOB handle
    sha = hashlib.sha256(big).hexdigest()
    row = ("shop", "big/video.webm", big, "video/webm", len(big), sha, STAMP, STAMP)
    seed(srv.db, {"app_objects": [row]})
    url = "/apps/shop/storage/blob?path=big/video.webm"
    whole = admin.get(url)
    assert whole.status_code == 200 and whole.content == big
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-length"] == str(len(big))
    etag = whole.headers["etag"]
    middle = admin.get(url, headers={"range": "bytes=5000000-5999999"})
    assert middle.status_code == 206 and middle.content == big[5_000_000:6_000_000]
    assert middle.headers["content-range"] == f"bytes 5000000-5999999/{len(big)}"
    tail = admin.get(url, headers={"range": "bytes=-10", "if-range": etag})
    assert (tail.status_code, tail.content) == (206, big[-10:])
    stale = admin.get(url, headers={"range": "bytes=0-9", "if-range": '"another"'})
    assert stale.status_code == 200 and len(stale.content) == len(big)
    beyond = admin.get(url, headers={"range": f"bytes={len(big)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(big)}"
