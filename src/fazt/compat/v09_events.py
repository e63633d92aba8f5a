"""v0.9's analytics events as this fazt's hits (with their rollups), and its stored
webhook deliveries as webhook events. No IP address is kept."""

import hashlib
import secrets
import sqlite3
from datetime import datetime
from urllib.parse import urlsplit

from fazt.analytics import store, useragent
from fazt.compat.v09_context import Context, to_datetime
from fazt.compat.v09_report import Report
from fazt.db.clock import stamp

EVENT_BATCH = 5000  # hits written (and rolled up) at once

# -- analytics events -------------------------------------------------------------------------


class _Visitors:
    """Visitor hashes like the server's (site, IP, user agent, a salt per day), with salts
    made for the import and thrown away: no IP is stored, and none can be recovered."""

    def __init__(self) -> None:
        self.salts: dict[str, bytes] = {}

    def __call__(self, day: str, site: str, ip: object, agent: object) -> str:
        if not ip and not agent:
            return ""
        salt = self.salts.get(day)
        if salt is None:
            salt = self.salts[day] = secrets.token_bytes(32)
        material = b"\n".join(
            (salt, site.encode(), str(ip or "").encode(), str(agent or "").encode())
        )
        return hashlib.sha256(material).hexdigest()[:32]


def import_events(src, dst, rep: Report, ctx: Context) -> None:
    """v0.9's events as hits (with their rollups), webhook deliveries as webhook events."""
    tally, visitor, batch = rep.tally("events"), _Visitors(), []
    for row in src.execute("SELECT * FROM events ORDER BY id"):
        tally.found += 1
        moment = to_datetime(row["created_at"])
        if moment is None:
            tally.skip(f"event {row['id']}", "its time cannot be read (corrupt row)")
            continue
        if row["source_type"] == "webhook":
            if _webhook_event(dst, row, moment, ctx):
                tally.imported += 1
            else:
                tally.skip(f"event {row['id']}", "a delivery to a webhook that is not imported")
            continue
        event = _hit(row, int(moment.timestamp()), ctx, visitor)
        if event is None:
            tally.skip(f"event {row['id']}", f"unknown source_type {row['source_type']!r}")
            continue
        batch.append(event)
        tally.imported += 1
        if len(batch) >= EVENT_BATCH:
            store.write_batch(dst, batch, {}, {})
            batch = []
    if batch:
        store.write_batch(dst, batch, {}, {})


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _site_of(domain: str, ctx: Context) -> str:
    """v0.9 kept the page's host; this fazt counts hits per site."""
    domain = domain.lower().split(":")[0]
    if ctx.domain and domain == ctx.domain:
        return "root"
    if ctx.domain and domain.endswith("." + ctx.domain):
        return domain[: -len(ctx.domain) - 1]
    return domain or "unknown"


def _hit(row: sqlite3.Row, unix: int, ctx: Context, visitor: _Visitors) -> store.Event | None:
    source, name, path = row["source_type"], _text(row["event_type"]), _text(row["path"])
    if source in ("web", "hosting"):
        kind = "pageview" if name in ("pageview", "") else "event"
    elif source in ("pixel", "redirect"):
        kind = source
        if source == "redirect" and path.startswith("/r/"):
            name = path[3:]
    else:
        return None
    site = _site_of(_text(row["domain"]), ctx)
    referrer = urlsplit(_text(row["referrer"])).hostname or ""
    agent = _text(row["user_agent"])
    browser, os_name, device = useragent.parse(agent)
    who = visitor(store.day_of(unix), site, row["ip_address"], agent)
    name = "" if kind == "pageview" else name
    return store.Event(unix, site, kind, name, path, referrer, browser, os_name, device, who)


def _webhook_event(
    dst: sqlite3.Connection, row: sqlite3.Row, moment: datetime, ctx: Context
) -> bool:
    """A stored v0.9 delivery: its payload was kept in query_params, its webhook's
    endpoint in path (/webhook/<endpoint>) or domain."""
    path = _text(row["path"])
    endpoint = path.removeprefix("/webhook/") if path.startswith("/webhook/") else ""
    found = ctx.webhooks.get(endpoint) or ctx.webhooks.get(_text(row["domain"]))
    if found is None:
        return False
    webhook_id, signed = found  # v0.9 stored only deliveries its signature check passed
    dst.execute(
        "INSERT INTO webhook_events (webhook_id, received_at, verified, event, headers, payload)"
        " VALUES (?, ?, ?, ?, '{}', ?)",
        (
            webhook_id,
            stamp(moment),
            int(signed),
            _text(row["event_type"]),
            _text(row["query_params"]),
        ),
    )
    return True
