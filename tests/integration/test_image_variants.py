"""Resized image variants against a real server: `?w=` and `?format=` on a site's images
(dimensions, format, EXIF orientation applied, metadata stripped), refusals, the cache."""

import hashlib
import io
import sqlite3
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import FaztServer, running_server, wait_for, write_site

RED, BLUE = (230, 20, 20), (20, 20, 230)
GPS_IFD, ORIENTATION = 0x8825, 0x0112


@pytest.fixture
def server(shared_server: FaztServer) -> FaztServer:
    return shared_server


def rotated_photo() -> bytes:
    """A 2000x1000 JPEG stored sideways (left half red, right half blue) whose EXIF says
    "turn 90 degrees clockwise" (orientation 6), with a GPS position and a camera name."""
    im = Image.new("RGB", (2000, 1000), BLUE)
    im.paste(RED, (0, 0, 1000, 1000))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "SecretCam"  # Make
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    body = zlib.compress(b"\x00" * (width + 1) * 4)  # a few rows; never decoded
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (300, 200), color) for color in (RED, BLUE, (20, 230, 20))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def transparent_png() -> bytes:
    im = Image.new("RGBA", (800, 400), (0, 0, 0, 0))
    im.paste((10, 200, 10, 255), (0, 0, 400, 400))
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def site(server: FaztServer, tmp_path: Path, site_name: str) -> str:
    write_site(
        tmp_path / "site",
        {
            "photo.jpg": rotated_photo(),
            "bomb.png": png_bomb(),
            "anim.gif": animated_gif(),
            "logo.png": transparent_png(),
            "broken.jpg": b"\xff\xd8\xff\xe0 not really a jpeg" * 10,
            "index.html": "<h1>home</h1>",
        },
    )
    server.deploy(tmp_path / "site", site_name)
    return f"{site_name}.localhost"


def image(resp) -> Image.Image:
    assert resp.status_code == 200, resp.text
    return Image.open(io.BytesIO(resp.content))


def test_variant_is_upright_resized_and_stripped(server: FaztServer, site: str) -> None:
    resp = server.get("/photo.jpg?w=640", host=site)
    im = image(resp)
    assert resp.headers["content-type"] == "image/jpeg"
    assert im.format == "JPEG"
    # Displayed 1000x2000 (turned by its orientation), scaled to 640 wide.
    assert im.size == (640, 1280)
    # Turned clockwise: the stored left half (red) is now the top.
    top, bottom = im.getpixel((320, 100)), im.getpixel((320, 1180))
    assert top[0] > 180 and top[2] < 80, top
    assert bottom[2] > 180 and bottom[0] < 80, bottom
    # No EXIF at all: no GPS position, no camera, no orientation left to apply twice.
    assert dict(im.getexif()) == {}
    assert "exif" not in im.info and "xmp" not in im.info
    assert b"SecretCam" not in resp.content and b"GPS" not in resp.content
    original = server.get("/photo.jpg", host=site)
    assert b"SecretCam" in original.content  # the original is served as deployed
    assert resp.headers["cache-control"] == original.headers["cache-control"]
    assert resp.headers["etag"] != original.headers["etag"]


def test_webp_and_png_formats(server: FaztServer, site: str) -> None:
    resp = server.get("/photo.jpg?w=320&format=webp", host=site)
    im = image(resp)
    assert (im.format, im.size, resp.headers["content-type"]) == ("WEBP", (320, 640), "image/webp")
    assert dict(im.getexif()) == {}
    # JPEG has no alpha: a transparent PNG as JPEG is flattened on white, not black.
    flat = image(server.get("/logo.png?w=160&format=jpg", host=site))
    assert flat.format == "JPEG" and flat.size == (160, 80)
    assert min(flat.getpixel((150, 40))) > 230
    kept = image(server.get("/logo.png?w=160", host=site))  # no format: the source's
    assert kept.format == "PNG" and kept.mode == "RGBA"
    assert kept.getpixel((150, 40))[3] == 0


def test_never_upscales(server: FaztServer, site: str) -> None:
    im = image(server.get("/photo.jpg?w=2560", host=site))
    assert im.size == (1000, 2000)
    same = image(server.get("/photo.jpg?format=webp", host=site))  # no width: its own
    assert same.size == (1000, 2000) and same.format == "WEBP"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("w=641", "BAD_IMAGE_WIDTH"),
        ("w=0", "BAD_IMAGE_WIDTH"),
        ("w=-640", "BAD_IMAGE_WIDTH"),
        ("w=%20640", "BAD_IMAGE_WIDTH"),
        ("w=99999999999999999999", "BAD_IMAGE_WIDTH"),
        ("w=640&format=gif", "BAD_IMAGE_FORMAT"),
        ("format=bmp&w=", "BAD_IMAGE_FORMAT"),
        ("format=../../etc", "BAD_IMAGE_FORMAT"),
    ],
)
def test_bad_width_or_format_is_400(server: FaztServer, site: str, query: str, code: str) -> None:
    resp = server.get(f"/photo.jpg?{query}", host=site)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == code
    assert ("160, 320, 640" in error["message"]) == (code == "BAD_IMAGE_WIDTH")
    assert ("jpeg, png, webp" in error["message"]) == (code == "BAD_IMAGE_FORMAT")


def test_non_images_ignore_the_query(server: FaztServer, site: str) -> None:
    # `?w=` may mean anything to a page's own script: HTML is served as it is.
    resp = server.get("/index.html?w=oops&format=webp", host=site)
    assert resp.status_code == 200 and resp.text.startswith("<h1>home</h1>")
    # Other query parameters on an image are not ours either.
    for query in ("v=3", "w=", "w", "format&w="):  # blank: no variant named
        plain = server.get(f"/photo.jpg?{query}", host=site)
        assert plain.status_code == 200 and b"SecretCam" in plain.content


def test_decompression_bomb_and_broken_images_are_422(server: FaztServer, site: str) -> None:
    resp = server.get("/bomb.png?w=160", host=site)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "IMAGE_TOO_LARGE"
    assert "image_max_pixels" in resp.json()["error"]["message"]
    resp = server.get("/broken.jpg?w=160", host=site)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "IMAGE_UNREADABLE"
    assert server.get("/health").status_code == 200


def test_animated_gif_is_served_as_it_is(server: FaztServer, site: str) -> None:
    original = server.get("/anim.gif", host=site)
    assert Image.open(io.BytesIO(original.content)).n_frames == 3
    for _ in range(2):  # the decision is cached too
        resp = server.get("/anim.gif?w=160&format=webp", host=site)
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "image/gif"
        assert resp.content == original.content


def test_variant_is_encoded_once_and_revalidates(server: FaztServer, site: str) -> None:
    first = server.get("/photo.jpg?w=960&format=webp", host=site)
    assert first.status_code == 200 and first.headers["x-fazt-variant"] == "miss"
    second = server.get("/photo.jpg?w=960&format=webp", host=site)
    assert second.headers["x-fazt-variant"] == "hit"
    assert second.content == first.content
    etag = first.headers["etag"]
    assert second.headers["etag"] == etag
    assert "vary" not in first.headers  # the URL alone decides the answer
    again = server.get("/photo.jpg?w=960&format=webp", host=site, headers={"if-none-match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    other = server.get("/photo.jpg?w=960&format=png", host=site)
    assert other.headers["x-fazt-variant"] == "miss" and other.headers["etag"] != etag


def test_concurrent_requests_share_one_encode(server: FaztServer, site: str) -> None:
    def fetch(_: int) -> tuple[int, str, bytes]:
        resp = server.get("/photo.jpg?w=1280&format=avif", host=site)
        return resp.status_code, resp.headers.get("x-fazt-variant", ""), resp.content

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(fetch, range(6)))
    assert {status for status, _, _ in results} == {200}
    assert sorted(how for _, how, _ in results) == ["hit"] * 5 + ["miss"]
    assert len({body for _, _, body in results}) == 1


def test_variant_after_the_original_is_cached(server: FaztServer, site: str) -> None:
    # The original in the static cache is answered on the hot path; a variant's query
    # must still reach the resizer.
    for _ in range(2):
        assert server.get("/logo.png", host=site).status_code == 200
    im = image(server.get("/logo.png?w=320", host=site))
    assert im.size == (320, 160)


def test_variant_survives_a_restart(fresh_server: FaztServer, tmp_path: Path) -> None:
    write_site(tmp_path / "s", {"p.jpg": rotated_photo()})
    fresh_server.deploy(tmp_path / "s", "keep")
    first = fresh_server.get("/p.jpg?w=160", host="keep.localhost")
    assert first.headers["x-fazt-variant"] == "miss"
    fresh_server.stop()
    fresh_server.start()
    again = fresh_server.get("/p.jpg?w=160", host="keep.localhost")
    assert again.headers["x-fazt-variant"] == "hit"
    assert again.content == first.content


def noisy_photo(seed: int) -> bytes:
    """A 2400x1600 JPEG of noise: slow to decode in full and to encode as PNG (~1 s)."""
    im = Image.effect_noise((2400, 1600), 60 + seed).convert("RGB")
    out = io.BytesIO()
    im.save(out, "JPEG", quality=95)
    return out.getvalue()


PHOTOS = 5


def test_a_burst_of_cold_variants_waits_its_turn_then_503(tmp_path: Path) -> None:
    settings = {"image_encodes_at_once": "1", "image_queue_seconds": "0.1"}
    with running_server(tmp_path / "home", settings) as srv:
        write_site(tmp_path / "s", {f"p{i}.jpg": noisy_photo(i) for i in range(PHOTOS)})
        srv.deploy(tmp_path / "s", "burst")

        def fetch(i: int) -> tuple[int, str]:
            # Full size as PNG: no reduced-scale decode, a slow encode.
            resp = srv.get(f"/p{i}.jpg?format=png", host="burst.localhost")
            return resp.status_code, resp.text if resp.status_code != 200 else ""

        with ThreadPoolExecutor(PHOTOS) as pool:
            results = list(pool.map(fetch, range(PHOTOS)))
        statuses = sorted(status for status, _ in results)
        # One encode at a time, 0.1 s of queue: the first gets through, not all of them.
        assert statuses[0] == 200 and statuses[-1] == 503, results
        assert set(statuses) == {200, 503}
        busy = next(text for status, text in results if status == 503)
        assert '"IMAGE_BUSY"' in busy
        # Nothing stays stuck: a refused variant is made when asked again.
        refused = next(i for i, (status, _) in enumerate(results) if status == 503)
        assert wait_for(lambda: fetch(refused)[0] == 200, 60, what="the refused variant")


def test_variants_go_with_their_source(server: FaztServer, tmp_path: Path, site_name: str) -> None:
    photo = rotated_photo() + site_name.encode()  # bytes of this test's own
    write_site(tmp_path / "own", {"mine.jpg": photo})
    server.deploy(tmp_path / "own", site_name)
    host = f"{site_name}.localhost"
    assert server.get("/mine.jpg?w=160", host=host).headers["x-fazt-variant"] == "miss"
    sha = hashlib.sha256(photo).hexdigest()

    def stored() -> list[str]:
        conn = sqlite3.connect(f"file:{server.db}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT encoding FROM blob_variants WHERE sha256 = ?", (sha,))
            return [name for (name,) in rows]
        finally:
            conn.close()

    assert wait_for(lambda: stored() == ["image:w160.jpeg"], what="the variant stored")
    assert server.api("DELETE", f"/api/apps/{site_name}").status_code == 200
    assert stored() == []


def test_format_auto_negotiates_on_accept(server: FaztServer, site: str) -> None:
    chromium = {"accept": "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"}
    old = {"accept": "image/*,*/*;q=0.8"}
    for _ in range(2):  # the second time from the caches: still negotiated
        webp = server.get("/photo.jpg?w=320&format=auto", host=site, headers=chromium)
        jpeg = server.get("/photo.jpg?w=320&format=auto", host=site, headers=old)
        assert image(webp).format == "WEBP" and image(jpeg).format == "JPEG"
        assert webp.headers["vary"] == jpeg.headers["vary"] == "Accept"
        assert webp.headers["etag"] != jpeg.headers["etag"]
    # The same bytes as asking for the format by name (one stored variant each).
    named = server.get("/photo.jpg?w=320&format=webp", host=site)
    assert named.content == webp.content and named.headers["etag"] == webp.headers["etag"]
    assert "vary" not in named.headers


def test_range_on_a_variant_like_the_original(server: FaztServer, site: str) -> None:
    whole = server.get("/photo.jpg?w=320", host=site)
    data, etag = whole.content, whole.headers["etag"]
    assert whole.headers["accept-ranges"] == "bytes"
    one = server.get("/photo.jpg?w=320", host=site, headers={"range": "bytes=10-109"})
    assert one.status_code == 206, one.text
    assert one.content == data[10:110]
    assert one.headers["content-range"] == f"bytes 10-109/{len(data)}"
    assert one.headers["content-type"] == "image/jpeg" and one.headers["etag"] == etag
    tail = server.get("/photo.jpg?w=320", host=site, headers={"range": "bytes=-7"})
    assert (tail.status_code, tail.content) == (206, data[-7:])
    many = server.get("/photo.jpg?w=320", host=site, headers={"range": "bytes=0-1,20-29"})
    assert many.status_code == 206
    assert many.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert b"content-type: image/jpeg" in many.content and data[20:30] in many.content
    beyond = server.get("/photo.jpg?w=320", host=site, headers={"range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_if_range_on_a_variant(server: FaztServer, site: str) -> None:
    whole = server.get("/photo.jpg?w=320&format=webp", host=site)
    data, etag = whole.content, whole.headers["etag"]
    same = {"range": "bytes=0-9", "if-range": etag}
    assert server.get("/photo.jpg?w=320&format=webp", host=site, headers=same).content == data[:10]
    # Another variant's (or the original's) tag: the whole variant, 200.
    other = server.get("/photo.jpg", host=site).headers["etag"]
    stale = server.get(
        "/photo.jpg?w=320&format=webp", host=site, headers={"range": "bytes=0-9", "if-range": other}
    )
    assert (stale.status_code, stale.content) == (200, data)
    modified = whole.headers["last-modified"]
    by_date = server.get(
        "/photo.jpg?w=320&format=webp",
        host=site,
        headers={"range": "bytes=5-9", "if-range": modified},
    )
    assert (by_date.status_code, by_date.content) == (206, data[5:10])
