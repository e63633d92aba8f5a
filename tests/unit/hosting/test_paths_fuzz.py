"""Properties of the one request-path spelling (canonical_path) and of the split between
files and server-side code (is_server_only), over arbitrary and hostile spellings."""

import posixpath

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fazt.hosting.paths import (
    UnsafePath,
    canonical_path,
    is_server_only,
    request_candidates,
    validate_path,
)

SEGMENT = st.text(alphabet=st.sampled_from("ab._-~%2fAPI/\\\x00\x1f é"), min_size=0, max_size=8)
RAW_PATH = st.lists(SEGMENT, max_size=8).map(lambda parts: "/" + "/".join(parts))
NAME = st.text(alphabet="abcxyz019-", min_size=1, max_size=6)


def reference(raw: str) -> str | None:
    """What canonical_path must give, by another route: posixpath's resolution."""
    if any(ord(c) < 32 or c == "\x7f" for c in raw):
        return None
    clean = "/" + posixpath.normpath("/" + raw).lstrip("/")  # normpath keeps a leading '//'
    if clean != "/" and raw.endswith(("/", "/.", "/..")):
        clean += "/"
    return clean


@given(st.text(max_size=60) | RAW_PATH)
@example("//api/main.js")
@example("/./api/main.js")
@example("/x/../api/main.js")
@example("/../../etc/passwd")
@example("/a/b/..")
@example("/a/.")
@example("")
@example("\x1f/..")  # found by the long profile: a control character '..' removed
def test_canonical_path_is_resolved_and_matches_the_reference(raw):
    clean = canonical_path(raw)
    assert clean == reference(raw)
    if clean is None:
        return
    assert clean.startswith("/") and "//" not in clean
    segments = clean.strip("/").split("/")
    assert "." not in segments and ".." not in segments
    assert canonical_path(clean) == clean  # idempotent: one spelling


@given(RAW_PATH)
def test_static_candidates_are_always_safe_deployment_paths(raw):
    clean = canonical_path(raw)
    if clean is None:
        return
    for candidate in request_candidates(clean):
        try:
            assert validate_path(candidate) == candidate
        except UnsafePath:
            # Only characters a deployment path can never hold (so nothing can match).
            assert "\\" in candidate or len(candidate) > 1024


def noisy(path: str, noise: list[int]) -> str:
    """`path` spelled with extra '//', './' and 'x/../' between its segments."""
    out = ""
    for i, part in enumerate(path.split("/")):
        kind = noise[i % len(noise)] if noise else 0
        out += ("/", "//", "/./", "/zz/../", "/./zz/..//")[kind] + part
    return out


@given(
    st.sampled_from(["api/{n}.js", "api/{n}/{n}.js", "api/_{n}/x.json", "main.js", "private/{n}"]),
    NAME,
    st.lists(st.integers(0, 4), max_size=6),
)
def test_every_spelling_of_server_side_code_is_recognised(template, name, noise):
    path = template.format(n=name)
    assert is_server_only(path)
    clean = canonical_path(noisy(path, noise))
    assert clean == "/" + path
    # The static server tries these candidates and skips every server-side one.
    assert all(is_server_only(c) for c in request_candidates(clean) if c == path)


@pytest.mark.parametrize(
    ("path", "server_only"),
    [
        ("api/x.js", True),
        ("api/a/b.js", True),
        ("api/_lib/config.json", True),
        ("api/a/_helpers.json", True),
        ("api/data.json", False),
        ("api/readme.txt", False),
        ("main.js", True),
        ("js/main.js", False),
        ("private/a.txt", True),
        ("privately.html", False),
        ("apix/a.js", False),
        ("index.html", False),
    ],
)
def test_what_is_server_side(path, server_only):
    assert is_server_only(path) is server_only
