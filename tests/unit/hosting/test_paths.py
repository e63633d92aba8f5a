"""Deployment paths: what a stored path may look like, and what a request path maps to."""

import pytest

from fazt.hosting.paths import MAX_PATH_LENGTH, UnsafePath, request_candidates, validate_path


@pytest.mark.parametrize(
    ("url_path", "expected"),
    [
        ("/", ["index.html"]),
        ("", ["index.html"]),
        ("/docs/", ["docs/index.html"]),
        ("/a/b/", ["a/b/index.html"]),
        ("/about", ["about", "about.html", "about/index.html"]),
        ("/guide", ["guide", "guide.html", "guide/index.html"]),
        ("/style.css", ["style.css"]),
        ("/assets/app.min.js", ["assets/app.min.js"]),
        # only the last segment decides whether clean URLs apply
        ("/v1.2/readme", ["v1.2/readme", "v1.2/readme.html", "v1.2/readme/index.html"]),
        ("/dir.d/", ["dir.d/index.html"]),
        ("/a%20b.html", ["a%20b.html"]),
    ],
)
def test_request_candidates(url_path, expected):
    assert request_candidates(url_path) == expected


@pytest.mark.parametrize(
    ("url_path", "expected"),
    [
        ("/../../etc/passwd", ["etc/passwd", "etc/passwd.html", "etc/passwd/index.html"]),
        ("/a/../../../b.txt", ["b.txt"]),
        ("/docs/../", ["index.html"]),
        ("/..", ["index.html"]),
        ("/../", ["index.html"]),
        ("//x.txt", ["x.txt"]),
        ("/a//b.txt", ["a/b.txt"]),
        ("/./a/./b.txt", ["a/b.txt"]),
    ],
)
def test_request_candidates_never_escape_the_deployment(url_path, expected):
    assert request_candidates(url_path) == expected


@pytest.mark.parametrize(
    "url_path", ["/../../etc/passwd", "/a/../..", "/x/../../y/", "//..//..//z", "/./../a.css"]
)
def test_request_candidates_are_valid_deployment_paths(url_path):
    for candidate in request_candidates(url_path):
        assert validate_path(candidate) == candidate


@pytest.mark.parametrize(
    "path",
    [
        "index.html",
        "a/b/c.js",
        "a b.html",
        "café.html",
        ".well-known/x",
        "x" * MAX_PATH_LENGTH,
        "a..b/c",
    ],
)
def test_validate_path_accepts(path):
    assert validate_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "/index.html",
        "C:/Windows/x",
        "c:x",
        "a\\b",
        "..\\..\\x",
        "..",
        ".",
        "../x",
        "a/../b",
        "a/./b",
        "./a",
        "a//b",
        "a/",
        "a\x00b",
        "a\nb",
        "a\tb",
        "x" * (MAX_PATH_LENGTH + 1),
    ],
)
def test_validate_path_rejects(path):
    with pytest.raises(UnsafePath):
        validate_path(path)
