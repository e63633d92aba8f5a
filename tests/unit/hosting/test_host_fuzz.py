"""Fuzzing the Host header: normalise_host and RoutingTable.resolve against a reference.

The reference is the routing rule in fazt.hosting.routing's docstring and DESIGN.md §5:
a Host is `host[:port]` with optional spaces or tabs around it; host is an ASCII name
(letters, digits, '-', '.') matched case-insensitively, with a trailing dot ignored, or a
bracketed IPv6 address. Anything else is a bad Host (400), never an exception.
"""

import ipaddress
import re

from hypothesis import example, given
from hypothesis import strategies as st

from fazt.hosting.routing import (
    BAD_HOST,
    DASHBOARD,
    MEMO_SIZE,
    NOT_FOUND,
    SITE,
    RoutingTable,
    Target,
    normalise_host,
)

NAME = re.compile(r"[a-z0-9.\-]{1,253}")


def is_normal_host(host: str) -> bool:
    """What normalise_host may return: a lower-case name, or a bracketed IPv6 address."""
    if host.startswith("["):
        if not host.endswith("]") or not set(host[1:-1]) <= set("0123456789abcdef:."):
            return False
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return NAME.fullmatch(host) is not None and not host.endswith(".")


# -- normalise_host -----------------------------------------------------------------------

header_chars = st.characters(codec="utf-8") | st.sampled_from(
    list("[]:.-09azAZ \t\n\r\x00\x1f\x85\u00a0\u3000\u212a\u0130")
)


@given(raw=st.none() | st.text(header_chars, max_size=40) | st.text(max_size=300))
@example(raw="example.test\n:80")  # re's $ matched before the newline: 'example.test\n'
@example(raw="[<script>]")  # anything in brackets passed as an IPv6 literal
@example(raw="[]")
@example(raw="[v1.x]:80")
@example(raw="\u212aitty.localhost")  # KELVIN SIGN lower-cases to ASCII 'k'
@example(raw="\u3000example.test")  # Unicode whitespace stripped
@example(raw="\x1fexample.test")  # so were ASCII separators \x1c-\x1f
def test_normalise_host_returns_none_or_a_clean_host(raw):
    host = normalise_host(raw)
    if host is None:
        return
    assert is_normal_host(host), host
    assert normalise_host(host) == host  # idempotent
    assert raw.isascii()


labels = st.builds(
    lambda head, middle, tail: head + middle + tail if middle or tail else head,
    st.sampled_from("a0z9"),
    st.text("ab-09z", max_size=8),
    st.sampled_from(["", "a", "9"]),
).filter(lambda label: not label.endswith("-"))
names = st.lists(labels, min_size=1, max_size=4).map(".".join)
ipv6 = st.ip_addresses(v=6).map(lambda a: f"[{a}]")


def random_case(draw, text):
    flips = draw(st.integers(0, 2 ** len(text) - 1))
    return "".join(c.upper() if flips >> i & 1 else c for i, c in enumerate(text))


@st.composite
def host_headers(draw):
    """(raw Host header, the host it names) built from the grammar."""
    if draw(st.booleans()):
        host = draw(names)
        written = random_case(draw, host) + draw(st.sampled_from(["", "."]))
    else:
        host = draw(ipv6)
        written = random_case(draw, host)
    port = draw(st.sampled_from(["", ":", ":80", ":4698", ":65535", ":0080"]))
    space = st.sampled_from(["", " ", "\t", " \t "])
    return draw(space) + written + port + draw(space), host


@given(header=host_headers())
def test_normalise_host_of_well_formed_headers(header):
    raw, host = header
    assert normalise_host(raw) == host


@given(header=host_headers(), junk=st.sampled_from(["@", "/", "\\", "_", "!", "%", "\n", ";"]))
def test_any_foreign_character_makes_the_host_bad(header, junk):
    raw, _ = header
    position = len(raw.strip()) // 2 + (len(raw) - len(raw.lstrip()))
    assert normalise_host(raw[:position] + junk + raw[position:]) is None


# -- RoutingTable.resolve -----------------------------------------------------------------

DOMAIN = "example.test"
site_names = labels | st.sampled_from(["a--b", "blog", "x-1"])


def reference_resolve(table: RoutingTable, host: str | None) -> Target:
    """The rule from the routing module's docstring, written out case by case."""
    if host is None:
        return Target(BAD_HOST)
    domain = table.domain
    if host in ("localhost", "admin.localhost", f"admin.{domain}", "127.0.0.1", "[::1]"):
        return Target(DASHBOARD)

    def site(name):
        dep = table.live.get(name)
        return Target(SITE, name, dep) if dep is not None else Target(NOT_FOUND)

    if host in (domain, f"root.{domain}"):
        return site("root")
    if host in table.custom:
        return site(table.custom[host])
    for suffix in (f".{domain}", ".localhost"):
        label = host.removesuffix(suffix)
        if label != host and label and "." not in label:
            name, sep, pid = label.rpartition("--")
            if sep and name and re.fullmatch("[a-z0-9]+", pid):
                found = table.previews.get(pid)  # a preview id names one site's deployment
                ok = found is not None and found[0] == name and name != "admin"
                return Target(SITE, name, found[1]) if ok else Target(NOT_FOUND)
            return site(label)
    return Target(NOT_FOUND)


@st.composite
def tables_and_hosts(draw):
    live = draw(st.dictionaries(site_names, st.none() | st.integers(1, 99), max_size=6))
    custom = draw(st.dictionaries(names, st.sampled_from([*live, "gone"]), max_size=3))
    owners = [*live, "admin", "gone"]
    previews = draw(
        st.dictionaries(
            st.text("abc0123", min_size=1, max_size=4),
            st.tuples(st.sampled_from(owners), st.integers(1, 99)),
            max_size=6,
        )
    )
    table = RoutingTable(DOMAIN, live, custom, previews)
    known = [*live, "root", "admin", "404", "www"]
    name = draw(st.sampled_from(known) | site_names)
    pid = draw(st.sampled_from([*previews, "zz9"]) | st.integers(0, 999).map(str))
    host = draw(
        st.sampled_from(
            [
                f"{name}.{DOMAIN}",
                f"{name}.localhost",
                f"{name}--{pid}.{DOMAIN}",
                f"{name}--{pid}.localhost",
                f"x.{name}.{DOMAIN}",
                f"{name}.{DOMAIN}.evil.test",
                f"{name}{DOMAIN}",
                DOMAIN,
                "localhost",
                "127.0.0.1",
                "[::1]",
                "[::2]",
                *custom,
            ]
        )
    )
    raw = random_case(draw, host) + draw(st.sampled_from(["", ".", ":8080", ".:80"]))
    return table, raw


@given(case=tables_and_hosts())
@example(case=(RoutingTable(DOMAIN, {"a--b": 3}, {}), "a--b.example.test"))
@example(case=(RoutingTable(DOMAIN, {"admin": 1}, {}, {"p1": ("admin", 1)}), "admin--p1.localhost"))
@example(case=(RoutingTable(DOMAIN, {"a": 1, "b": 2}, {}, {"p2": ("b", 2)}), "a--p2.localhost"))
@example(case=(RoutingTable(DOMAIN, {"a": 1}, {}, {"p1": ("a", 1)}), "a--1.localhost"))
def test_resolve_agrees_with_the_reference(case):
    table, raw = case
    expected = reference_resolve(table, normalise_host(raw))
    assert table.resolve(raw) == expected
    assert table.resolve(raw) == expected  # the memoised answer is the same


@given(raws=st.lists(st.text(header_chars, max_size=30), max_size=20))
def test_resolve_never_raises(raws):
    table = RoutingTable(DOMAIN, {"blog": 1}, {"blog.custom.test": "blog"})
    for raw in raws:
        target = table.resolve(raw)
        assert target.kind in (BAD_HOST, DASHBOARD, NOT_FOUND, SITE)
        if target.kind == SITE:
            assert target.site == "blog"


def test_the_memo_of_arbitrary_hosts_stays_bounded():
    table = RoutingTable(DOMAIN, {"blog": 1}, {})
    for i in range(MEMO_SIZE * 2 + 10):
        table.resolve(f"h{i}.example.test")
        assert len(table._memo) <= MEMO_SIZE
    assert table.resolve("blog.example.test") == Target(SITE, "blog", 1)
