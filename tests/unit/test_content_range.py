"""The Content-Range parser of resumable uploads (fazt.web.content_range), fuzzed."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fazt.web.content_range import BadContentRange, ContentRange, parse

BIG = 2**60  # the sums stay under 19 digits, the most the parser takes


@given(first=st.integers(0, BIG), length=st.integers(1, BIG), extra=st.integers(0, BIG))
def test_a_well_formed_range_round_trips(first, length, extra):
    last, total = first + length - 1, first + length + extra
    assert parse(f"bytes {first}-{last}/{total}") == ContentRange(first, last + 1, total)
    assert parse(f"bytes {first}-{last}/*") == ContentRange(first, last + 1, None)


@given(st.text(max_size=60))
def test_any_text_parses_to_a_sane_range_or_is_refused(text):
    try:
        span = parse(text)
    except BadContentRange:
        return
    assert 0 <= span.start < span.end
    assert span.total is None or span.end <= span.total
    assert span.length == span.end - span.start


@given(
    prefix=st.sampled_from(["bytes ", "bytes=", "Bytes ", "", "bytes  "]),
    first=st.integers(-5, 50),
    last=st.integers(-5, 50),
    total=st.one_of(st.integers(-5, 50), st.just("*"), st.just("")),
)
def test_near_misses_are_refused_unless_exactly_right(prefix, first, last, total):
    header = f"{prefix}{first}-{last}/{total}"
    valid = (
        prefix == "bytes "
        and 0 <= first <= last
        and (total == "*" or (isinstance(total, int) and total > last))
    )
    if valid:
        assert parse(header).start == first
    else:
        with pytest.raises(BadContentRange):
            parse(header)


@pytest.mark.parametrize(
    "header", ["bytes 0-9", "bytes 9-0/10", "bytes 0-10/10", "bytes 0-9/10/11", "bytes \u0660-9/10"]
)
def test_known_bad_headers(header):
    with pytest.raises(BadContentRange):
        parse(header)
