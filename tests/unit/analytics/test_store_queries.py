"""Batches, rollups and the dashboard queries against a real database file."""

import asyncio
import random
import time

import pytest

from fazt.analytics import queries, store
from fazt.analytics.service import Analytics
from fazt.analytics.store import Event
from fazt.db import Database, settings


@pytest.fixture
def db(tmp_path):
    with Database.open(tmp_path / "data.db") as database:
        yield database


def hit(site="blog", path="/", visitor="v1", kind="pageview", ago_days=0, **kw) -> Event:
    fields = {
        "name": "",
        "referrer": "",
        "browser": "Firefox",
        "os": "Linux",
        "device": "Desktop",
    } | kw
    return Event(
        int(time.time()) - ago_days * 86400,
        site,
        kind,
        fields["name"],
        path,
        fields["referrer"],
        fields["browser"],
        fields["os"],
        fields["device"],
        visitor,
    )


def test_rollups_count_visitors_once_per_day_across_batches(db):
    db.write_sync(store.write_batch, [hit(), hit(path="/a"), hit(visitor="v2")], {}, {})
    db.write_sync(
        store.write_batch,
        [hit(path="/a"), hit(site="shop", referrer="news.example"), hit(ago_days=1)],
        {},
        {},
    )
    blog = db.read_sync(queries.overview, "blog", 7)
    assert blog["pageviews"] == 5
    # v1 and v2 today, v1 again yesterday (a new day is a new visitor)
    assert blog["visitors"] == 3
    assert [d["pageviews"] for d in blog["series"][-2:]] == [1, 4]
    assert len(blog["series"]) == 7 and blog["series"][0]["pageviews"] == 0
    assert blog["top_pages"] == [
        {"site": "blog", "path": "/", "pageviews": 3},
        {"site": "blog", "path": "/a", "pageviews": 2},
    ]
    assert blog["browsers"] == [{"name": "Firefox", "visits": 3}]
    everything = db.read_sync(queries.overview, None, 7)
    assert everything["pageviews"] == 6 and everything["visitors"] == 4
    assert everything["referrers"] == [{"referrer": "news.example", "visits": 1}]


def test_custom_events_and_redirects_are_not_pageviews(db):
    db.write_sync(
        store.write_batch,
        [hit(kind="event", name="signup"), hit(kind="redirect", site="", name="gh")],
        {},
        {},
    )
    result = db.read_sync(queries.overview, None, 1)
    assert result["pageviews"] == 0
    assert result["visitors"] == 1  # the event's visitor
    assert (
        db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM analytics_events").fetchone())[0]
        == 2
    )


def test_request_series_is_zero_filled_and_accumulates(db):
    hour = store.hour_of(time.time())
    db.write_sync(store.write_batch, [], {hour: (10, 1)}, {})
    db.write_sync(store.write_batch, [], {hour: (5, 0)}, {})
    series = db.read_sync(queries.request_series, 3)
    assert [s["requests"] for s in series] == [0, 0, 15]
    assert series[-1] == {"hour": hour, "requests": 15, "errors": 1}


def test_salt_rotates_and_old_salts_are_deleted(db):
    first = db.write_sync(store.salt_for, "2026-01-01")
    assert db.write_sync(store.salt_for, "2026-01-01") == first
    second = db.write_sync(store.salt_for, "2026-01-02")
    assert second != first
    days = db.read_sync(lambda c: [r[0] for r in c.execute("SELECT day FROM analytics_salts")])
    assert days == ["2026-01-02"]


def test_prune_deletes_only_what_is_older_than_retention(db):
    db.write_sync(store.write_batch, [hit(ago_days=10), hit(ago_days=3), hit()], {}, {})
    db.write_sync(settings.put, "analytics_retention_days", "5")
    service = Analytics(db)
    assert asyncio.run(service.prune()) == 1
    overview = db.read_sync(queries.overview, "blog", 30)
    assert overview["pageviews"] == 2
    assert sum(1 for d in overview["series"] if d["pageviews"]) == 2


def test_buffer_is_bounded_and_counts_drops(db):
    service = Analytics(db, max_buffer=3)
    for _ in range(5):
        service.add(hit())
    assert len(service.events) == 3 and service.dropped == 2

    async def flush():
        await service.flush()

    asyncio.run(flush())
    assert service.events == []
    assert db.read_sync(queries.overview, "blog", 1)["pageviews"] == 3


def test_close_flushes_everything_and_clicks(db):
    db.write_sync(
        lambda c: c.execute(
            "INSERT INTO redirects (slug, url, created_at) VALUES ('gh', 'https://github.com', 'x')"
        )
    )

    async def run():
        service = Analytics(db)
        service.start()
        for i in range(2500):  # more than a batch: the size trigger and the final flush
            service.add(hit(visitor=f"v{i}"))
        service.click("gh")
        service.requests += 7
        await service.close()

    asyncio.run(run())
    assert db.read_sync(queries.overview, "blog", 1)["visitors"] == 2500
    assert db.read_sync(queries.redirect_clicks)[0]["clicks"] == 1
    assert db.read_sync(queries.request_series, 1)[0]["requests"] == 7


def test_visitor_hash_depends_on_ip_ua_and_site_and_hides_the_ip(db):
    async def run():
        service = Analytics(db)
        a = await service.visitor("blog", "203.0.113.9", "UA")
        return (
            a,
            await service.visitor("blog", "203.0.113.9", "UA"),
            [
                await service.visitor("blog", "203.0.113.8", "UA"),
                await service.visitor("blog", "203.0.113.9", "UA2"),
                await service.visitor("shop", "203.0.113.9", "UA"),
            ],
        )

    a, again, others = asyncio.run(run())
    assert a == again and len(a) == 32
    assert a not in others and len(set(others)) == 3
    assert "203.0.113.9" not in a


def _top_pages_from_daily_rows(db, first_day: str) -> list[tuple]:
    """All sites' top pages from the daily rows alone (what the overview read before
    the monthly rows existed)."""
    return db.read_sync(
        lambda c: [
            tuple(r)
            for r in c.execute(
                "SELECT site, value, SUM(count) AS n FROM analytics_daily_dims "
                "WHERE dim = 'page' AND day >= ? GROUP BY site, value "
                "ORDER BY n DESC, site, value LIMIT ?",
                (first_day, queries.TOP),
            )
        ]
    )


def _top_pages(db, days: int) -> list[tuple]:
    pages = db.read_sync(queries.overview, None, days)["top_pages"]
    return [(p["site"], p["path"], p["pageviews"]) for p in pages]


def _page_totals(db) -> tuple[int, int]:
    return db.read_sync(
        lambda c: (
            c.execute("SELECT SUM(count) FROM analytics_monthly_pages").fetchone()[0],
            c.execute("SELECT SUM(count) FROM analytics_daily_dims WHERE dim = 'page'").fetchone()[
                0
            ],
        )
    )


def test_all_sites_top_pages_from_monthly_rows_match_the_daily_ones(db):
    rng = random.Random(7)
    events = [
        hit(
            site=f"s{rng.randrange(3)}",
            path=f"/p{rng.randrange(12)}",
            visitor=f"v{i}",
            ago_days=rng.randrange(420),
        )
        for i in range(3000)
    ]
    for start in range(0, len(events), 500):  # in batches, as the service writes them
        db.write_sync(store.write_batch, events[start : start + 500], {}, {})
    monthly, daily = _page_totals(db)
    assert monthly == daily == 3000
    # Spans starting on any day of a month: that month's days come from the daily rows.
    for days in (1, 7, 31, 45, 100, 365, 400, 3650):
        assert _top_pages(db, days) == _top_pages_from_daily_rows(db, queries._days(days)[0])

    db.write_sync(settings.put, "analytics_retention_days", "100")
    asyncio.run(Analytics(db).prune())
    monthly, daily = _page_totals(db)
    assert monthly == daily < 3000  # the month of the cutoff was recounted, not kept whole
    for days in (45, 365):
        assert _top_pages(db, days) == _top_pages_from_daily_rows(db, queries._days(days)[0])


def test_next_month_start_wraps_the_year():
    assert store.next_month_start("2026-11-30") == "2026-12-01"
    assert store.next_month_start("2026-12-14") == "2027-01-01"
    assert store.next_month_start("2027-01-01") == "2027-02-01"
