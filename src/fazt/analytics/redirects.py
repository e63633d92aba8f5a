"""Short links: /r/<slug> on the dashboard host answers 302 to a stored URL."""

import re
import sqlite3
from urllib.parse import urlsplit

from fazt.db.clock import utcnow

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_URL = 2048


def validate_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise ValueError(
            f"invalid slug {slug!r}: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return slug


def validate_url(url: str) -> str:
    """Only absolute http(s) URLs: a redirect must never become a javascript: link."""
    parts = urlsplit(url)
    if (
        len(url) > MAX_URL
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or not url.isprintable()
        or " " in url
    ):
        raise ValueError(f"invalid URL {url!r}: use an absolute http:// or https:// URL")
    return url


def target(conn: sqlite3.Connection, slug: str) -> str | None:
    row = conn.execute("SELECT url FROM redirects WHERE slug = ?", (slug,)).fetchone()
    return row[0] if row else None


def add(conn: sqlite3.Connection, slug: str, url: str) -> dict | None:
    """The new redirect, or None if the slug is taken."""
    if conn.execute("SELECT 1 FROM redirects WHERE slug = ?", (slug,)).fetchone():
        return None
    created = utcnow()
    conn.execute(
        "INSERT INTO redirects (slug, url, clicks, created_at) VALUES (?, ?, 0, ?)",
        (slug, url, created),
    )
    return {"slug": slug, "url": url, "clicks": 0, "created_at": created}


def redirect_id(conn: sqlite3.Connection, slug: str) -> int | None:
    row = conn.execute("SELECT id FROM redirects WHERE slug = ?", (slug,)).fetchone()
    return row[0] if row else None


def remove(conn: sqlite3.Connection, slug: str) -> bool:
    return conn.execute("DELETE FROM redirects WHERE slug = ?", (slug,)).rowcount > 0
