"""Site names are DNS labels; some are reserved."""

import pytest

from fazt.hosting.names import InvalidSiteName, validate_domain, validate_site_name


@pytest.mark.parametrize("name", ["a", "blog", "my-site", "a1", "123", "x" * 63, "a-b-c"])
def test_valid_site_names(name):
    assert validate_site_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "1-63"),
        ("x" * 64, "1-63"),
        ("-blog", "hyphen"),
        ("blog-", "hyphen"),
        ("-", "hyphen"),
        ("Blog", "lower-case"),
        ("BLOG", "lower-case"),
        ("my_site", "lower-case"),
        ("my.site", "lower-case"),
        ("my site", "lower-case"),
        ("café", "lower-case"),
        ("a--b", "--"),
        ("blog--42", "--"),
        ("admin", "reserved"),
        ("api", "reserved"),
        ("www", "reserved"),
        ("localhost", "reserved"),
        ("mail", "reserved"),
    ],
)
def test_invalid_site_names(name, reason):
    with pytest.raises(InvalidSiteName, match=reason):
        validate_site_name(name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", "example.com"),
        ("Blog.Example.COM.", "blog.example.com"),
        (" www.example.org ", "www.example.org"),
        ("a-b.c-d.example", "a-b.c-d.example"),
    ],
)
def test_valid_domains(raw, expected):
    assert validate_domain(raw) == expected


@pytest.mark.parametrize(
    "raw", ["localhost", "", "a..b", ".example.com", "-a.example.com", "a_b.example.com", "a b.c"]
)
def test_invalid_domains(raw):
    with pytest.raises(ValueError):
        validate_domain(raw)
