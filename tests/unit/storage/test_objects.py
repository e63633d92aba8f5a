"""fazt.storage.s3 through AppStorage: binary and text objects, paths, limits, isolation."""

import base64
import hashlib
import json

import pytest

from fazt.db import settings
from fazt.storage import objects
from fazt.storage.bindings import StorageError


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def get(st, path):
    raw = st.s3_get(path)
    if raw is None:
        return None
    found = json.loads(raw)
    found["data"] = base64.b64decode(found.pop("data_b64"))
    return found


def paths(st, prefix=""):
    return [o["path"] for o in json.loads(st.s3_list(prefix))]


def test_binary_round_trip_with_metadata(st):
    data = bytes(range(256)) * 3 + b"\x00\xff"
    meta = json.loads(st.s3_put("img/a.bin", b64(data), "image/png"))
    assert meta == {
        "path": "img/a.bin",
        "size": len(data),
        "mime": "image/png",
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    found = get(st, "img/a.bin")
    assert found["data"] == data and found["size"] == len(data)
    assert found["mime"] == "image/png" and found["sha256"] == meta["sha256"]
    assert found["updatedAt"].endswith("Z")


def test_text_round_trip_as_utf8(st):
    text = "héllo ☃ 𝄞\n"
    st.s3_put("t.txt", b64(text.encode()), "text/plain; charset=utf-8")
    found = get(st, "t.txt")
    assert found["data"].decode() == text
    assert found["size"] == len(text.encode()) and found["mime"] == "text/plain; charset=utf-8"


def test_empty_object_and_default_mime(st):
    meta = json.loads(st.s3_put("empty", "", None))
    assert meta["size"] == 0 and meta["mime"] == objects.DEFAULT_MIME
    assert meta["sha256"] == hashlib.sha256(b"").hexdigest()
    assert get(st, "empty")["data"] == b""


def test_put_overwrites_and_delete(st):
    st.s3_put("f", b64(b"one"), "text/plain")
    st.s3_put("f", b64(b"two!"), "application/json")
    found = get(st, "f")
    assert found["data"] == b"two!" and found["mime"] == "application/json"
    assert found["size"] == 4
    assert paths(st) == ["f"]
    assert st.s3_delete("f") is True
    assert st.s3_get("f") is None
    assert st.s3_delete("f") is False


def test_paths_are_normalised(st):
    st.s3_put("/a//b///c.txt", b64(b"x"))
    assert paths(st) == ["a/b/c.txt"]
    assert get(st, "a/b/c.txt")["data"] == b"x"
    assert get(st, "//a/b/c.txt")["path"] == "a/b/c.txt"
    assert st.s3_delete("/a/b//c.txt") is True


@pytest.mark.parametrize("path", ["", "/", "//", None, 3, "a\nb", "a\x00b", "x" * 1025])
def test_bad_paths_are_refused(st, path):
    with pytest.raises(StorageError):
        st.s3_put(path, b64(b"x"))


def test_list_is_literal_case_sensitive_prefix_sorted(st):
    for p in ["uploads/b", "uploads/a", "Uploads/c", "uploadsX", "up%/x", "up_/y", "z"]:
        st.s3_put(p, b64(p.encode()), "text/plain")
    assert paths(st, "uploads/") == ["uploads/a", "uploads/b"]
    assert paths(st, "/uploads/") == ["uploads/a", "uploads/b"]
    assert paths(st, "up%") == ["up%/x"]
    assert paths(st, "up_") == ["up_/y"]
    assert paths(st) == sorted(
        ["uploads/b", "uploads/a", "Uploads/c", "uploadsX", "up%/x", "up_/y", "z"]
    )
    entry = json.loads(st.s3_list("z"))[0]
    assert set(entry) == {"path", "size", "mime", "sha256", "updatedAt"}
    assert entry["size"] == 1


def test_list_is_capped(st, monkeypatch):
    monkeypatch.setattr(objects, "MAX_LIST_ENTRIES", 2)
    for p in ["c", "a", "b"]:
        st.s3_put(p, b64(b"x"))
    assert paths(st) == ["a", "b"]


def test_size_limit(st, monkeypatch):
    data = b"\xab" * objects.MAX_OBJECT_BYTES
    st.s3_put("max", b64(data))
    assert get(st, "max")["size"] == objects.MAX_OBJECT_BYTES
    with pytest.raises(StorageError, match="limit"):
        st.s3_put("over", b64(data + b"x"))
    assert st.s3_get("over") is None


@pytest.mark.parametrize("data", ["not base64!", "YQ", "YQ==\n", None, 5])
def test_bad_base64_is_refused(st, data):
    with pytest.raises(StorageError):
        st.s3_put("p", data)
    assert st.s3_get("p") is None


@pytest.mark.parametrize(
    "mime", ["text/html\r\nSet-Cookie: x=1", "nonsense", "a/b c", 5, "x" * 300 + "/y"]
)
def test_bad_mime_is_refused(st, mime):
    with pytest.raises(StorageError, match="mime"):
        st.s3_put("p", b64(b"x"), mime)


def test_apps_are_isolated(st, other):
    st.s3_put("same.txt", b64(b"one"))
    other.s3_put("same.txt", b64(b"two"))
    assert get(st, "same.txt")["data"] == b"one"
    assert get(other, "same.txt")["data"] == b"two"
    st.s3_delete("same.txt")
    assert get(other, "same.txt")["data"] == b"two"
    assert paths(st) == [] and paths(other) == ["same.txt"]


@pytest.mark.parametrize(
    "path", ["a'); DROP TABLE app_objects;--", "' OR '1'='1", "../../etc/passwd", "%", "*"]
)
def test_injection_through_paths_is_plain_text(db, st, other, path):
    other.s3_put("secret", b64(b"s"))
    st.s3_put(path, b64(b"mine"))
    assert get(st, path)["data"] == b"mine"
    assert st.s3_get("secret") is None
    assert paths(st, path) == [path.lstrip("/")]
    assert get(other, "secret")["data"] == b"s"


def test_the_size_limit_is_a_setting_named_in_the_refusal(st, db):
    db.write_sync(settings.put, "storage_max_object_bytes", str(30 * 1024 * 1024))
    big = bytes(range(256)) * (20 * 1024 * 1024 // 256)  # over the 10 MiB default
    assert json.loads(st.s3_put("big.bin", b64(big)))["size"] == len(big)
    assert get(st, "big.bin")["data"] == big
    db.write_sync(settings.put, "storage_max_object_bytes", "1000")
    with pytest.raises(
        StorageError, match=r"limit is 1000 bytes \(setting storage_max_object_bytes"
    ):
        st.s3_put("small", b64(b"x" * 1001))
    with pytest.raises(StorageError, match="storage_max_object_bytes"):  # refused before decoding
        st.s3_put("small", b64(b"x" * 5000))
    assert st.s3_get("small") is None
    st.s3_put("small", b64(b"x" * 1000))


@pytest.mark.parametrize("size", [5000, 9 * 1024 * 1024])  # substr, then a BLOB handle
def test_read_part_reads_pieces_of_one_version(st, db, size):
    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    db.write_sync(settings.put, "storage_max_object_bytes", str(16 * 1024 * 1024))
    sha = json.loads(st.s3_put("/v.bin", b64(data)))["sha256"]
    found = db.read_sync(objects.stat, "app1", "v.bin")
    assert found["size"] == size and found["sha256"] == sha and "data" not in found
    pieces = [
        db.read_sync(objects.read_part, "app1", "v.bin", sha, start, min(start + 4099, size))
        for start in range(0, size, 4099)
    ]
    assert b"".join(pieces) == data
    st.s3_put("v.bin", b64(b"new"))
    assert db.read_sync(objects.read_part, "app1", "v.bin", sha, 0, 10) == b""  # changed
    assert db.read_sync(objects.read_part, "app2", "v.bin", sha, 0, 10) == b""  # not theirs


def test_text_is_stored_as_utf8_without_base64(st, db):
    found = json.loads(st.s3_put_text("t.txt", "héllo", "text/plain"))
    assert found["size"] == 6 and get(st, "t.txt")["data"] == "héllo".encode()
    db.write_sync(settings.put, "storage_max_object_bytes", "5")
    with pytest.raises(StorageError, match="storage_max_object_bytes"):
        st.s3_put_text("t.txt", "héllo")  # 5 characters, 6 bytes
    with pytest.raises(StorageError, match="string or binary"):
        st.s3_put_text("t.txt", 5)
    assert get(st, "t.txt")["data"] == "héllo".encode()
