"""The Range header parser (it faces the outside): hand-picked cases, and properties over
arbitrary and hostile values checked against a plain reference reading of RFC 9110."""

import itertools
import re
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fazt.hosting import ranges
from fazt.hosting.ranges import MAX_RANGES, UNSATISFIABLE, if_range_allows, parse


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, [(0, 10)]),
        ("bytes=90-", 100, [(90, 100)]),
        ("bytes=-10", 100, [(90, 100)]),
        ("bytes=-1000", 100, [(0, 100)]),
        ("bytes=0-9,20-29", 100, [(0, 10), (20, 30)]),
        ("bytes=20-29, 0-9", 100, [(0, 10), (20, 30)]),  # sorted
        ("bytes=0-9,5-14", 100, [(0, 15)]),  # overlapping: joined
        ("bytes=0-9,10-19", 100, [(0, 20)]),  # adjacent: joined
        ("bytes=0-9,,20-29", 100, [(0, 10), (20, 30)]),  # empty list element
        ("BYTES=0-0", 100, [(0, 1)]),  # the unit is case-insensitive
        ("bytes=0-9,200-300", 100, [(0, 10)]),  # the satisfiable part only
        ("bytes=100-", 100, UNSATISFIABLE),
        ("bytes=-0", 100, UNSATISFIABLE),
        ("bytes=0-", 0, UNSATISFIABLE),
        ("bytes=200-300,300-400", 100, UNSATISFIABLE),
        ("bytes=5-2", 100, None),  # last < first: invalid, the header is ignored
        ("bytes=0-9,5-2", 100, None),
        ("bytes=+1-2", 100, None),
        ("bytes= 1-2", 100, [(1, 3)]),
        ("bytes=1_0-20", 100, None),
        ("bytes=\u0661-\u0662", 100, None),  # non-ASCII digits
        ("bytes=-", 100, None),
        ("bytes=", 100, None),
        ("bytes=abc", 100, None),
        ("items=0-9", 100, None),
        ("bytes 0-9", 100, None),
        ("", 100, None),
        (None, 100, None),
        ("bytes=" + ",".join(f"{i}-{i}" for i in range(0, 40, 2)), 100, None),  # too many
        ("bytes=0-99999999999999999999999", 100, None),  # absurdly long number
        ("bytes=0-9999999999999999999", 100, [(0, 100)]),
    ],
)
def test_parse(header, size, expected):
    assert parse(header, size) == expected


SPEC = st.one_of(
    st.tuples(st.integers(0, 300), st.integers(0, 300)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.integers(0, 300).map(lambda n: f"{n}-"),
    st.integers(0, 300).map(lambda n: f"-{n}"),
    st.text(alphabet="0123456789-, +\t=abytesBYTES", max_size=12),
)
HEADER = st.lists(SPEC, max_size=20).map(lambda specs: "bytes=" + ",".join(specs)) | st.text(
    max_size=40
)


def reference(header: str, size: int):
    """A plain, separate reading of the grammar: the expected answer of parse()."""
    m = re.fullmatch(r"(?i)\s*bytes\s*=(.*)", header, re.S)
    if not m:
        return None
    parts = [p.strip(" \t") for p in m.group(1).split(",")]
    parts = [p for p in parts if p]
    if not parts or len(parts) > MAX_RANGES:
        return None
    out = []
    for p in parts:
        m = re.fullmatch(r"([0-9]{0,20})-([0-9]{0,20})", p)
        if not m or not (m.group(1) or m.group(2)):
            return None
        first, last = m.groups()
        if first and last and int(last) < int(first):
            return None
        if not first:
            n = int(last)
            if n > 0 and size > 0:
                out.append((max(0, size - n), size))
        elif int(first) < size:
            out.append((int(first), min(size, int(last) + 1) if last else size))
    if not out:
        return UNSATISFIABLE
    merged = []
    for s, e in sorted(out):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


@given(HEADER, st.integers(0, 400))
@example("bytes=0-0,0-0", 1)
@example("bytes=-5,0-", 3)
def test_parse_matches_the_reference(header, size):
    assert parse(header, size) == reference(header, size)


@given(HEADER, st.integers(0, 400))
def test_parts_are_inside_sorted_disjoint_and_never_more_than_the_file(header, size):
    got = parse(header, size)
    if not isinstance(got, list):
        return
    assert 1 <= len(got) <= MAX_RANGES
    for start, end in got:
        assert 0 <= start < end <= size
    for (_, end), (start, _) in itertools.pairwise(got):
        assert end < start  # not touching: they would have been joined
    assert sum(e - s for s, e in got) <= size


@given(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), min_size=2, max_size=16))
def test_multipart_length_is_exact(pairs):
    wanted = parse("bytes=" + ",".join(f"{min(p)}-{max(p)}" for p in pairs), 100)
    assert isinstance(wanted, list)
    heads, tail, length = ranges.multipart_heads(wanted, 100, "text/plain", "b0undary")
    body = b"".join(h + bytes(e - s) for h, (s, e) in zip(heads, wanted, strict=True)) + tail
    assert len(body) == length


LM = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        (None, True),
        ('"abc"', True),
        ('"abd"', False),
        ('W/"abc"', False),  # weak tags never match
        ("Sun, 06 Dec 2026 10:00:00 GMT", True),
        ("Sun, 06 Dec 2026 10:00:01 GMT", False),  # later: not an exact match
        ("Sun, 06 Dec 2026 09:59:59 GMT", False),
        ("not a date", False),
        ("", False),
    ],
)
def test_if_range(value, allowed):
    assert if_range_allows(value, '"abc"', LM) is allowed


@given(st.text(max_size=60))
def test_if_range_never_raises(value):
    if_range_allows(value, '"abc"', LM)
    if_range_allows(value, '"abc"', None)
