"""fazt.runtime.netpolicy: host spellings, addresses and allowlist rules, against the
standard library's own readings (`ipaddress`, and `socket.inet_aton`, which accepts every
BSD spelling a resolver may take for an address)."""

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fazt.runtime.netpolicy import (
    NetError,
    check_address,
    check_host,
    is_allowed,
    parse_rule,
    parse_url,
    refused_address,
)

v4_ints = st.integers(0, 2**32 - 1)


def _parts(n: int, count: int) -> list[int]:
    """n as `count` parts the BSD way: all but the last are bytes, the last the rest."""
    if count == 1:
        return [n]
    head = [(n >> (24 - 8 * i)) & 0xFF for i in range(count - 1)]
    return [*head, n & ((1 << (8 * (5 - count))) - 1)]


@st.composite
def v4_spellings(draw) -> tuple[int, str]:
    """(address, one of its many spellings): 1 to 4 parts, each decimal, octal or hex."""
    n = draw(v4_ints)
    parts = _parts(n, draw(st.integers(1, 4)))
    styles = st.sampled_from(["dec", "oct", "hex", "HEX"])
    text = []
    for p in parts:
        style = draw(styles)
        text.append(
            str(p)
            if style == "dec"
            else f"0{p:o}"
            if style == "oct"
            else f"0x{p:x}"
            if style == "hex"
            else f"0X{p:X}"
        )
    return n, ".".join(text)


@given(v4_spellings())
def test_a_numeric_host_is_its_canonical_address_or_refused(case):
    n, spelling = case
    assert socket.inet_aton(spelling) == n.to_bytes(4, "big")  # a resolver reads an address
    address = ipaddress.IPv4Address(n)
    try:
        got = check_host(spelling)
    except NetError:
        assert spelling != str(address)  # only the canonical spelling is accepted
        return
    assert got == address and spelling == str(address)


@given(v4_ints)
def test_the_canonical_spelling_is_accepted(n):
    address = ipaddress.IPv4Address(n)
    assert check_host(str(address)) == address


def _v4_refused(address: ipaddress.IPv4Address) -> bool:
    return not address.is_global or address.is_multicast


@given(v4_ints)
def test_ipv4_refused_exactly_when_not_a_public_unicast_address(n):
    address = ipaddress.IPv4Address(n)
    assert (refused_address(address) is not None) == _v4_refused(address)


@given(v4_ints, st.sampled_from(["::ffff:{}", "::{}", "64:ff9b::{}", "::ffff:0:{}"]))
def test_ipv6_embeddings_of_ipv4_are_judged_by_the_ipv4_address(n, form):
    v4 = ipaddress.IPv4Address(n)
    v6 = ipaddress.IPv6Address(form.format(v4))
    expected = _v4_refused(v4) or v6 in (ipaddress.IPv6Address("::1"), ipaddress.IPv6Address("::"))
    assert (refused_address(v6) is not None) == expected
    target = parse_url(f"http://[{v6}]/")  # and the URL form reads the same address
    assert target.literal == v6


@given(v4_ints, st.integers(0, 2**80 - 1))
def test_6to4_is_judged_by_its_ipv4_address(n, rest):
    v4 = ipaddress.IPv4Address(n)
    v6 = ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | rest)
    assert v6.sixtofour == v4
    assert (refused_address(v6) is not None) == _v4_refused(v4)


@given(st.integers(0, 2**128 - 1))
def test_an_accepted_ipv6_address_is_global_unicast(n):
    address = ipaddress.IPv6Address(n)
    if refused_address(address) is None:
        assert address.is_global and not address.is_multicast
        assert address.ipv4_mapped is None and address.teredo is None


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0x7f.1",
        "127.1",
        "0177.0.0.1",
        "127.0.0.01",
        "0x7f000001",
        "127.0.0.1.",
        "0x",
        "1.2.3.4.5",
        "[fe80::1%eth0]",
        "[::ffff:127.0.0.1",
        "exa mple.com",
        "-a.com",
        "ä.example",
        "a..b",
        "",
    ],
)
def test_tricky_hosts_are_refused(host):
    with pytest.raises(NetError):
        check_host(host)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00::1",
        "ff02::1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::1",
        "2001::1",
        "2002:7f00:1::1",
        "::ffff:0:7f00:1",
    ],
)
def test_private_addresses_are_refused(address):
    assert refused_address(ipaddress.ip_address(address)) is not None
    with pytest.raises(NetError, match="refused to connect"):
        check_address(ipaddress.ip_address(address), 80, frozenset())


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_pass(address):
    assert refused_address(ipaddress.ip_address(address)) is None


def test_the_test_escape_opens_loopback_on_its_ports_only():
    loop = ipaddress.ip_address("127.0.0.1")
    check_address(loop, 4000, frozenset({4000}))
    check_address(ipaddress.ip_address("::1"), 4000, frozenset({4000}))
    with pytest.raises(NetError):
        check_address(loop, 4001, frozenset({4000}))
    with pytest.raises(NetError):  # not a private address
        check_address(ipaddress.ip_address("10.0.0.1"), 4000, frozenset({4000}))


def test_parse_url():
    t = parse_url("HTTPS://API.Example.com/a%20b/ü?q=1%202#frag")
    assert (t.scheme, t.host, t.port) == ("https", "api.example.com", 443)
    assert t.path == "/a%20b/%C3%BC?q=1%202"
    assert t.host_header == "api.example.com" and t.shown() == "api.example.com/a%20b/%C3%BC"
    t = parse_url("http://example.com:8080")
    assert (t.port, t.path, t.host_header) == (8080, "/", "example.com:8080")
    assert t.url_for(ipaddress.ip_address("2606:4700::1")) == "http://[2606:4700::1]:8080/"
    for bad in [
        "ftp://x.com/",
        "http://u@x.com/",
        "http://x.com:0/",
        "http://x.com:99999/",
        "http://x.com\\@evil.com/",
        "http://x.com/a b",
        "javascript:alert(1)",
        "http:///x",
        42,
    ]:
        with pytest.raises(NetError):
            parse_url(bad)


def test_rules():
    allow = [parse_rule("api.example.com"), parse_rule("*.example.org"), parse_rule("x.io:8443")]
    deny = [parse_rule("bad.example.org")]
    assert is_allowed(allow, deny, "api.example.com", 443)
    assert is_allowed(allow, deny, "api.example.com", 80)
    assert not is_allowed(allow, deny, "api.example.com", 8080)  # no port: 80 and 443 only
    assert not is_allowed(allow, deny, "www.api.example.com", 443)
    assert is_allowed(allow, deny, "a.b.example.org", 443)
    assert not is_allowed(allow, deny, "example.org", 443)  # a wildcard: subdomains only
    assert not is_allowed(allow, deny, "evilexample.org", 443)
    assert not is_allowed(allow, deny, "bad.example.org", 443)  # deny wins
    assert is_allowed(allow, deny, "x.io", 8443) and not is_allowed(allow, deny, "x.io", 443)
    assert parse_rule("[::1]:80").host == "::1"
    for bad in ["*.com", "*", "127.1", "a b", "x.io:0", "", None, "http://x.io"]:
        with pytest.raises(NetError):
            parse_rule(bad)


url_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60
) | st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTP", "ftp", ""]),
    st.sampled_from(["a.com", "127.0.0.1", "[::1]", "0x7f.1", "x@a.com", "[::ffff:a.b]", "é.com"])
    | st.text("abc.0123456789x[]:@%", max_size=20),
    st.sampled_from(["", ":80", ":0", ":65536", ":8443", ":x", ":"]),
    st.text(max_size=20),
)


@given(url_text)
def test_parse_url_gives_a_sound_target_or_net_error(url):
    try:
        target = parse_url(url)
    except NetError:
        return
    assert target.scheme in ("http", "https") and 0 < target.port < 65536
    assert target.path.startswith("/") and target.path.isascii()
    assert not any(c in target.path for c in " \r\n\\#")
    literal = check_host(f"[{target.host}]" if ":" in target.host else target.host)
    assert literal == target.literal
    again = parse_url(target.url())  # what redirects and logs rebuild reads the same
    assert (again.host, again.port, again.path, again.literal) == (
        target.host,
        target.port,
        target.path,
        target.literal,
    )


@given(st.text(max_size=40))
def test_parse_rule_gives_a_rule_or_net_error(text):
    try:
        rule = parse_rule(text)
    except NetError:
        return
    assert parse_rule(rule.text) == rule  # stored as .text, read back the same
