"""The ZIP reader applies the publishing policy: what it skips is never extracted."""

import io
import zipfile

import pytest

from fazt.hosting.archive import DeployLimits, ZipDeploy
from fazt.hosting.deployments import DeployError

LIMITS = DeployLimits(10**8, 5000, 10**7, 10**8, 200)


def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def test_skipped_entries_are_listed_and_never_read():
    files = {"index.html": b"x", ".env": b"SECRET", ".git/config": b"c", "__MACOSX/._x": b"j"}
    # a corrupt skipped entry would fail its CRC if it were extracted
    raw = bytearray(zip_of(files, zipfile.ZIP_STORED).getvalue())
    at = raw.index(b"SECRET")
    raw[at : at + 6] = b"XXXXXX"
    zipped = ZipDeploy(io.BytesIO(bytes(raw)), LIMITS)
    assert [e.path for e in zipped.entries] == ["index.html"]
    assert zipped.skipped == [".env", ".git/config"]
    assert [data for _, data in zipped.files()] == [b"x"]


def test_include_dotfiles_keeps_never_rules():
    zipped = ZipDeploy(
        zip_of({"a/.htaccess": b"h", ".env.local": b"s", "i.html": b"i"}), LIMITS, True
    )
    assert sorted(e.path for e in zipped.entries) == ["a/.htaccess", "i.html"]
    assert zipped.skipped == [".env.local"]


def test_a_faztignore_too_costly_to_apply_is_refused():
    patterns = "\n".join(f"*p{i}*q*r*s*" for i in range(100)).encode()
    files = {f"{'d' * 900}/{i:04d}.html": b"x" for i in range(2300)}
    with pytest.raises(DeployError) as caught:
        ZipDeploy(zip_of({**files, ".faztignore": patterns}), LIMITS)
    assert caught.value.code == "FAZTIGNORE_TOO_LARGE"
    for too_big in ("\n".join(f"p{i}" for i in range(101)), "x" * (64 * 1024 + 1)):
        with pytest.raises(DeployError) as caught:
            ZipDeploy(zip_of({"index.html": b"i", ".faztignore": too_big.encode()}), LIMITS)
        assert caught.value.code == "FAZTIGNORE_TOO_LARGE"
    # the same files without the rules are fine
    assert len(ZipDeploy(zip_of(files), LIMITS).entries) == 2300
