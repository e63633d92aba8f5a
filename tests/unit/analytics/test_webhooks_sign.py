import hashlib
import hmac

import pytest

from fazt.analytics import webhooks


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
