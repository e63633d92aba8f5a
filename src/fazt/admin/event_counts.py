"""Custom events (`fazt.track("signup")`) counted per name and day, for the analytics page.

The events table has no rollup by name, and scanning a month of events for every page
view would take hundreds of milliseconds with a million rows. So each worker keeps its
own counts and reads only the events written since its last look (by id: a range scan
of the primary key). The first look reads every event once. The counts are bounded:
beyond MAX_KEYS (day, site, name) triples the oldest days are dropped.
"""

import sqlite3
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

MAX_KEYS = 200_000
CHART_NAMES = 3  # one line per name in the chart (charts.COLOURS)
TABLE_NAMES = 20


class EventCounts:
    def __init__(self) -> None:
        self.after = 0  # the last event id read
        self.counts: Counter = Counter()  # (day, site, name) -> events
        self.lock = threading.Lock()  # the database's reader threads share this object

    def refresh(self, conn: sqlite3.Connection) -> None:
        with self.lock:
            newest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM analytics_events").fetchone()[0]
            if newest <= self.after:
                return
            # Counted in SQL (a rowid range scan, filtered and grouped in C).
            rows = conn.execute(
                "SELECT date(time, 'unixepoch'), site, name, COUNT(*) FROM analytics_events "
                "WHERE id > ? AND id <= ? AND kind = 'event' GROUP BY 1, 2, 3",
                (self.after, newest),
            )
            for day, site, name, n in rows:
                self.counts[day, site, name] += n
            self.after = newest
            if len(self.counts) > MAX_KEYS:
                self._drop_oldest()

    def _drop_oldest(self) -> None:
        days = sorted({k[0] for k in self.counts})
        while len(self.counts) > MAX_KEYS and len(days) > 1:
            oldest = days.pop(0)
            for key in [k for k in self.counts if k[0] == oldest]:
                del self.counts[key]

    def series(self, site: str | None, days: int) -> dict:
        """Totals per name over the last `days` days, and the top names per day."""
        today = datetime.now(UTC).date()
        span = [(today - timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]
        first = span[0]
        per_day: dict[str, Counter] = {d: Counter() for d in span}
        totals: Counter = Counter()
        with self.lock:
            items = list(self.counts.items())
        for (day, s, name), n in items:
            if day >= first and (site is None or s == site) and day in per_day:
                per_day[day][name] += n
                totals[name] += n
        top = [name for name, _ in totals.most_common(TABLE_NAMES)]
        charted = top[:CHART_NAMES]
        rows = [{"day": d, **{name: per_day[d][name] for name in charted}} for d in span]
        return {
            "names": charted,
            "series": rows if charted else [],
            "totals": [{"name": name, "count": totals[name]} for name in top],
        }


_counts = EventCounts()


def event_series(conn: sqlite3.Connection, site: str | None, days: int) -> dict:
    """Custom events over the last `days` days (runs on a reader thread)."""
    _counts.refresh(conn)
    return _counts.series(site, days)
