"""Which names fazt serves, and so which names its certificate must cover.

Only names that exist in the database: the apex, `admin.`, each user site with a live
deployment and each custom domain. Never a name taken from a request's Host header.

ACME CAs allow at most 100 names per certificate and Granian serves one certificate, so
past 100 the names are taken in priority order (apex, admin, custom domains, then sites
most recently deployed first) and the rest are reported as not covered.
"""

import sqlite3
from dataclasses import dataclass

MAX_NAMES = 100


@dataclass(frozen=True)
class WantedNames:
    covered: list[str]  # in priority order, at most MAX_NAMES
    uncovered: list[str]  # served over HTTP only until a name frees up


def wanted_names(conn: sqlite3.Connection, domain: str, limit: int = MAX_NAMES) -> WantedNames:
    names = [domain, f"admin.{domain}"]
    names += [r[0] for r in conn.execute("SELECT domain FROM domains ORDER BY created_at, domain")]
    names += [
        f"{r[0]}.{domain}"
        for r in conn.execute(
            "SELECT name FROM sites WHERE kind = 'user' AND live_deployment_id IS NOT NULL "
            "ORDER BY updated_at DESC, name"
        )
    ]
    ordered = list(dict.fromkeys(n.lower() for n in names))  # unique, order kept
    return WantedNames(ordered[:limit], ordered[limit:])


def site_host(site: str, domain: str) -> str:
    """The name a site is served under (the root site is the apex)."""
    return domain if site == "root" else f"{site}.{domain}"
