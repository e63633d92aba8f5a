"""Release signatures, version order and artifact selection."""

import json
from pathlib import Path

import pytest

from fazt.release import index, signing
from fazt.release.index import ReleaseError


@pytest.fixture
def key(tmp_path: Path):
    path = tmp_path / "k.pem"
    public = signing.generate_key(path)
    return signing.load_private_key(path), public


def test_signature_verifies_only_with_the_right_key_and_data(key, tmp_path):
    private, public = key
    other = signing.generate_key(tmp_path / "other.pem")
    sig = signing.sign(b"index", private)
    assert signing.verify(b"index", sig, [public])
    assert signing.verify(b"index", sig, [other, public])
    assert not signing.verify(b"index", sig, [other])
    assert not signing.verify(b"index!", sig, [public])
    assert not signing.verify(b"index", b"not base64 !!", [public])
    assert not signing.verify(b"index", b"", [public])


def test_generate_key_never_overwrites(tmp_path):
    signing.generate_key(tmp_path / "k.pem")
    with pytest.raises(FileExistsError):
        signing.generate_key(tmp_path / "k.pem")
    assert oct((tmp_path / "k.pem").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("newer", "older"),
    [("1.0.10", "1.0.9"), ("2.0.0", "1.99.99"), ("0.10.0", "0.9.8"), ("1.0.0", "1.0.0rc1")],
)
def test_versions_compare_numerically(newer, older):
    assert index.is_newer(newer, older)
    assert not index.is_newer(older, newer)


def _write_index(folder: Path, private, releases: list) -> str:
    raw = json.dumps({"name": "fazt", "releases": releases}).encode()
    (folder / "releases.json").write_bytes(raw)
    (folder / "releases.json.sig").write_bytes(signing.sign(raw, private))
    return str(folder / "releases.json")


def test_fetch_verified_and_pick(key, tmp_path, monkeypatch):
    private, public = key
    monkeypatch.setattr(index.keys, "trusted_keys", lambda: [public])
    tag = index.platform_tag()
    art = {"file": "a.tar.gz", "url": "a.tar.gz", "size": 3, "sha256": "AB"}
    url = _write_index(
        tmp_path, private, [{"version": "1.2.0", "artifacts": {tag: art}}, {"version": "1.10.0"}]
    )
    idx = index.fetch_verified(url)
    assert index.latest_version(idx) == "1.10.0"
    release = index.pick(idx, "1.2.0")
    assert release.url == str(tmp_path / "a.tar.gz")
    assert release.sha256 == "ab"
    with pytest.raises(ReleaseError) as missing:
        index.pick(idx, "9.9.9")
    assert missing.value.code == "VERSION_NOT_FOUND"
    with pytest.raises(ReleaseError) as no_asset:
        index.pick(idx, "1.10.0")
    assert no_asset.value.code == "ASSET_NOT_FOUND"


def test_unsigned_or_unreachable_index_is_refused(key, tmp_path, monkeypatch):
    private, public = key
    monkeypatch.setattr(index.keys, "trusted_keys", lambda: [public])
    url = _write_index(tmp_path, private, [])
    (tmp_path / "releases.json.sig").unlink()
    with pytest.raises(ReleaseError) as unsigned:
        index.fetch_verified(url)
    assert unsigned.value.code == "RELEASE_SOURCE_ERROR"
    with pytest.raises(ReleaseError) as gone:
        index.fetch_verified("http://127.0.0.1:9/releases.json")
    assert "cannot fetch" in str(gone.value)
