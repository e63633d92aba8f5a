"""Visitor sign-in cookies and the `next` and dev-host rules (no server needed)."""

from types import SimpleNamespace

import pytest

from fazt.api.visitor_auth import is_local_host, safe_next
from fazt.auth import visitors
from fazt.web.http import HTTPError


def test_session_cookie_over_https_is_host_prefixed_and_secure():
    line = visitors.session_cookie("tok", 60, https=True)
    assert line.startswith("__Host-fazt_visitor=tok;")
    parts = line.split("; ")
    assert {"Path=/", "HttpOnly", "SameSite=Lax", "Secure"} <= set(parts)
    assert not any(p.lower().startswith("domain") for p in parts)
    plain = visitors.session_cookie("tok", 60, https=False)
    assert plain.startswith("fazt_visitor=tok;") and "Secure" not in plain


def test_state_cookie_over_https_cannot_be_planted_by_a_sibling():
    # `__Host-` needs Path=/ and Secure, and no Domain: browsers refuse it from a sibling
    line = visitors.state_cookie("st", 600, https=True)
    assert line.startswith("__Host-fazt_auth_state=st;")
    assert "Path=/;" in line and line.endswith("Secure")
    assert visitors.state_cookie("st", 600, https=False).startswith("fazt_auth_state=st;")


@pytest.mark.parametrize("good", ["/", "/a/b?x=1&y=%2F#frag", "/guestbook", "/a//b"])
def test_next_accepts_paths_of_this_site(good):
    assert safe_next(good) == good


@pytest.mark.parametrize(
    "bad",
    ["//evil.test", "/\\evil.test", "https://evil.test", "evil", "/a b", "/é", "/a\tb", "/a\\b"],
)
def test_next_refuses_anything_else(bad):
    with pytest.raises(HTTPError) as err:
        safe_next(bad)
    assert err.value.code == "INVALID_NEXT"


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("app.localhost", True),
        ("app.localhost:8080", True),
        ("localhost", True),
        ("LOCALHOST:1", True),
        ("app.localhost.evil.test", False),
        ("evil-localhost", False),
        ("example.com", False),
        ("127.0.0.1:8080", False),
        ("[::1]:8080", False),
        ("", False),
    ],
)
def test_dev_provider_hosts(host, local):
    assert is_local_host(SimpleNamespace(host=host)) is local
