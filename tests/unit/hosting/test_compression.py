"""Content negotiation and compressed variants."""

import gzip
import os

import brotli
import pytest

from fazt.hosting import compression

BOTH = {"br": b"b", "gzip": b"g"}
GZIP_ONLY = {"gzip": b"g"}


@pytest.mark.parametrize(
    ("accept", "available", "expected"),
    [
        (None, BOTH, None),
        ("", BOTH, None),
        ("br", {}, None),
        ("identity", BOTH, None),
        ("deflate", BOTH, None),
        ("br", BOTH, "br"),
        ("gzip", BOTH, "gzip"),
        ("gzip, br", BOTH, "br"),  # the server's preference order decides among equals
        ("gzip, deflate, br, zstd", BOTH, "br"),
        ("BR", BOTH, "br"),
        ("br", GZIP_ONLY, None),
        ("br, gzip", GZIP_ONLY, "gzip"),
        ("br;q=0, gzip", BOTH, "gzip"),
        ("br; q=0, gzip", BOTH, "gzip"),
        ("br;q=0.0, gzip;q=0.5", BOTH, "gzip"),
        ("br;q=0.000, gzip", BOTH, "gzip"),
        ("br;q=0, gzip;q=0", BOTH, None),
        ("gzip;q=0", GZIP_ONLY, None),
        ("br;q=0.5", BOTH, "br"),
        ("*", BOTH, "br"),
        ("*", GZIP_ONLY, "gzip"),
        ("*;q=0", BOTH, None),
        # "*" covers only the codings not listed explicitly
        ("br;q=0, *", BOTH, "gzip"),
        ("gzip;q=0, *", GZIP_ONLY, None),
        ("br;q=0, gzip;q=0, *", BOTH, None),
    ],
)
def test_preferred(accept, available, expected):
    assert compression.preferred(accept, available) == expected


def test_compress_round_trips_text():
    data = b"<p>hello fazt</p>\n" * 200
    variants = compression.compress(data)
    assert set(variants) == {"br", "gzip"}
    assert brotli.decompress(variants["br"]) == data
    assert gzip.decompress(variants["gzip"]) == data
    assert all(len(v) < len(data) for v in variants.values())


def test_compress_is_deterministic():
    data = b"body { color: red }\n" * 100
    assert compression.compress(data) == compression.compress(data)


def test_compress_skips_small_and_incompressible_data():
    assert compression.compress(b"x" * (compression.MIN_BYTES - 1)) == {}
    assert compression.compress(os.urandom(64 * 1024)) == {}


def test_compress_skips_data_over_the_limit():
    assert compression.compress(b"a" * (compression.MAX_BYTES + 1)) == {}
