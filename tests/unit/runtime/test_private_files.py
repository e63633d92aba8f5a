"""fazt.private's path check: any text an app passes names a file under private/ or is
refused, never anything outside it."""

import posixpath

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fazt.runtime.private_files import private_path
from fazt.storage.errors import StorageError

SEGMENTS = st.sampled_from(["..", ".", "", "a", "private", "api", "x.json", "%2e%2e", "\\", "é"])


@given(st.lists(SEGMENTS, max_size=6).map("/".join) | st.text(max_size=30))
@example("../api/main.js")
@example("a/../../x")
@example("/etc/passwd")
@example("C:/x")
@example("a\x00b")
def test_a_path_stays_under_private_or_is_refused(path):
    try:
        full = private_path(path)
    except StorageError as exc:
        assert str(exc).startswith("private.read: ")
        return
    assert full.startswith("private/")
    rel = full[len("private/") :]
    assert rel and not rel.startswith("/")
    assert posixpath.normpath(full) == full  # no '.', '..' or empty segment moved it
    assert ".." not in full.split("/")


@pytest.mark.parametrize("value", [None, 5, ["a"], {"a": 1}])
def test_a_path_must_be_text(value):
    with pytest.raises(StorageError, match="must be a string"):
        private_path(value)


def test_names_are_stored_in_nfc():
    assert private_path("cafe\u0301.txt") == "private/caf\u00e9.txt"
