"""Static serving against a real server: URLs, 404s, SPA, MIME, caching headers,
conditional and range requests, compression, streaming of large files."""

import gzip
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import brotli
import httpx
import pytest

from tests.conftest import FaztServer, running_server, write_site

IMMUTABLE = "public, max-age=31536000, immutable"
CSS = ("body { color: #333; margin: 0 auto; }\n" * 100).encode()
JS = ("export function hello(name) { return `hello ${name}`; }\n" * 80).encode()
TEXT = ("All work and no play makes fazt a dull server.\n" * 200).encode()
SVG = ('<svg xmlns="http://www.w3.org/2000/svg">' + "<rect/>" * 200 + "</svg>").encode()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8192  # very compressible, but an image
RANGE = bytes(range(256)) * 4  # 1024 bytes, application/octet-stream

FILES: dict[str, str | bytes] = {
    "index.html": "<h1>home</h1>",
    "docs/index.html": "<h1>docs</h1>",
    "about.html": "<h1>about</h1>",
    "guide/index.html": "<h1>guide</h1>",
    "404.html": "<h1>custom not found</h1>",
    "style.css": CSS,
    "app.js": JS,
    "text.txt": TEXT,
    "logo.svg": SVG,
    "img.png": PNG,
    "photo.jpg": b"\xff\xd8\xff" + b"\x00" * 4096,
    "data.json": json.dumps({"items": list(range(200))}),
    "mod.wasm": b"\x00asm\x01\x00\x00\x00" + b"\x00" * 2048,
    "blob.xyz": b"\x01\x02\x03 unknown",
    "range.bin": RANGE,
    "empty.txt": b"",
    "a b.html": "<p>spaced</p>",
    "café.html": "<p>café</p>",
    "secret.txt": "site secret, not /etc",
    "assets/app.abc123.js": JS,
    "manifest.json": json.dumps({"cache": {"assets/*": IMMUTABLE}}),
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    sites = tmp_path_factory.mktemp("static")
    with running_server(sites / "home") as srv:
        srv.deploy(write_site(sites / "files", FILES), "files")
        srv.deploy(write_site(sites / "plain", {"index.html": "<h1>plain</h1>"}), "plain")
        spa = {
            "index.html": "<div id=app>spa shell</div>",
            "app.js": "console.log('spa')",
            "manifest.json": json.dumps({"spa": True}),
        }
        srv.deploy(write_site(sites / "spa", spa), "spa")
        yield srv


def fetch(
    srv: FaztServer,
    path: str,
    site: str = "files",
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> tuple[httpx.Response, bytes]:
    """Send `path` exactly as given (no normalisation); return the response and the raw
    body as it came off the wire (not decompressed). Asks for identity unless told."""
    all_headers = {"host": f"{site}.localhost:{srv.port}", "accept-encoding": "identity"}
    all_headers.update(headers or {})
    request = _CLIENT.build_request(method, srv.url + "/", headers=all_headers)
    request.url = request.url.copy_with(raw_path=path.encode())
    response = _CLIENT.send(request, stream=True)
    try:
        raw = b"".join(response.iter_raw())
    finally:
        response.close()
    return response, raw


# One client for the module: creating one per request costs tens of milliseconds.
_CLIENT = httpx.Client(timeout=30)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    _CLIENT.close()


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


# -- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "file"),
    [
        ("/", "index.html"),
        ("/index.html", "index.html"),
        ("/docs/", "docs/index.html"),
        ("/docs", "docs/index.html"),
        ("/docs/index.html", "docs/index.html"),
        ("/about", "about.html"),
        ("/about.html", "about.html"),
        ("/guide", "guide/index.html"),
        ("/guide/", "guide/index.html"),
        ("/style.css?v=3", "style.css"),
        ("/a%20b.html", "a b.html"),
        ("/a%20b", "a b.html"),
        ("/caf%C3%A9.html", "café.html"),
    ],
)
def test_paths_map_to_files(srv, path, file):
    r, raw = fetch(srv, path)
    assert r.status_code == 200, path
    assert raw == _bytes(FILES[file])


@pytest.mark.parametrize("path", ["/nope", "/nope.css", "/docs/nope/", "/about/x", "/a%2"])
def test_site_404_page(srv, path):
    r, raw = fetch(srv, path)
    assert r.status_code == 404
    assert raw == b"<h1>custom not found</h1>"
    assert r.headers["content-type"] == "text/html; charset=utf-8"


def test_system_404_page_without_a_site_404(srv):
    for path in ("/nope", "/nope.png", "/a/b/c/"):
        r, raw = fetch(srv, path, site="plain")
        assert r.status_code == 404
        assert b"Lost in Space" in raw
    r, raw = fetch(srv, "/", site="plain")
    assert (r.status_code, raw) == (200, b"<h1>plain</h1>")


def test_404_is_never_not_modified(srv):
    r, _ = fetch(srv, "/nope", headers={"if-none-match": "*"})
    assert r.status_code == 404
    r, _ = fetch(srv, "/nope", site="plain", headers={"if-none-match": "*"})
    assert r.status_code == 404


def test_404_ignores_range(srv):
    r, raw = fetch(srv, "/nope", headers={"range": "bytes=0-3"})
    assert r.status_code == 404
    assert raw == b"<h1>custom not found</h1>"


@pytest.mark.parametrize("path", ["/", "/dashboard", "/dashboard/settings", "/users/42/"])
def test_spa_fallback(srv, path):
    r, raw = fetch(srv, path, site="spa")
    assert r.status_code == 200
    assert raw == b"<div id=app>spa shell</div>"
    assert r.headers["cache-control"] == "no-cache"


def test_spa_serves_real_files_and_404s_missing_assets(srv):
    r, raw = fetch(srv, "/app.js", site="spa")
    assert (r.status_code, raw) == (200, b"console.log('spa')")
    for path in ("/x.png", "/assets/missing.js"):
        r, raw = fetch(srv, path, site="spa")
        assert r.status_code == 404, path
        assert b"Lost in Space" in raw


def test_no_spa_fallback_without_the_manifest_flag(srv):
    r, raw = fetch(srv, "/dashboard/settings")
    assert r.status_code == 404
    assert raw == b"<h1>custom not found</h1>"


# -- MIME and cache headers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/index.html", "text/html; charset=utf-8"),
        ("/about", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/text.txt", "text/plain; charset=utf-8"),
        ("/logo.svg", "image/svg+xml"),
        ("/img.png", "image/png"),
        ("/photo.jpg", "image/jpeg"),
        ("/data.json", "application/json"),
        ("/mod.wasm", "application/wasm"),
        ("/blob.xyz", "application/octet-stream"),
        ("/range.bin", "application/octet-stream"),
    ],
)
def test_mime_types(srv, path, content_type):
    r, _ = fetch(srv, path)
    assert r.status_code == 200
    assert r.headers["content-type"] == content_type


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [
        ("/", "no-cache"),
        ("/about", "no-cache"),
        ("/style.css", "public, max-age=3600"),
        ("/img.png", "public, max-age=3600"),
        ("/assets/app.abc123.js", IMMUTABLE),
    ],
)
def test_cache_control(srv, path, cache_control):
    r, _ = fetch(srv, path)
    assert r.status_code == 200
    assert r.headers["cache-control"] == cache_control


def test_user_site_headers_are_its_own(srv):
    r, _ = fetch(srv, "/")
    for name in ("x-frame-options", "content-security-policy", "referrer-policy"):
        assert name not in r.headers


# -- conditional requests ----------------------------------------------------------------


def test_strong_etag(srv):
    r1, _ = fetch(srv, "/style.css")
    r2, _ = fetch(srv, "/style.css")
    etag = r1.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert not etag.startswith("W/")
    assert r2.headers["etag"] == etag
    assert fetch(srv, "/app.js")[0].headers["etag"] != etag


@pytest.mark.parametrize(
    "inm", ["{etag}", '"other", {etag}', '"a","b" , {etag}', "W/{etag}", '"x", W/{etag}', "*"]
)
def test_if_none_match_gives_304(srv, inm):
    etag = fetch(srv, "/style.css")[0].headers["etag"]
    r, raw = fetch(srv, "/style.css", headers={"if-none-match": inm.format(etag=etag)})
    assert r.status_code == 304
    assert raw == b""
    assert r.headers["etag"] == etag
    assert r.headers["cache-control"] == "public, max-age=3600"


@pytest.mark.parametrize("inm", ['"nope"', 'W/"nope"', '"a", "b"'])
def test_if_none_match_mismatch_gives_200(srv, inm):
    r, raw = fetch(srv, "/style.css", headers={"if-none-match": inm})
    assert r.status_code == 200
    assert raw == CSS


def test_etag_of_one_file_does_not_match_another(srv):
    etag = fetch(srv, "/style.css")[0].headers["etag"]
    r, raw = fetch(srv, "/app.js", headers={"if-none-match": etag})
    assert (r.status_code, raw) == (200, JS)


def test_if_modified_since(srv):
    r, _ = fetch(srv, "/style.css")
    last_modified = r.headers["last-modified"]
    assert last_modified.endswith(" GMT")
    modified = parsedate_to_datetime(last_modified)
    later = format_datetime(modified + timedelta(days=1), usegmt=True)
    earlier = format_datetime(modified - timedelta(seconds=1), usegmt=True)

    for ims in (last_modified, later):
        r, raw = fetch(srv, "/style.css", headers={"if-modified-since": ims})
        assert (r.status_code, raw) == (304, b""), ims
    r, raw = fetch(srv, "/style.css", headers={"if-modified-since": earlier})
    assert (r.status_code, raw) == (200, CSS)
    r, raw = fetch(srv, "/style.css", headers={"if-modified-since": "not a date"})
    assert (r.status_code, raw) == (200, CSS)
    # If-None-Match wins over If-Modified-Since
    r, raw = fetch(
        srv, "/style.css", headers={"if-none-match": '"nope"', "if-modified-since": later}
    )
    assert (r.status_code, raw) == (200, CSS)


# -- ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, 1023),
        ("bytes=-5", 1019, 1023),
        ("bytes=1000-5000", 1000, 1023),
        ("bytes=1023-1023", 1023, 1023),
        ("bytes=-5000", 0, 1023),
    ],
)
def test_range(srv, spec, start, end):
    r, raw = fetch(srv, "/range.bin", headers={"range": spec})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {start}-{end}/1024"
    assert r.headers["content-length"] == str(end - start + 1)
    assert raw == RANGE[start : end + 1]


@pytest.mark.parametrize("spec", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range(srv, spec):
    r, _ = fetch(srv, "/range.bin", headers={"range": spec})
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */1024"


@pytest.mark.parametrize("spec", ["items=0-9", "bytes=abc", "bytes=-", "bytes=5-2"])
def test_unsupported_range_gives_full_response(srv, spec):
    r, raw = fetch(srv, "/range.bin", headers={"range": spec})
    assert (r.status_code, raw) == (200, RANGE)


def test_if_range(srv):
    etag = fetch(srv, "/range.bin")[0].headers["etag"]
    r, raw = fetch(srv, "/range.bin", headers={"range": "bytes=0-9", "if-range": etag})
    assert (r.status_code, raw) == (206, RANGE[:10])
    r, raw = fetch(srv, "/range.bin", headers={"range": "bytes=0-9", "if-range": '"stale"'})
    assert (r.status_code, raw) == (200, RANGE)
    assert "content-range" not in r.headers


def test_if_range_uses_strong_comparison(srv):
    etag = fetch(srv, "/range.bin")[0].headers["etag"]
    r, raw = fetch(srv, "/range.bin", headers={"range": "bytes=0-9", "if-range": f"W/{etag}"})
    assert (r.status_code, raw) == (200, RANGE)


def test_empty_file(srv):
    r, raw = fetch(srv, "/empty.txt")
    assert (r.status_code, raw) == (200, b"")
    assert r.headers["content-length"] == "0"
    for spec in ("bytes=0-", "bytes=0-0", "bytes=-5"):
        r, raw = fetch(srv, "/empty.txt", headers={"range": spec})
        assert r.status_code == 416, spec
        assert r.headers["content-range"] == "bytes */0"


def test_head_range(srv):
    r, raw = fetch(srv, "/range.bin", method="HEAD", headers={"range": "bytes=0-9"})
    assert r.status_code == 206
    assert r.headers["content-length"] == "10"
    assert r.headers["content-range"] == "bytes 0-9/1024"
    assert raw == b""


# -- compression -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/style.css", "/app.js", "/text.txt", "/logo.svg"])
def test_brotli_and_gzip(srv, path):
    original = _bytes(FILES[path.lstrip("/")])
    r, raw = fetch(srv, path, headers={"accept-encoding": "br"})
    assert r.headers["content-encoding"] == "br"
    assert r.headers["vary"] == "Accept-Encoding"
    assert len(raw) < len(original)
    assert brotli.decompress(raw) == original
    br_etag = r.headers["etag"]

    r, raw = fetch(srv, path, headers={"accept-encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == original
    gzip_etag = r.headers["etag"]

    r, raw = fetch(srv, path)
    assert "content-encoding" not in r.headers
    assert r.headers["vary"] == "Accept-Encoding"
    assert raw == original
    assert len({br_etag, gzip_etag, r.headers["etag"]}) == 3


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
        ("br; q=0, gzip;q=0.8", "gzip"),
        ("gzip;q=0, br;q=0", None),
        ("br;q=0, *", "gzip"),
        ("deflate", None),
        ("*", "br"),
    ],
)
def test_encoding_negotiation(srv, accept, expected):
    r, raw = fetch(srv, "/text.txt", headers={"accept-encoding": accept})
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == expected
    decode = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[expected]
    assert decode(raw) == TEXT


def test_default_client_decodes_to_the_original(srv):
    r = srv.get("/text.txt", host=f"files.localhost:{srv.port}")
    assert r.headers["content-encoding"] in ("br", "gzip")
    assert r.content == TEXT


@pytest.mark.parametrize("path", ["/img.png", "/photo.jpg", "/range.bin", "/blob.xyz"])
def test_binary_types_are_never_compressed(srv, path):
    r, raw = fetch(srv, path, headers={"accept-encoding": "br, gzip"})
    assert r.status_code == 200
    assert "content-encoding" not in r.headers
    assert raw == _bytes(FILES[path.lstrip("/")])


def test_conditional_request_on_compressed_variant(srv):
    r, _ = fetch(srv, "/text.txt", headers={"accept-encoding": "br"})
    r, raw = fetch(
        srv, "/text.txt", headers={"accept-encoding": "br", "if-none-match": r.headers["etag"]}
    )
    assert (r.status_code, raw) == (304, b"")
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["etag"].endswith('-br"')


def test_compressed_404_page(srv):
    r, raw = fetch(srv, "/nope", site="plain", headers={"accept-encoding": "gzip"})
    assert r.status_code == 404
    if r.headers.get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    assert b"Lost in Space" in raw


# -- methods -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/style.css", "identity"),
        ("/style.css", "br"),
        ("/img.png", "gzip"),
        ("/about", "identity"),
        ("/nope", "identity"),
    ],
)
def test_head_matches_get(srv, path, accept):
    get, body = fetch(srv, path, headers={"accept-encoding": accept})
    head, empty = fetch(srv, path, method="HEAD", headers={"accept-encoding": accept})
    assert empty == b""
    assert head.status_code == get.status_code
    assert head.headers["content-length"] == str(len(body))
    skip = {"date"}
    assert {k: v for k, v in head.headers.items() if k not in skip} == {
        k: v for k, v in get.headers.items() if k not in skip
    }


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(srv, method):
    r, raw = fetch(srv, "/index.html", method=method)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"
    assert json.loads(raw)["error"]["code"] == "METHOD_NOT_ALLOWED"


# -- paths that try to escape ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/../../../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/..\\..\\etc\\passwd",
        "/docs/../../../etc/passwd",
        "//etc/passwd",
    ],
)
def test_traversal_cannot_escape(srv, path):
    r, raw = fetch(srv, path)
    assert r.status_code == 404, path
    assert raw == b"<h1>custom not found</h1>"
    assert b"root:" not in raw


@pytest.mark.parametrize(
    "path",
    ["/../secret.txt", "/docs/../../secret.txt", "/%2e%2e/secret.txt", "/docs/%2e%2e/secret.txt"],
)
def test_dot_segments_are_clamped_to_the_site_root(srv, path):
    r, raw = fetch(srv, path)
    assert (r.status_code, raw) == (200, b"site secret, not /etc"), path


# -- large files and the bounded cache ---------------------------------------------------

BIG_SIZE = 12 * 1024 * 1024 + 12345  # above the 8 MB in-memory limit; not chunk-aligned


@pytest.fixture(scope="module")
def big(srv, tmp_path_factory) -> bytes:
    data = os.urandom(BIG_SIZE)
    folder = write_site(tmp_path_factory.mktemp("big") / "big", {"big.bin": data})
    srv.deploy(folder, "big")
    return data


def test_large_file_is_streamed_completely(srv, big):
    for _ in range(2):  # the second time must not be served from a truncated cache entry
        digest = hashlib.sha256()
        host = f"big.localhost:{srv.port}"
        with httpx.stream(
            "GET", srv.url + "/big.bin", headers={"host": host, "accept-encoding": "br, gzip"}
        ) as r:
            assert r.status_code == 200
            assert r.headers["content-length"] == str(BIG_SIZE)
            assert "content-encoding" not in r.headers
            assert r.headers["content-type"] == "application/octet-stream"
            for chunk in r.iter_raw():
                digest.update(chunk)
        assert digest.hexdigest() == hashlib.sha256(big).hexdigest()


def test_large_file_head_and_conditional(srv, big):
    r, raw = fetch(srv, "/big.bin", site="big", method="HEAD")
    assert (r.status_code, raw) == (200, b"")
    assert r.headers["content-length"] == str(BIG_SIZE)
    r, raw = fetch(srv, "/big.bin", site="big", headers={"if-none-match": r.headers["etag"]})
    assert (r.status_code, raw) == (304, b"")


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=262140-262150", 262140, 262150),  # across a stream chunk boundary
        ("bytes=5000000-5999999", 5000000, 5999999),
        ("bytes=-5", BIG_SIZE - 5, BIG_SIZE - 1),
        (f"bytes={BIG_SIZE - 300000}-", BIG_SIZE - 300000, BIG_SIZE - 1),
    ],
)
def test_large_file_range(srv, big, spec, start, end):
    r, raw = fetch(srv, "/big.bin", site="big", headers={"range": spec})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {start}-{end}/{BIG_SIZE}"
    assert r.headers["content-length"] == str(end - start + 1)
    assert raw == big[start : end + 1]


def test_client_leaving_mid_stream_is_not_an_error(srv, big):
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: big.localhost\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    # A full download afterwards: by then the abandoned streams have hit their closed sockets.
    with httpx.stream("GET", srv.url + "/big.bin", headers={"host": "big.localhost"}) as r:
        assert r.status_code == 200
        assert sum(len(chunk) for chunk in r.iter_raw()) == BIG_SIZE
    assert "Traceback" not in srv.output()
    assert "unhandled error" not in srv.output()


def test_large_file_unsatisfiable_range(srv, big):
    r, _ = fetch(srv, "/big.bin", site="big", headers={"range": f"bytes={BIG_SIZE}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{BIG_SIZE}"


def test_small_cache_serves_everything_correctly(tmp_path):
    """With a 1 MB cache, many files (some cached, some evicted, some streamed) all come
    back byte for byte, also when fetched concurrently."""
    with running_server(tmp_path / "home", None, "--cache-mb", "1") as srv:
        files: dict[str, bytes] = {}
        for i in range(24):
            files[f"bin/{i}.bin"] = os.urandom(60_000 + i * 1000)  # cached, then evicted
        for i in range(8):
            files[f"text/{i}.txt"] = (f"line {i} of text\n" * (5000 + i)).encode()  # + variants
        for i in range(3):
            files[f"large/{i}.bin"] = os.urandom(300_000 + i)  # above 1 MB / 4: streamed
        srv.deploy(write_site(tmp_path / "many", files), "many")

        def check(path: str) -> str | None:
            for accept in ("identity", "br"):
                r, raw = fetch(srv, "/" + path, site="many", headers={"accept-encoding": accept})
                if r.headers.get("content-encoding") == "br":
                    raw = brotli.decompress(raw)
                if r.status_code != 200 or raw != files[path]:
                    return f"{path} ({accept}): {r.status_code}, {len(raw)} bytes"
            r, raw = fetch(srv, "/" + path, site="many", headers={"range": "bytes=100-199"})
            if r.status_code != 206 or raw != files[path][100:200]:
                return f"{path} (range): {r.status_code}"
            return None

        paths = list(files)
        for order in (paths, paths[::-1]):
            with ThreadPoolExecutor(4) as pool:
                errors = [e for e in pool.map(check, order) if e]
            assert errors == []


def test_range_on_a_compressible_file_gets_identity_bytes(srv):
    # Browsers always send Accept-Encoding; a range must still address the real bytes.
    original = _bytes(FILES["app.js"])
    r, raw = fetch(srv, "/app.js", headers={"accept-encoding": "gzip, br", "range": "bytes=0-9"})
    assert r.status_code == 206
    assert "content-encoding" not in r.headers
    assert raw == original[:10]
    assert r.headers["content-range"] == f"bytes 0-9/{len(original)}"
