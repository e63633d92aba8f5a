"""Host routing: which part of fazt answers a request, from its Host header alone.

localhost, admin.<domain>, loopback IPs -> the dashboard and API
<domain>, root.<domain>                 -> site `root`
<name>.<domain>, <name>.localhost       -> site <name>
<name>--<pid>.<domain> (and .localhost) -> the deployment of <name> whose preview id is
                                         <pid> (random, never the sequential number)
a custom domain                         -> the site it is mapped to
anything else                           -> the 404 site, status 404
"""

import ipaddress
import re
import sqlite3
from dataclasses import dataclass, field

DASHBOARD = "dashboard"
SITE = "site"
NOT_FOUND = "not_found"
BAD_HOST = "bad_host"

_HOST_CHARS = re.compile(r"[a-z0-9.\-]+")  # fullmatch: "$" would allow a final newline
_IPV6_CHARS = frozenset("0123456789abcdef:.")
_PREVIEW = re.compile(r"^([a-z0-9-]+?)--([a-z0-9]+)$")
MEMO_SIZE = 4096
_LOOPBACK = frozenset({"127.0.0.1", "[::1]", "::1"})
_DIGITS = "0123456789"


def _is_ipv6(text: str) -> bool:
    """An IPv6 address as written inside brackets (no zone id)."""
    if not text or not set(text) <= _IPV6_CHARS:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Target:
    kind: str
    site: str | None = None
    deployment_id: int | None = None


def normalise_host(raw: str | None) -> str | None:
    """Lower-case host without port or trailing dot; None if the header is malformed."""
    # ASCII only: str.lower() maps some non-ASCII letters to ASCII (KELVIN SIGN -> 'k').
    if not raw or not raw.isascii():
        return None
    host = raw.strip(" \t").lower()  # HTTP's optional whitespace is spaces and tabs only
    if host.startswith("["):  # IPv6 literal
        end = host.find("]")
        rest = host[end + 1 :]
        if end <= 0 or (rest and (rest[0] != ":" or rest[1:].strip(_DIGITS))):
            return None
        if not _is_ipv6(host[1:end]):
            return None
        return host[: end + 1]
    if ":" in host:
        host, _, port = host.rpartition(":")
        if port.strip(_DIGITS):  # the port, if any, is digits only
            return None
    host = host.rstrip(".")
    if not host or len(host) > 253 or not _HOST_CHARS.fullmatch(host):
        return None
    return host


@dataclass
class RoutingTable:
    """A snapshot of sites, their live deployments and custom domains."""

    domain: str
    live: dict[str, int | None]
    custom: dict[str, str]
    # preview id -> (site, deployment id): ready deployments of sites with previews on.
    previews: dict[str, tuple[str, int]] = field(default_factory=dict)
    # Host header -> Target, for this snapshot only (a reload starts a new table).
    _memo: dict[str | None, Target] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, conn: sqlite3.Connection, domain: str) -> "RoutingTable":
        live = {r[0]: r[1] for r in conn.execute("SELECT name, live_deployment_id FROM sites")}
        custom = {r[0]: r[1] for r in conn.execute("SELECT domain, site FROM domains")}
        previews = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT d.preview_id, d.site, d.id FROM deployments d"
                " JOIN sites s ON s.name = d.site"
                " WHERE d.state = 'ready' AND s.previews = 1 AND d.preview_id IS NOT NULL"
            )
        }
        return cls(domain.lower(), live, custom, previews)

    def resolve(self, raw_host: str | None) -> Target:
        target = self._memo.get(raw_host)
        if target is None:
            target = self._resolve(raw_host)
            if len(self._memo) >= MEMO_SIZE:  # arbitrary Host headers must not grow it
                self._memo.clear()
            self._memo[raw_host] = target
        return target

    def _resolve(self, raw_host: str | None) -> Target:
        host = normalise_host(raw_host)
        if host is None:
            return Target(BAD_HOST)
        domain = self.domain
        if host in ("localhost", "admin.localhost", f"admin.{domain}") or host in _LOOPBACK:
            return Target(DASHBOARD)
        if host in (domain, f"root.{domain}"):
            return self._site("root")
        if host in self.custom:
            return self._site(self.custom[host])
        for suffix in (f".{domain}", ".localhost"):
            if host.endswith(suffix):
                label = host[: -len(suffix)]
                if label and "." not in label:
                    return self._label(label)
        return Target(NOT_FOUND)

    def _label(self, label: str) -> Target:
        preview = _PREVIEW.match(label)
        if preview:
            found = self.previews.get(preview.group(2))
            # The id must belong to the named site: a deployment of one site never runs
            # under another's name (its storage, env and sessions). The dashboard's own
            # files are never served as a plain site (no security headers).
            if found is not None and found[0] == preview.group(1) and found[0] != "admin":
                return Target(SITE, found[0], found[1])
            return Target(NOT_FOUND)
        return self._site(label)

    def _site(self, name: str) -> Target:
        deployment_id = self.live.get(name)
        if deployment_id is None:
            return Target(NOT_FOUND)
        return Target(SITE, name, deployment_id)
