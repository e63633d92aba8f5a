"""API keys: random tokens stored only as SHA-256, with enforced scopes, optionally
limited to named sites.

A token is `fazt_` + 32 random bytes (base32). Lookup is one indexed query on the hash, so
checking a key costs the same however many keys exist. A key's `sites` is None (every
site, the default) or the set of site names it may act on (see fazt.api.access).
"""

import base64
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

from fazt.db.clock import utcnow
from fazt.hosting.names import InvalidSiteName, validate_site_name

SCOPES = ("deploy", "admin")
LOCAL_KEY_NAME = "local-cli"  # the admin key of the CLI on the server's own machine
TOKEN_PREFIX = "fazt_"
MAX_SITES = 100  # per key; a longer list is a sign that the key should not be limited
# System sites a key may be limited to (an admin-scoped key may deploy them).
SYSTEM_SITE_NAMES = ("root", "404")


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    scopes: frozenset[str]
    sites: frozenset[str] | None = None  # None: every site

    def allows(self, scope: str) -> bool:
        """`admin` can do everything; other scopes only what they name."""
        return "admin" in self.scopes or scope in self.scopes

    def allows_site(self, site: str) -> bool:
        """Whether this key may act on `site` (a lower-case site name)."""
        return self.sites is None or site in self.sites


def parse_scopes(text: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = scopes - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(
            f"unknown scope(s): {', '.join(sorted(unknown)) or '(none given)'}; "
            f"choose from {', '.join(SCOPES)}"
        )
    return scopes


def parse_sites(value: str | list) -> frozenset[str] | None:
    """ "blog,docs" or ["blog", "docs"] -> their names; "" or [] is an error (a key for no
    site is useless, and must not be mistaken for one for every site)."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError("sites must be a list of site names")
    names = frozenset(s.strip().lower() for s in value if s.strip())
    if not names:
        raise ValueError("name at least one site (or leave sites out for every site)")
    if len(names) > MAX_SITES:
        raise ValueError(f"a key may name at most {MAX_SITES} sites")
    for name in names:
        if name in SYSTEM_SITE_NAMES:
            continue
        try:
            validate_site_name(name)
        except InvalidSiteName as exc:
            raise ValueError(f"site {name!r}: {exc}") from None
    return names


def _sites_column(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(text.split(","))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(
    conn: sqlite3.Connection,
    name: str,
    scopes: frozenset[str],
    sites: frozenset[str] | None = None,
) -> tuple[int, str]:
    """Store a new key (limited to `sites` unless None); return (id, token). The token is
    never stored."""
    if not name.strip():
        raise ValueError("a key needs a name")
    if sites is not None and not sites:
        raise ValueError("a site-limited key needs at least one site")
    raw = base64.b32encode(secrets.token_bytes(32)).decode().rstrip("=").lower()
    token = TOKEN_PREFIX + raw
    cur = conn.execute(
        "INSERT INTO api_keys (name, token_hash, prefix, scopes, sites, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            name.strip(),
            hash_token(token),
            token[:10],
            ",".join(sorted(scopes)),
            None if sites is None else ",".join(sorted(sites)),
            utcnow(),
        ),
    )
    return cur.lastrowid, token


def lookup(conn: sqlite3.Connection, token: str) -> ApiKey | None:
    row = conn.execute(
        "SELECT id, name, scopes, sites FROM api_keys WHERE token_hash = ? AND revoked_at IS NULL",
        (hash_token(token),),
    ).fetchone()
    if row is None:
        return None
    scopes = frozenset(row["scopes"].split(","))
    return ApiKey(row["id"], row["name"], scopes, _sites_column(row["sites"]))


def touch(conn: sqlite3.Connection, key_id: int) -> None:
    conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (utcnow(), key_id))


def list_keys(conn: sqlite3.Connection) -> list[dict]:
    """Every key; `sites` is None (every site) or a sorted list of names."""
    rows = conn.execute(
        "SELECT id, name, prefix, scopes, sites, created_at, last_used_at, revoked_at "
        "FROM api_keys ORDER BY id"
    ).fetchall()
    return [{**dict(r), "sites": r["sites"].split(",") if r["sites"] else None} for r in rows]


def revoke(conn: sqlite3.Connection, key_id: int) -> bool:
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        (utcnow(), key_id),
    )
    return cur.rowcount == 1
