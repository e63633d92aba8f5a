"""Fuzzing the deploy ZIP reader (fazt.hosting.archive.ZipDeploy).

Any upload, however broken, either gives a validated archive or a DeployError (a 4xx),
never another exception; a validated archive only names safe relative paths within the
limits, and reading it gives back exactly the bytes that were zipped.
"""

import hashlib
import io
import warnings
import zipfile

from hypothesis import example, given
from hypothesis import strategies as st

from fazt.api.errors import status_of
from fazt.hosting.archive import DeployLimits, ZipDeploy
from fazt.hosting.deployments import DeployError
from fazt.hosting.paths import validate_path
from fazt.hosting.publishing_policy import PublishingPolicy

LIMITS = DeployLimits(
    max_upload_bytes=10 * 1024 * 1024,
    max_files=20,
    max_file_bytes=64 * 1024,
    max_total_bytes=256 * 1024,
    max_ratio=100,
)


def make_zip(files, method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", method) as archive:
        warnings.simplefilter("ignore")  # duplicate names are part of the fuzzing
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()


def open_deploy(data: bytes):
    """ZipDeploy of the bytes and everything it reads, or None for a DeployError."""
    try:
        deploy = ZipDeploy(io.BytesIO(data), LIMITS)
        try:
            return deploy, list(deploy.files())
        finally:
            deploy.close()
    except DeployError as exc:
        assert 400 <= status_of(exc) < 500 and exc.code.isupper()
        return None


def assert_within_bounds(result):
    if result is None:
        return
    deploy, files = result
    assert 0 < len(deploy.entries) <= LIMITS.max_files
    total = 0
    for entry, data in files:
        assert validate_path(entry.path) == entry.path  # relative, no '..', no backslash
        assert len(data) == entry.size <= LIMITS.max_file_bytes
        assert hashlib.sha256(data).hexdigest() == entry.sha256
        total += entry.size
    assert total <= LIMITS.max_total_bytes
    assert len({entry.path for entry in deploy.entries}) == len(deploy.entries)


# -- arbitrary and mutated archives -------------------------------------------------------


@given(data=st.binary(max_size=2000))
@example(data=b"PK\x05\x06" + b"\x00" * 18)  # an empty archive
def test_arbitrary_bytes(data):
    assert_within_bounds(open_deploy(data))


names = (
    st.lists(
        st.sampled_from([*"ab./\\:\x00-é", "..", "__MACOSX/", ".DS_Store"]), min_size=1, max_size=8
    )
    .map("".join)
    .filter(lambda name: not name.startswith("\x00"))  # zipfile itself cannot write those
)
contents = st.binary(max_size=300) | st.text(max_size=20).map(lambda t: (t * 30).encode())
entries = st.lists(st.tuples(names, contents), min_size=1, max_size=5)


def fixed_zip(method=zipfile.ZIP_DEFLATED, name="index.html") -> bytearray:
    """One compressible file, with a fixed timestamp so that offsets are known."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = method
        archive.writestr(info, b"hello world " * 200)
    return bytearray(buffer.getvalue())


def corrupt_stream(method):
    """The first byte of the compressed data flipped: the decompressor's own error."""
    data = fixed_zip(method)
    data[30 + len("index.html")] ^= 0x02
    return bytes(data)


def patched_headers(offset, value):
    """Both the local header and the central directory entry changed at `offset` (of the
    local header; the central one has the same field 2 bytes further on)."""
    data = fixed_zip()
    central = data.rindex(b"PK\x01\x02")
    data[offset : offset + 2] = value.to_bytes(2, "little")
    data[central + offset + 2 : central + offset + 4] = value.to_bytes(2, "little")
    return bytes(data)


@st.composite
def mutated_zips(draw):
    """A real archive, then bytes overwritten, inserted or cut off."""
    method = draw(
        st.sampled_from(
            [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
        )
    )
    data = bytearray(make_zip(draw(entries), method))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "byte", "insert", "truncate"]))
        if action == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "byte":
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[position:]
            if not data:
                break
    return bytes(data)


@given(data=mutated_zips())
@example(data=corrupt_stream(zipfile.ZIP_DEFLATED))  # zlib.error escaped
@example(data=corrupt_stream(zipfile.ZIP_LZMA))  # lzma.LZMAError escaped
@example(data=corrupt_stream(zipfile.ZIP_BZIP2))
@example(data=patched_headers(6, 0x0001))  # "encrypted": RuntimeError escaped
@example(data=patched_headers(8, 99))  # compression method 99: NotImplementedError escaped
@example(data=patched_headers(4, 84))  # "needs zip version 8.4": NotImplementedError
def test_mutated_archives(data):
    assert_within_bounds(open_deploy(data))


@given(files=entries)
@example(files=[("../evil.html", b"x")])
@example(files=[("/etc/passwd", b"x")])
@example(files=[("a\\..\\b", b"x")])
@example(files=[("C:/x", b"x")])
@example(files=[("evil.html\x00.png", b"x")])
@example(files=[("a/a:", b"")])  # found: "a:" after the common folder "a/" was stripped
@example(files=[("site/C:x", b""), ("site/index.html", b"")])
def test_archives_with_hostile_names(files):
    result = open_deploy(make_zip(files))
    assert_within_bounds(result)


# -- round trip ---------------------------------------------------------------------------

segments = st.text(st.sampled_from(list("abcXYZ019-_. é☃")), min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)
safe_paths = st.lists(segments, min_size=1, max_size=3).map("/".join)


@given(
    files=st.dictionaries(safe_paths, st.binary(max_size=2000), min_size=1, max_size=8),
    method=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA]),
)
def test_valid_archives_round_trip(files, method):
    files = {p: d for p, d in files.items() if not _ignored(p)}
    if not files or _has_file_dir_clash(files):
        return
    strip = _common_folder(list(files))
    stripped = {path[len(strip) :]: data for path, data in files.items()}
    # What the default publishing policy keeps (dotfiles are skipped, not published).
    published, _ = PublishingPolicy().split(list(stripped))
    result = open_deploy(make_zip(list(files.items()), method))
    if not published:  # every file skipped: EMPTY_DEPLOY, a 400
        assert result is None
        return
    assert result is not None
    _, read = result
    assert {entry.path: data for entry, data in read} == {p: stripped[p] for p in published}


def _ignored(path):
    return path.startswith("__MACOSX/") or path.rsplit("/", 1)[-1] in (".DS_Store", "Thumbs.db")


def _has_file_dir_clash(files):
    """'a' and 'a/b' both as files: a zip can hold them; they are no valid tree."""
    return any(other.startswith(path + "/") for path in files for other in files)


def _common_folder(names):
    """The documented rule: one top folder holding everything, and no root index.html."""
    if "index.html" in names or any("/" not in n for n in names):
        return ""
    first = names[0].split("/", 1)[0] + "/"
    return first if all(n.startswith(first) for n in names) else ""


# -- limits -------------------------------------------------------------------------------


@given(count=st.integers(LIMITS.max_files + 1, LIMITS.max_files * 3))
def test_too_many_files(count):
    data = make_zip([(f"f{i}.txt", b"x") for i in range(count)])
    try:
        ZipDeploy(io.BytesIO(data), LIMITS)
    except DeployError as exc:
        assert exc.code == "TOO_MANY_FILES" and status_of(exc) == 413
    else:
        raise AssertionError("accepted too many files")


@given(size=st.integers(LIMITS.max_file_bytes + 1, LIMITS.max_file_bytes * 2))
def test_a_file_over_the_limit(size):
    data = make_zip([("big.bin", b"\x00" * size)])
    try:
        ZipDeploy(io.BytesIO(data), LIMITS)
    except DeployError as exc:
        assert exc.code == "FILE_TOO_LARGE" and status_of(exc) == 413
    else:
        raise AssertionError("accepted a file over the limit")


def test_a_lying_header_is_caught_while_reading():
    """An entry whose header claims 10 bytes but inflates to more is cut off at the limit."""
    big = b"a" * (LIMITS.max_file_bytes + 10)
    data = bytearray(make_zip([("x.txt", big)]))
    real = len(big).to_bytes(4, "little")
    fake = (10).to_bytes(4, "little")
    data = bytes(data).replace(real, fake)  # both the local and the central header
    assert open_deploy(data) is None
