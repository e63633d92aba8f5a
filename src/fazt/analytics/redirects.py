"""Short links: /r/<slug> on the dashboard host answers 302 to a stored URL."""

import json
import re
import sqlite3
from urllib.parse import urlsplit

from fazt.db.clock import utcnow

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_URL = 2048
MAX_TAGS, MAX_TAG_CHARS = 20, 100


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


def validate_tags(tags: object) -> list[str]:
    """v0.9's tags: a list of at most 20 non-empty strings of up to 100 printable
    characters (duplicates dropped, order kept)."""
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError("'tags' must be a list of strings")
    tags = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG_CHARS or not t.isprintable() for t in tags):
        raise ValueError(f"at most {MAX_TAGS} tags of 1-{MAX_TAG_CHARS} printable characters each")
    return tags


def target(conn: sqlite3.Connection, slug: str) -> str | None:
    row = conn.execute("SELECT url FROM redirects WHERE slug = ?", (slug,)).fetchone()
    return row[0] if row else None


def add(
    conn: sqlite3.Connection, slug: str, url: str, tags: list[str] | None = None
) -> dict | None:
    """The new redirect, or None if the slug is taken. `tags` come from validate_tags."""
    if conn.execute("SELECT 1 FROM redirects WHERE slug = ?", (slug,)).fetchone():
        return None
    created = utcnow()
    tags = tags or []
    cur = conn.execute(
        "INSERT INTO redirects (slug, url, clicks, created_at, tags) VALUES (?, ?, 0, ?, ?)",
        (slug, url, created, json.dumps(tags)),
    )
    return {
        "id": cur.lastrowid,
        "slug": slug,
        "url": url,
        "clicks": 0,
        "created_at": created,
        "tags": tags,
    }


def redirect_id(conn: sqlite3.Connection, slug: str) -> int | None:
    row = conn.execute("SELECT id FROM redirects WHERE slug = ?", (slug,)).fetchone()
    return row[0] if row else None


def remove(conn: sqlite3.Connection, slug: str) -> str | None:
    """Delete the redirect `slug`, else (v0.9's API) the one whose id `slug` spells;
    the slug deleted, or None."""
    row = conn.execute("DELETE FROM redirects WHERE slug = ? RETURNING slug", (slug,)).fetchone()
    if row is None and slug.isascii() and slug.isdigit() and len(slug) <= 18:
        row = conn.execute(
            "DELETE FROM redirects WHERE id = ? RETURNING slug", (int(slug),)
        ).fetchone()
    return row[0] if row else None
