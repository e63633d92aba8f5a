"""manifest.json parsing and the Cache-Control rules it carries."""

import json

import pytest

from fazt.hosting.manifest import (
    DEFAULT_ASSET_CACHE,
    HTML_CACHE,
    InvalidManifest,
    Manifest,
    parse,
)


@pytest.mark.parametrize("raw", [None, b"", ""])
def test_empty_manifest_is_default(raw):
    assert parse(raw) == Manifest()


def test_parse_full_manifest():
    raw = json.dumps(
        {
            "name": "blog",
            "spa": True,
            "cache": {"assets/*": "public, max-age=31536000, immutable"},
            "unknown": "ignored",
        }
    ).encode()
    manifest = parse(raw)
    assert manifest.name == "blog"
    assert manifest.spa is True
    assert manifest.cache == (("assets/*", "public, max-age=31536000, immutable"),)


def test_parse_accepts_str():
    assert parse('{"spa": true}').spa is True


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"{",
        b"{'spa': true}",
        b"\xff\xfe\x00",
        b"[]",
        b'"spa"',
        b"null",
        b"42",
        b'{"name": 5}',
        b'{"name": ["a"]}',
        b'{"spa": "yes"}',
        b'{"spa": 1}',
        b'{"spa": null}',
        b'{"cache": []}',
        b'{"cache": "public"}',
        b'{"cache": {"*.js": 3600}}',
        b'{"cache": {"*.js": null}}',
        b'{"cache": {"*.js": "public\\r\\nset-cookie: a=b"}}',
        b'{"cache": {"*.js": "x\\u0000"}}',
    ],
)
def test_invalid_manifests(raw):
    with pytest.raises(InvalidManifest):
        parse(raw)


def test_invalid_manifest_is_a_value_error_with_a_reason():
    with pytest.raises(ValueError, match="spa"):
        parse(b'{"spa": "yes"}')


def test_cache_control_defaults():
    manifest = Manifest()
    assert manifest.cache_control("index.html", html=True) == HTML_CACHE == "no-cache"
    assert manifest.cache_control("app.js", html=False) == DEFAULT_ASSET_CACHE
    assert DEFAULT_ASSET_CACHE == "public, max-age=3600"


def test_cache_control_rules_first_match_wins():
    manifest = parse(
        json.dumps(
            {
                "cache": {
                    "/assets/*.html": "no-store",
                    "assets/*": "public, max-age=31536000, immutable",
                    "*.json": "no-cache",
                }
            }
        )
    )
    immutable = "public, max-age=31536000, immutable"
    assert manifest.cache_control("assets/app.js", html=False) == immutable
    assert manifest.cache_control("assets/deep/x.css", html=False) == immutable
    assert manifest.cache_control("assets/page.html", html=True) == "no-store"
    assert manifest.cache_control("data.json", html=False) == "no-cache"
    assert manifest.cache_control("app.js", html=False) == DEFAULT_ASSET_CACHE
    assert manifest.cache_control("index.html", html=True) == HTML_CACHE
    # matching is case-sensitive, like the paths themselves
    assert manifest.cache_control("ASSETS/app.js", html=False) == DEFAULT_ASSET_CACHE


def test_to_json_round_trips():
    manifest = Manifest(name="x", spa=True, cache=(("a/*", "no-store"),))
    assert parse(manifest.to_json()) == manifest
    assert json.loads(Manifest().to_json()) == {}
    quiet = parse('{"realtime": {"echo": false}}')
    assert quiet.realtime_echo is False and parse(quiet.to_json()) == quiet
    assert parse('{"realtime": {}}').realtime_echo is True  # the default: v0.9's echo


@pytest.mark.parametrize(
    "raw",
    ['{"realtime": false}', '{"realtime": {"echo": 0}}', '{"realtime": {"echo": true, "x": 1}}'],
)
def test_bad_realtime_sections_are_refused(raw):
    with pytest.raises(InvalidManifest, match="realtime"):
        parse(raw)


def test_net_allow_is_parsed_and_round_trips():
    m = parse('{"net": {"allow": ["api.example.com", "*.example.org", "x.io:8443"]}}')
    assert m.net_allow == ("api.example.com", "*.example.org", "x.io:8443")
    assert parse(m.to_json()) == m
    assert parse("{}").net_allow == ()


@pytest.mark.parametrize(
    "raw",
    [
        '{"net": ["a.com"]}',
        '{"net": {"allow": "a.com"}}',
        '{"net": {"allow": ["a.com/path"]}}',
        '{"net": {"allow": ["http://a.com"]}}',
        '{"net": {"allow": [1]}}',
        '{"net": {"deny": ["a.com"]}}',
    ],
)
def test_bad_net_sections_are_refused(raw):
    with pytest.raises(InvalidManifest, match="net"):
        parse(raw)
