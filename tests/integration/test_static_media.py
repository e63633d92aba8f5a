"""Serving media against a real server: multi-range answers, If-Range by tag and date,
no compression of compressed types, long cache headers for hashed asset names."""

import os
from email.parser import BytesParser
from email.policy import HTTP

import httpx
import pytest

from tests.conftest import FaztServer, running_server, write_site

SMALL = bytes(range(256)) * 40  # 10 KB: held in memory
BIG = os.urandom(200_000)  # sent from the disk cache
TEXT = ("compressible words, again and again.\n" * 400).encode()
FILES = {
    "small.bin": SMALL,
    "big.bin": BIG,
    "clip.webm": b"\x1a\x45\xdf\xa3" + b"\x00" * 4000,
    "photo.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 4000,
    "bundle.zip": b"PK\x03\x04" + b"\x00" * 4000,
    "notes.txt": TEXT,
    "assets/app.3f9a1c2b.js": b"console.log(1)",
    "assets/index-0a1b2c3d4e.css": b"body{}",
    "report-20240101.pdf": b"%PDF-1.4",
    "deadbeef.js": b"1",
    "page.3f9a1c2b.html": b"<p>hashed html is still revalidated</p>",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> FaztServer:
    root = tmp_path_factory.mktemp("media")
    with running_server(root / "home") as server:
        server.deploy(write_site(root / "site", FILES), "media")
        yield server


def get(srv: FaztServer, path: str, **headers: str) -> httpx.Response:
    headers = {"accept-encoding": "identity", **headers}
    return srv.get(path, host="media.localhost", headers=headers)


def parts(r: httpx.Response) -> list[tuple[str, str, bytes]]:
    """(content-type, content-range, body) of each part of a multipart/byteranges answer."""
    head = f"content-type: {r.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + r.content)
    return [
        (p["content-type"], p["content-range"], p.get_payload(decode=True))
        for p in message.iter_parts()
    ]


@pytest.mark.parametrize(("path", "data"), [("/small.bin", SMALL), ("/big.bin", BIG)])
def test_multi_range(srv, path, data):
    size = len(data)
    r = get(srv, path, range="bytes=0-9, 100-199, -5")
    assert r.status_code == 206
    assert r.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert int(r.headers["content-length"]) == len(r.content)
    assert "content-range" not in r.headers
    assert parts(r) == [
        ("application/octet-stream", f"bytes 0-9/{size}", data[:10]),
        ("application/octet-stream", f"bytes 100-199/{size}", data[100:200]),
        ("application/octet-stream", f"bytes {size - 5}-{size - 1}/{size}", data[-5:]),
    ]


@pytest.mark.parametrize("path", ["/small.bin", "/big.bin"])
def test_overlapping_ranges_are_joined(srv, path):
    data = SMALL if path == "/small.bin" else BIG
    r = get(srv, path, range="bytes=0-99,50-149,150-199")
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 0-199/{len(data)}"
    assert r.content == data[:200]


def test_head_multi_range(srv):
    r = srv.request(
        "HEAD", "/big.bin", host="media.localhost", headers={"range": "bytes=0-9,20-29"}
    )
    assert r.status_code == 206
    assert int(r.headers["content-length"]) > 20
    assert r.content == b""


@pytest.mark.parametrize("path", ["/small.bin", "/big.bin"])
def test_if_range_by_date(srv, path):
    data = SMALL if path == "/small.bin" else BIG
    modified = get(srv, path).headers["last-modified"]
    r = get(srv, path, range="bytes=0-9", **{"if-range": modified})
    assert (r.status_code, r.content) == (206, data[:10])
    r = get(srv, path, range="bytes=0-9", **{"if-range": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert (r.status_code, r.content) == (200, data)


@pytest.mark.parametrize("path", ["/small.bin", "/big.bin"])
def test_if_range_by_etag(srv, path):
    data = SMALL if path == "/small.bin" else BIG
    etag = get(srv, path).headers["etag"]
    r = get(srv, path, range="bytes=5-9", **{"if-range": etag})
    assert (r.status_code, r.content) == (206, data[5:10])
    r = get(srv, path, range="bytes=5-9", **{"if-range": '"other"'})
    assert (r.status_code, r.content) == (200, data)


@pytest.mark.parametrize("path", ["/small.bin", "/big.bin"])
def test_accept_ranges_and_416(srv, path):
    size = len(SMALL if path == "/small.bin" else BIG)
    assert get(srv, path).headers["accept-ranges"] == "bytes"
    r = get(srv, path, range=f"bytes={size}-")
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize("path", ["/clip.webm", "/photo.png", "/bundle.zip"])
def test_compressed_types_are_not_compressed_again(srv, path):
    r = get(srv, path, **{"accept-encoding": "br, gzip"})
    assert r.status_code == 200
    assert "content-encoding" not in r.headers
    assert r.content == FILES[path.lstrip("/")]


def test_text_is_compressed_when_asked(srv):
    r = get(srv, "/notes.txt", **{"accept-encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"
    assert r.content == TEXT  # httpx decodes it
    assert r.headers["vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    ("path", "immutable"),
    [
        ("/assets/app.3f9a1c2b.js", True),
        ("/assets/index-0a1b2c3d4e.css", True),
        ("/report-20240101.pdf", False),  # a date, not a hash
        ("/deadbeef.js", False),  # a word
        ("/page.3f9a1c2b.html", False),  # HTML is always revalidated
        ("/small.bin", False),
    ],
)
def test_hashed_asset_names_are_cached_for_a_year(srv, path, immutable):
    value = get(srv, path).headers["cache-control"]
    assert ("immutable" in value) is immutable, value
    if immutable:
        assert value == "public, max-age=31536000, immutable"


def test_a_manifest_rule_beats_the_hashed_name(tmp_path):
    files = {"app.3f9a1c2b.js": "1", "manifest.json": '{"cache": {"*.js": "no-store"}}'}
    with running_server(tmp_path / "home") as srv:
        srv.deploy(write_site(tmp_path / "s", files), "rules")
        r = srv.get("/app.3f9a1c2b.js", host="rules.localhost")
        assert r.headers["cache-control"] == "no-store"
