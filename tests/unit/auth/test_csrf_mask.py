"""CSRF tokens masked afresh for every page (BREACH), and their verification."""

import secrets

from hypothesis import given
from hypothesis import strategies as st

from fazt.auth import csrf


def test_every_mask_differs_and_each_verifies():
    token = secrets.token_urlsafe(32)
    masks = {csrf.mask(token) for _ in range(50)}
    assert len(masks) == 50
    assert all(token not in m for m in masks)
    assert all(csrf.token_matches(token, m) for m in masks)


def test_the_bare_token_and_altered_masks_do_not_verify():
    token = secrets.token_urlsafe(32)
    masked = csrf.mask(token)
    middle = len(masked) // 2
    flipped = masked[:middle] + ("A" if masked[middle] != "A" else "B") + masked[middle + 1 :]
    for given_token in (token, "", None, "x" + masked, flipped, masked[:-2], "é" * 10):
        assert not csrf.token_matches(token, given_token)
    assert not csrf.token_matches(token, csrf.mask(secrets.token_urlsafe(32)))
    assert not csrf.token_matches(token, "A" * (csrf.MAX_MASKED_LENGTH + 4))


# Up to 96 UTF-8 bytes: the longest token a masked value of MAX_MASKED_LENGTH can hold
# (session tokens are 43 ASCII characters).
tokens = st.text(min_size=1, max_size=24)


@given(tokens, tokens)
def test_mask_round_trips_and_tells_tokens_apart(token, other):
    assert csrf.token_matches(token, csrf.mask(token))
    assert csrf.token_matches(other, csrf.mask(token)) is (other == token)


@given(st.text())
def test_any_submitted_text_is_refused_without_error(text):
    csrf.unmask(text)
    assert not csrf.token_matches("a-real-session-token", text) or text == ""
