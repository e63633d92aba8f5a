"""SQL for analytics writes: event batches with their rollups, salts, metrics, pruning.

Every function here runs on the database writer thread (`db.write`), inside one
transaction.
"""

import secrets
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime
from typing import NamedTuple

from fazt.db.clock import stamp

PAGE_KINDS = ("pageview", "pixel")  # what counts as a pageview in the rollups
PRUNE_CHUNK = 5000  # events deleted per transaction, so pruning never stalls other writes
# Rollup rows for "all sites" of the small dimensions (referrer, browser, os, device), so
# the all-sites overview reads one row per value and day instead of one per site. Not a
# valid site name, and never counted in analytics_daily.
ALL_SITES = "*"


class Event(NamedTuple):
    """One hit, as buffered in memory and stored in analytics_events."""

    time: int
    site: str
    kind: str  # pageview | event | pixel | redirect
    name: str
    path: str
    referrer: str
    browser: str
    os: str
    device: str
    visitor: str


def day_of(unix: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(unix))


def hour_of(unix: float) -> str:
    return time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(unix))


def write_batch(
    conn: sqlite3.Connection,
    events: list[Event],
    metrics: dict[str, tuple[int, int]],
    clicks: dict[str, int],
) -> None:
    """Store events and update the daily rollups, request metrics and redirect clicks."""
    if events:
        conn.executemany(
            "INSERT INTO analytics_events (time, site, kind, name, path, referrer, browser, "
            "os, device, visitor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            events,
        )
        _roll_up(conn, events)
    conn.executemany(
        "INSERT INTO request_metrics (hour, requests, errors) VALUES (?, ?, ?) "
        "ON CONFLICT(hour) DO UPDATE SET requests = requests + excluded.requests, "
        "errors = errors + excluded.errors",
        [(hour, r, e) for hour, (r, e) in metrics.items()],
    )
    conn.executemany(
        "UPDATE redirects SET clicks = clicks + ? WHERE slug = ?",
        [(n, slug) for slug, n in clicks.items()],
    )


def _roll_up(conn: sqlite3.Connection, events: list[Event]) -> None:
    days: dict[int, str] = {}
    pageviews: Counter = Counter()
    custom: Counter = Counter()
    visitors: Counter = Counter()
    dims: Counter = Counter()
    monthly_pages: Counter = Counter()
    seen: set[tuple[str, str, str]] = set()
    for e in events:
        if e.kind == "redirect":
            continue
        day = days.get(e.time // 86400)
        if day is None:
            day = days[e.time // 86400] = day_of(e.time)
        if e.kind in PAGE_KINDS:
            pageviews[day, e.site] += 1
            dims["page", day, e.site, e.path] += 1
            monthly_pages[day[:7], e.site, e.path] += 1
            if e.referrer:
                dims["referrer", day, e.site, e.referrer] += 1
                dims["referrer", day, ALL_SITES, e.referrer] += 1
        else:
            custom[day, e.site] += 1
        key = (day, e.site, e.visitor)
        if not e.visitor or key in seen:
            continue
        seen.add(key)
        # A visitor is counted once per site and day: the first time its hash appears.
        new = conn.execute(
            "INSERT OR IGNORE INTO analytics_visitors (day, site, visitor) VALUES (?, ?, ?)", key
        ).rowcount
        if new:
            visitors[day, e.site] += 1
            for dim, value in (("browser", e.browser), ("os", e.os), ("device", e.device)):
                dims[dim, day, e.site, value] += 1
                dims[dim, day, ALL_SITES, value] += 1
    keys = set(pageviews) | set(custom) | set(visitors)
    conn.executemany(
        "INSERT INTO analytics_daily (day, site, pageviews, visitors, events) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(day, site) DO UPDATE SET "
        "pageviews = pageviews + excluded.pageviews, visitors = visitors + excluded.visitors, "
        "events = events + excluded.events",
        [(d, s, pageviews[d, s], visitors[d, s], custom[d, s]) for d, s in keys],
    )
    conn.executemany(
        "INSERT INTO analytics_daily_dims (dim, day, site, value, count) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(dim, day, site, value) DO UPDATE SET count = count + excluded.count",
        [(*key, n) for key, n in dims.items()],
    )
    conn.executemany(
        "INSERT INTO analytics_monthly_pages (month, site, path, count) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(month, site, path) DO UPDATE SET count = count + excluded.count",
        [(*key, n) for key, n in monthly_pages.items()],
    )


def next_month_start(day: str) -> str:
    """The first day of the month after `day`'s: '2026-12-14' -> '2027-01-01'."""
    year, number = int(day[:4]), int(day[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}-01"


def _prune_monthly_pages(conn: sqlite3.Connection, day: str, recount: bool) -> None:
    """Drop the months before `day`'s; recount `day`'s month from the daily rows left (its
    days before `day` are gone), so that no count outlives the retention."""
    month = day[:7]
    conn.execute("DELETE FROM analytics_monthly_pages WHERE month < ?", (month,))
    if not recount:
        return
    conn.execute("DELETE FROM analytics_monthly_pages WHERE month = ?", (month,))
    conn.execute(
        "INSERT INTO analytics_monthly_pages (month, site, path, count) "
        "SELECT ?, site, value, SUM(count) FROM analytics_daily_dims "
        "WHERE dim = 'page' AND day >= ? AND day < ? GROUP BY site, value",
        (month, day, next_month_start(day)),
    )


def salt_for(conn: sqlite3.Connection, day: str) -> bytes:
    """Today's salt (created on first use). Older salts are deleted: yesterday's hashes
    can no longer be recomputed from an IP and user agent, by anyone."""
    conn.execute("DELETE FROM analytics_salts WHERE day <> ?", (day,))
    conn.execute(
        "INSERT OR IGNORE INTO analytics_salts (day, salt) VALUES (?, ?)",
        (day, secrets.token_bytes(32)),
    )
    return conn.execute("SELECT salt FROM analytics_salts WHERE day = ?", (day,)).fetchone()[0]


def prune_events(conn: sqlite3.Connection, before: int) -> int:
    """Delete up to PRUNE_CHUNK events older than `before` (unix seconds); the count."""
    return conn.execute(
        "DELETE FROM analytics_events WHERE id IN "
        "(SELECT id FROM analytics_events WHERE time < ? LIMIT ?)",
        (before, PRUNE_CHUNK),
    ).rowcount


def prune_rest(conn: sqlite3.Connection, before: int) -> None:
    """Delete rollups, metrics and webhook events older than `before`, and visitor sets
    older than yesterday (they only serve today's unique counts)."""
    day, hour = day_of(before), hour_of(before)
    conn.execute("DELETE FROM analytics_daily WHERE day < ?", (day,))
    pruned = conn.execute(  # one range of the primary key per dimension
        "DELETE FROM analytics_daily_dims WHERE dim IN "
        "('page', 'referrer', 'browser', 'os', 'device') AND day < ?",
        (day,),
    ).rowcount
    _prune_monthly_pages(conn, day, recount=pruned > 0)
    conn.execute("DELETE FROM request_metrics WHERE hour < ?", (hour,))
    received = stamp(datetime.fromtimestamp(before, UTC))  # received_at's own format
    conn.execute("DELETE FROM webhook_events WHERE received_at < ?", (received,))
    yesterday = day_of(int(time.time()) - 86400)
    conn.execute("DELETE FROM analytics_visitors WHERE day < ?", (yesterday,))
