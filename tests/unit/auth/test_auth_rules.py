"""The auth rules fazt.api.request_auth applies to requests, checked without a server:
lifetimes from the settings (bad values fall back), the scheme behind a proxy, the
session's Set-Cookie and the CSRF refusal."""

import ipaddress

import pytest

from fazt.auth import clientip, csrf, policy, sessions
from fazt.db import settings

DEFAULTS = {key: settings.DEFAULTS[key] for key in policy.KEYS}


def values(**changed: str) -> dict[str, str]:
    return {**DEFAULTS, **changed}


def test_lifetimes_come_from_the_settings() -> None:
    given = values(session_ttl_seconds="7200", session_max_age_hours="3")
    assert policy.session_ttl(given) == 7200
    assert policy.session_max_age(given) == 3 * 3600


@pytest.mark.parametrize("bad", ["0", "-5", "1.5", "", "lots"])
def test_a_bad_lifetime_falls_back_to_the_default(bad: str, caplog) -> None:
    given = values(session_ttl_seconds=bad, session_max_age_hours=bad)
    assert policy.session_ttl(given) == int(settings.DEFAULTS["session_ttl_seconds"])
    assert policy.session_max_age(given) == int(settings.DEFAULTS["session_max_age_hours"]) * 3600
    assert "is not an integer from 1 to" in caplog.text


def test_lifetimes_above_the_ceiling_fall_back() -> None:
    hours = policy.MAX_SESSION_HOURS
    assert policy.session_max_age(values(session_max_age_hours=str(hours))) == hours * 3600
    too_long = values(
        session_ttl_seconds=str(hours * 3600 + 1), session_max_age_hours=str(hours + 1)
    )
    assert policy.session_ttl(too_long) == int(settings.DEFAULTS["session_ttl_seconds"])
    assert (
        policy.session_max_age(too_long) == int(settings.DEFAULTS["session_max_age_hours"]) * 3600
    )


def test_a_bad_trusted_proxies_setting_trusts_nobody() -> None:
    assert policy.trusted_proxies(values(trusted_proxies="10.0.0.0/8, nonsense")) == ()
    assert policy.trusted_proxies(values(trusted_proxies="10.0.0.0/8")) == (
        ipaddress.ip_network("10.0.0.0/8"),
    )


PROXY = (ipaddress.ip_network("10.0.0.1/32"),)


@pytest.mark.parametrize(
    ("tls", "forwarded", "peer", "expected"),
    [
        (True, None, "203.0.113.9", "https"),
        (False, None, "10.0.0.1", "http"),
        (False, " HTTPS ", "10.0.0.1", "https"),  # a trusted proxy terminated TLS
        (False, "https", "203.0.113.9", "http"),  # anyone else may not claim it
        (False, "http", "10.0.0.1", "http"),
    ],
)
def test_scheme_believes_only_a_trusted_proxy(tls, forwarded, peer, expected) -> None:
    assert clientip.scheme(tls, forwarded, peer, PROXY) == expected


def test_session_cookie_over_http_and_https() -> None:
    assert sessions.set_cookie("tok", 60, https=False) == (
        "fazt_session=tok; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
    )
    assert sessions.set_cookie("tok", 60, https=True) == (
        "__Host-fazt_session=tok; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
    )


def test_csrf_refusal_names_the_reason() -> None:
    token = "s" * 43
    good = csrf.mask(token)
    here = ("https://admin.example.com", None, "https", "admin.example.com")
    assert csrf.refusal(*here, token, good) is None
    assert csrf.refusal(*here, token, None) == "missing or wrong CSRF token; reload the page"
    assert csrf.refusal(*here, token, csrf.mask("x" * 43)) is not None
    evil = ("https://evil.example.com", None, "https", "admin.example.com")
    assert csrf.refusal(*evil, token, good) == "cross-origin request refused"
    # no Origin and no Referer (a script, not a tricked browser): the token alone decides
    assert csrf.refusal(None, None, "https", "admin.example.com", token, good) is None
