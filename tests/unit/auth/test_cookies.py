"""The Cookie header parser behind the dashboard session (fazt.auth.cookies)."""

import string

from hypothesis import given
from hypothesis import strategies as st

from fazt.auth import cookies

NAME = "fazt_session"
# RFC 6265: a cookie name is a token, a value is cookie-octets (no space, ; , " or \).
name_chars = st.sampled_from(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")
value_chars = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='";,\\')
names = st.one_of(st.just(NAME), st.just("__Host-" + NAME), st.text(name_chars, min_size=1))
values = st.text(value_chars, min_size=1, max_size=cookies.MAX_LENGTH)


@given(st.text())
def test_any_header_parses_without_error_into_bounded_values(header):
    found = cookies.values(header, NAME)
    assert len(found) <= cookies.MAX_VALUES
    assert all(0 < len(v) <= cookies.MAX_LENGTH for v in found)


@given(st.lists(st.tuples(names, values), max_size=80), st.sampled_from(["; ", ";", " ;  "]))
def test_values_round_trip_in_order(pairs, separator):
    header = separator.join(f"{name}={value}" for name, value in pairs)
    expected = [value for name, value in pairs if name == NAME][: cookies.MAX_VALUES]
    assert cookies.values(header, NAME) == expected


def test_the_real_session_after_planted_ones_is_still_found():
    header = "; ".join([*(f"{NAME}=junk{i}" for i in range(30)), f"{NAME}=real", "other=1"])
    assert cookies.values(header, NAME)[-1] == "real"


def test_names_match_exactly_and_bad_parts_are_skipped():
    header = f"X{NAME}=a; {NAME}x=b; {NAME}; {NAME}=; =c; {NAME}={'v' * 129}; {NAME}=ok=1"
    assert cookies.values(header, NAME) == ["ok=1"]
    assert cookies.values(f"__Host-{NAME}=s; {NAME}=p", "__Host-" + NAME) == ["s"]
    assert cookies.values(None, NAME) == []
