"""Read-side queries for the dashboard and the JSON API.

They read the daily rollups (a few rows per site and day), never scan the events, so
they stay fast with millions of events. Days and hours are UTC.
"""

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from fazt.analytics import store

TOP = 10  # rows in each top list


def _days(days: int) -> list[str]:
    """The last `days` days, oldest first, ending today."""
    today = datetime.now(UTC).date()
    return [(today - timedelta(days=i)).isoformat() for i in range(max(1, days) - 1, -1, -1)]


def overview(conn: sqlite3.Connection, site: str | None, days: int, limit: int = TOP) -> dict:
    """Visitors and pageviews over the last `days` days (one series entry per day,
    zero-filled), top pages, referrers, browsers, OS and devices; all sites if site is None.

    A visitor counts once per site and day: the hash that identifies them rotates daily.
    """
    span = _days(days)
    where, args = "day >= ?", [span[0]]
    if site is not None:
        where += " AND site = ?"
        args.append(site)
    by_day = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            f"SELECT day, SUM(visitors), SUM(pageviews) FROM analytics_daily WHERE {where} "
            "GROUP BY day",
            args,
        )
    }
    series = [
        {"day": d, "visitors": by_day.get(d, (0, 0))[0], "pageviews": by_day.get(d, (0, 0))[1]}
        for d in span
    ]

    def top(dim: str) -> list[tuple]:
        # All sites: the small dimensions have their own "*" rows (see store.ALL_SITES).
        scope = args if site is not None else [span[0], store.ALL_SITES]
        return conn.execute(
            "SELECT value, SUM(count) AS n FROM analytics_daily_dims "
            "WHERE dim = ? AND day >= ? AND site = ? GROUP BY value ORDER BY n DESC, value "
            "LIMIT ?",
            [dim, *scope, limit],
        ).fetchall()

    if site is None:
        pages = _top_pages_of_all_sites(conn, span[0], limit)
    else:
        pages = conn.execute(
            "SELECT site, value, SUM(count) AS n FROM analytics_daily_dims "
            "WHERE dim = 'page' AND day >= ? AND site = ? GROUP BY site, value "
            "ORDER BY n DESC, site, value LIMIT ?",
            [*args, limit],
        ).fetchall()

    return {
        "visitors": sum(s["visitors"] for s in series),
        "pageviews": sum(s["pageviews"] for s in series),
        "series": series,
        "top_pages": [{"site": s, "path": p, "pageviews": n} for s, p, n in pages],
        "referrers": [{"referrer": v, "visits": n} for v, n in top("referrer")],
        "browsers": [{"name": v, "visits": n} for v, n in top("browser")],
        "os": [{"name": v, "visits": n} for v, n in top("os")],
        "devices": [{"name": v, "visits": n} for v, n in top("device")],
    }


def _top_pages_of_all_sites(conn: sqlite3.Connection, first_day: str, limit: int) -> list:
    """(site, path, pageviews) since first_day: the daily rows of first_day's month, then
    one row per page for each later month (analytics_monthly_pages), not one per day."""
    month = first_day[:7]
    return conn.execute(
        "SELECT site, value, SUM(n) AS total FROM ("
        "SELECT site, value, count AS n FROM analytics_daily_dims "
        "WHERE dim = 'page' AND day >= ? AND day < ? "
        "UNION ALL SELECT site, path, count FROM analytics_monthly_pages WHERE month > ?"
        ") GROUP BY site, value ORDER BY total DESC, site, value LIMIT ?",
        (first_day, store.next_month_start(first_day), month, limit),
    ).fetchall()


def sites(conn: sqlite3.Connection, days: int) -> list[dict]:
    """Sites with traffic in the last `days` days: {"site", "visitors", "pageviews"}."""
    rows = conn.execute(
        "SELECT site, SUM(visitors), SUM(pageviews) FROM analytics_daily WHERE day >= ? "
        "GROUP BY site ORDER BY SUM(pageviews) DESC, site",
        (_days(days)[0],),
    )
    return [{"site": s, "visitors": v, "pageviews": p} for s, v, p in rows]


def redirect_clicks(conn: sqlite3.Connection, tag: str | None = None) -> list[dict]:
    """Every redirect (with `tag` among its tags, if given), most clicked first:
    {"id", "slug", "url", "clicks", "created_at", "tags"}."""
    where, args = "", ()
    if tag is not None:
        where, args = "WHERE EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?)", (tag,)
    rows = conn.execute(
        f"SELECT id, slug, url, clicks, created_at, tags FROM redirects {where} "
        "ORDER BY clicks DESC, slug",
        args,
    )
    return [{**dict(r), "tags": json.loads(r["tags"])} for r in rows]


def webhooks(conn: sqlite3.Connection) -> list[dict]:
    """Every webhook without its secret: {"id", "name", "signed", "legacy_signatures",
    "created_at", "events", "last_event_at"}."""
    rows = conn.execute(
        "SELECT w.id, w.name, w.secret IS NOT NULL AS signed, w.legacy_signatures, w.created_at, "
        "COUNT(e.id) AS events, "
        "MAX(e.received_at) AS last_event_at FROM webhooks w "
        "LEFT JOIN webhook_events e ON e.webhook_id = w.id GROUP BY w.id ORDER BY w.name"
    )
    return [
        {**dict(r), "signed": bool(r["signed"]), "legacy_signatures": bool(r["legacy_signatures"])}
        for r in rows
    ]


def webhook_events(conn: sqlite3.Connection, limit: int, webhook: str | None = None) -> list[dict]:
    """The newest payloads first: {"id", "webhook", "received_at", "verified", "event",
    "headers" (dict), "payload" (str)}."""
    sql = (
        "SELECT e.id, w.name AS webhook, e.received_at, e.verified, e.event, e.headers, "
        "e.payload FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id"
    )
    args: list = []
    if webhook is not None:
        sql += " WHERE w.name = ?"
        args.append(webhook)
    rows = conn.execute(sql + " ORDER BY e.id DESC LIMIT ?", [*args, max(0, limit)])
    return [
        {**dict(r), "verified": bool(r["verified"]), "headers": json.loads(r["headers"])}
        for r in rows
    ]


def request_series(conn: sqlite3.Connection, hours: int) -> list[dict]:
    """Requests and 5xx errors per hour for the last `hours` hours (zero-filled, oldest
    first, the current hour last): {"hour": "YYYY-MM-DDTHH:00:00Z", "requests", "errors"}."""
    now = int(time.time()) // 3600 * 3600
    span = [
        time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(now - 3600 * i))
        for i in range(max(1, hours) - 1, -1, -1)
    ]
    found = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "SELECT hour, requests, errors FROM request_metrics WHERE hour >= ?", (span[0],)
        )
    }
    return [
        {"hour": h, "requests": found.get(h, (0, 0))[0], "errors": found.get(h, (0, 0))[1]}
        for h in span
    ]
