"""What `fazt.net.fetch` may reach: URL and host spellings, allowlist rules, addresses.

Pure functions, no I/O (net.py resolves and connects). The rules:
- only http and https, no user info, ports 80/443 unless an allowlist entry names a port;
- a host is a DNS name of plain labels, a canonical dotted-quad IPv4 address, or a
  bracketed IPv6 address: every other numeric spelling (`2130706433`, `0x7f.1`, `127.1`,
  `0177.0.0.1`) is refused, since resolvers read them as addresses in different ways;
- the host must match an allowlist entry (`api.example.com`, `*.example.org` for its
  subdomains, `host:8443` for that port only) and no deny entry;
- every address the host resolves to must be public: not loopback, private (RFC 1918,
  ULA), CGNAT, link-local (cloud metadata), unspecified, multicast, broadcast, reserved or
  documentation ranges, nor any of those inside IPv4-mapped, IPv4-compatible, 6to4, NAT64
  or Teredo IPv6 addresses.

`FAZT_TEST_NET_LOOPBACK=PORT[,PORT...]` in the server's environment (set by the test
suite only; an app cannot set a process environment variable) lets loopback addresses on
exactly those ports through, so that tests can fetch from a local HTTP server.
"""

import ipaddress
import os
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fazt.storage.errors import StorageError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_CHARS = 8192
MAX_RULES = 100
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HEX_OR_DIGITS = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_PORT = re.compile(r"^[0-9]{1,5}$")
# Characters a path or query may hold as they are; the rest is percent-encoded.
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
# IPv6 ranges whose last 32 bits are an IPv4 address that decides.
_EMBEDS_IPV4 = tuple(
    ipaddress.ip_network(n) for n in ("::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
_REFUSED_V6 = tuple(ipaddress.ip_network(n) for n in ("64:ff9b:1::/48", "2001::/32"))


class NetError(StorageError):
    """A fetch the policy refuses or that failed; the message is shown to the app."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect and what to ask for."""

    scheme: str
    host: str  # lower case; an IPv6 address without brackets
    port: int
    path: str  # path and query, percent-encoded, starting with "/"
    literal: IPAddress | None  # the host was an address

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.path}"

    def url_for(self, address: IPAddress) -> str:
        """The URL that connects to `address` (no second DNS lookup)."""
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    def shown(self) -> str:
        """Host and path without the query (which may carry a secret): for logs."""
        return self.host_header + self.path.split("?", 1)[0]


def check_host(host: str) -> IPAddress | None:
    """The address a host spells, None for a DNS name; NetError for any other spelling."""
    if not host or len(host) > 253 or not host.isascii():
        raise NetError(f"fetch: invalid host {host[:80]!r} (use the xn-- form of IDN names)")
    host = host.lower()
    if host.startswith("[") and host.endswith("]"):
        try:
            address = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            address = None
        if address is None or address.scope_id is not None:  # no zone ids (%eth0)
            raise NetError(f"fetch: invalid IPv6 address {host!r}")
        return address
    labels = host.split(".")
    if _HEX_OR_DIGITS.match(labels[-1]):
        # It ends in a number, so resolvers take it for an IPv4 address: only the one
        # canonical spelling is accepted.
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            address = None
        if address is None or str(address) != host:
            raise NetError(f"fetch: {host!r} is not a canonical IPv4 address (a.b.c.d)")
        return address
    if not all(_LABEL.match(label) for label in labels):
        raise NetError(f"fetch: invalid host name {host!r}")
    return None


def parse_url(url: object) -> Target:
    """A fetch URL checked and split; NetError with the reason when refused."""
    if not isinstance(url, str) or not url:
        raise NetError("fetch: the URL must be a non-empty string")
    if len(url) > MAX_URL_CHARS:
        raise NetError(f"fetch: the URL is longer than {MAX_URL_CHARS} characters")
    if any(c in url for c in "\\\t\r\n ") or not url.isprintable():
        raise NetError("fetch: the URL contains spaces, backslashes or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL"
        raise NetError("fetch: invalid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise NetError(f"fetch: only http and https URLs are allowed, not {scheme or url!r}")
    netloc = parts.netloc
    if "@" in netloc:
        raise NetError("fetch: user names and passwords in URLs are not allowed")
    host, port = _split_netloc(netloc, DEFAULT_PORTS[scheme])
    literal = check_host(host)
    host = host.lower().strip("[]")
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_QUERY_SAFE)
    return Target(scheme, host, port, path, literal)


def _split_netloc(netloc: str, default: int) -> tuple[str, int]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise NetError("fetch: unclosed [ in the URL's host")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
    else:
        host, _, port_text = netloc.partition(":")
        rest = ":" + port_text if ":" in netloc else ""
    if not rest:
        return host, default
    if not rest.startswith(":") or not _PORT.match(rest[1:]) or not 0 < int(rest[1:]) < 65536:
        raise NetError(f"fetch: invalid port in {netloc!r}")
    return host, int(rest[1:])


# -- allowlist rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """`api.example.com`, `*.example.org` (its subdomains), either with `:port`."""

    host: str
    port: int | None  # None: the default ports (80, 443)

    @property
    def text(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def matches(self, host: str, port: int) -> bool:
        if self.port is None:
            if port not in DEFAULT_PORTS.values():
                return False
        elif port != self.port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


def parse_rule(text: object) -> Rule:
    """An allowlist entry as typed in manifest.json or `fazt app net allow`."""
    if not isinstance(text, str) or not text or len(text) > 260:
        raise NetError("a net rule is a host name such as api.example.com or *.example.org")
    text = text.strip().lower()
    host, port = text, None
    if text.startswith("[") or text.count(":") == 1:
        host, port = _split_netloc(text, 0)
    port = port or None
    name = host[2:] if host.startswith("*.") else host
    check_host(name)
    if host.startswith("*.") and "." not in name:
        raise NetError(f"net rule {text!r}: a wildcard needs a domain (*.example.org)")
    return Rule(host.strip("[]") if not host.startswith("*.") else host, port)


def is_allowed(allow: list[Rule], deny: list[Rule], host: str, port: int) -> bool:
    return any(r.matches(host, port) for r in allow) and not any(
        r.matches(host, port) for r in deny
    )


# -- addresses ----------------------------------------------------------------------------


def refused_address(address: IPAddress) -> str | None:
    """Why an address must not be reached (None: it is public)."""
    if isinstance(address, ipaddress.IPv6Address) and not (
        address.is_loopback or address.is_unspecified
    ):
        for network in _EMBEDS_IPV4:
            if address in network:
                return refused_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            return refused_address(address.sixtofour)
        if any(address in network for network in _REFUSED_V6):
            return "a translated (NAT64/Teredo) address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if not address.is_global:
        return "a private or reserved address"
    return None


def escape_loopback_ports() -> frozenset[int]:
    """Ports FAZT_TEST_NET_LOOPBACK opens on loopback (for the test suite only)."""
    raw = os.environ.get("FAZT_TEST_NET_LOOPBACK", "")
    return frozenset(int(p) for p in raw.split(",") if p.strip().isdigit())


def check_address(address: IPAddress, port: int, loopback_ports: frozenset[int]) -> None:
    """NetError unless `address` may be connected to on `port`."""
    reason = refused_address(address)
    if reason is None:
        return
    if reason == "a loopback address" and port in loopback_ports:
        return
    raise NetError(f"fetch: refused to connect to {address}, {reason}")
