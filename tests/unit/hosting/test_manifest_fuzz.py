"""Fuzzing manifest.json: any bytes give a Manifest or InvalidManifest (a 400), nothing
else; what parse accepts survives to_json (stored with the deployment) unchanged; and the
Cache-Control values it accepts are safe to send as a header."""

import json

from hypothesis import example, given
from hypothesis import strategies as st

from fazt.hosting.manifest import LIMIT_KEYS, InvalidManifest, Manifest, parse

KEYS = [
    "name",
    "spa",
    "cache",
    "limits",
    "analytics",
    "realtime",
    "echo",
    "net",
    "allow",
    *LIMIT_KEYS,
    "other",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)
manifest_objects = st.fixed_dictionaries(
    {},
    optional={
        "name": st.none() | st.text(max_size=20) | json_values,
        "spa": st.booleans() | json_values,
        "cache": st.dictionaries(st.text(max_size=10), st.text(max_size=20)) | json_values,
        "limits": st.dictionaries(st.sampled_from([*LIMIT_KEYS, "x"]), st.integers(-1, 10**6))
        | json_values,
        "analytics": st.booleans() | json_values,
        "net": st.fixed_dictionaries(
            {}, optional={"allow": st.lists(st.text(max_size=12), max_size=3) | json_values}
        )
        | json_values,
    },
)


def parse_or_invalid(raw):
    """parse(raw), or None when it raised InvalidManifest; any other exception fails."""
    try:
        return parse(raw)
    except InvalidManifest:
        return None


def assert_sound(manifest):
    if manifest is None:
        return
    assert parse(manifest.to_json()) == manifest  # stored as to_json(), read back by parse
    for _, value in manifest.cache:  # sent as a Cache-Control header
        assert value.isascii() and value.isprintable(), value


@given(raw=st.binary(max_size=200) | st.text(max_size=200))
@example(raw=b"[" * 100_000)  # RecursionError from json.loads
@example(raw='{"a":' * 50_000)
@example(raw=b"\xef\xbb\xbf{}")  # UTF-8 BOM
@example(raw=b"\xff\xfe{\x00}\x00")  # UTF-16
def test_any_bytes_give_a_manifest_or_invalid_manifest(raw):
    assert_sound(parse_or_invalid(raw))


@given(data=manifest_objects, as_bytes=st.booleans())
@example(data={"name": ""}, as_bytes=False)  # to_json dropped the empty name
@example(data={"cache": {"*.js": "max-age=60, é"}}, as_bytes=True)  # not a header value
@example(data={"cache": {"*.js": "max-age=60\r\nSet-Cookie: a=b"}}, as_bytes=False)
def test_json_objects_parse_soundly(data, as_bytes):
    text = json.dumps(data)
    assert_sound(parse_or_invalid(text.encode() if as_bytes else text))


valid_manifests = st.builds(
    Manifest,
    name=st.none() | st.text(st.characters(codec="utf-8"), max_size=20),
    spa=st.booleans(),
    cache=st.lists(
        st.tuples(
            st.text(st.characters(codec="utf-8"), max_size=12),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
        ),
        max_size=4,
        unique_by=lambda pair: pair[0],
    ).map(tuple),
    limits=st.dictionaries(st.sampled_from(LIMIT_KEYS), st.integers(1, 10**9)).map(
        lambda d: tuple(sorted(d.items()))
    ),
    analytics=st.booleans(),
)


@given(manifest=valid_manifests)
def test_to_json_then_parse_is_the_same_manifest(manifest):
    assert parse(manifest.to_json()) == manifest
