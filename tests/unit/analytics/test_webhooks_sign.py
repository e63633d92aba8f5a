import hashlib
import hmac

import pytest

from fazt.analytics import webhooks
from fazt.api.errors import status_of


def test_sign_and_verify_match_a_plain_hmac():
    body = b'{"event":"push"}'
    expected = "sha256=" + hmac.new(b"s3cret-s3cret-123", body, hashlib.sha256).hexdigest()
    assert webhooks.sign("s3cret-s3cret-123", body) == expected
    assert webhooks.verify("s3cret-s3cret-123", body, expected)
    assert webhooks.verify("s3cret-s3cret-123", body, expected.upper())  # hex case-insensitive
    assert not webhooks.verify("s3cret-s3cret-123", body + b" ", expected)
    assert not webhooks.verify("another-secret-456", body, expected)
    assert not webhooks.verify("s3cret-s3cret-123", body, expected[len("sha256=") :])


@pytest.mark.parametrize("name", ["", "UPPER", "-dash", "a/b", "x" * 65])
def test_bad_names(name):
    with pytest.raises(ValueError):
        webhooks.validate_name(name)


def test_event_name_from_payload_or_header():
    assert webhooks.event_name('{"type": "invoice.paid"}', {}) == "invoice.paid"
    assert webhooks.event_name("not json", {"x-github-event": "push"}) == "push"
    assert webhooks.event_name("[1, 2]", {}) == ""


SECRET = "s3cret-s3cret-123"
NOW = 1_800_000_000


def _timestamped(body: bytes, t: int = NOW, secret: str = SECRET) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _check(header: str, body: bytes = b"{}", now: float = NOW, guard=None, hook: int = 1):
    guard = guard if guard is not None else webhooks.ReplayGuard()
    return webhooks.check_signature(SECRET, body, header, hook, now=now, guard=guard)


def test_timestamped_signature_is_an_hmac_of_t_dot_body():
    assert webhooks.sign_timestamped(SECRET, b"{}", NOW) == _timestamped(b"{}")
    assert _check(_timestamped(b"{}")) == "timestamped"
    assert _check(webhooks.sign(SECRET, b"{}")) == "legacy"
    # Within the tolerance either side of our clock; a rotated secret's extra v1 is fine.
    assert _check(_timestamped(b"{}", NOW - 300)) == "timestamped"
    assert _check(_timestamped(b"{}", NOW + 300)) == "timestamped"
    other = _timestamped(b"{}", secret="the-old-secret-00").split(",")[1]
    assert _check(f"t={NOW},{other},{_timestamped(b'{}').split(',')[1]}") == "timestamped"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (_timestamped(b"{}", NOW - 301), "STALE_SIGNATURE"),
        (_timestamped(b"{}", NOW + 301), "STALE_SIGNATURE"),
        (_timestamped(b"{} "), "INVALID_SIGNATURE"),  # tampered body
        (_timestamped(b"{}", secret="the-wrong-secret"), "INVALID_SIGNATURE"),
        (_timestamped(b"{}").replace(f"t={NOW}", f"t={NOW + 1}"), "INVALID_SIGNATURE"),
        (f"t={NOW}", "INVALID_SIGNATURE"),
        (f"t=abc,v1={'0' * 64}", "INVALID_SIGNATURE"),
        (f"t={NOW},v1=zz", "INVALID_SIGNATURE"),
        ("sha256=" + "0" * 64, "INVALID_SIGNATURE"),
    ],
)
def test_timestamped_signature_refusals(header, code):
    with pytest.raises(webhooks.SignatureError) as err:
        _check(header, b"{}")
    assert err.value.code == code and status_of(err.value) == 401


def test_a_replay_is_refused_until_the_window_passes_and_memory_stays_bounded():
    guard = webhooks.ReplayGuard(capacity=2)
    header = _timestamped(b"{}")
    _check(header, guard=guard)
    with pytest.raises(webhooks.SignatureError) as err:
        _check(header, guard=guard, now=NOW + 299)
    assert err.value.code == "REPLAYED_SIGNATURE"
    # Another webhook with the same secret and body is another delivery.
    _check(header, guard=guard, hook=2)
    # Full of unexpired entries: refuse (retry later) rather than forget one.
    with pytest.raises(webhooks.SignatureError) as err:
        _check(_timestamped(b"[]"), b"[]", guard=guard)
    assert (err.value.code, status_of(err.value)) == ("WEBHOOK_BUSY", 503)
    # Past the window the old entries are dropped (and the old header is stale anyway).
    later = NOW + 301
    _check(_timestamped(b"[]", later), b"[]", now=later, guard=guard)
    assert len(guard) == 1
