"""The logs page: the JavaScript apps' log lines, for one app or all, filtered by level,
text and time, and followed live (static/logs.js polls /logs/feed with the same filters)."""

from dataclasses import dataclass
from datetime import UTC, datetime

from fazt.admin.dashboard import Page, render
from fazt.db.clock import stamp
from fazt.hosting import deployments
from fazt.runtime import store
from fazt.web.http import HTTPError, Response, json_response

PAGE_LINES = 200
MAX_TEXT = 200


@dataclass
class Filters:
    app: str | None
    level: str
    text: str
    since: str | None  # stored-timestamp bounds (fazt.db.clock)
    until: str | None
    since_raw: str
    until_raw: str


def _bound(raw: str, end: bool) -> str | None:
    """A `datetime-local` value (UTC) as a stored timestamp; the end of its minute for
    `until`, so that "until 15:30" includes 15:30:59."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        raise HTTPError(400, "BAD_REQUEST", f"'{raw}' is not a date and time") from None
    if end and moment.second == 0 and moment.microsecond == 0:
        moment = moment.replace(second=59, microsecond=999999)
    return stamp(moment)


def filters(page: Page) -> Filters:
    q = page.req.query
    level = q.get("level") or "debug"
    if level not in store.LEVELS:
        raise HTTPError(400, "BAD_REQUEST", f"level must be one of {', '.join(store.LEVELS)}")
    text = q.get("q", "")
    if len(text) > MAX_TEXT:
        raise HTTPError(400, "BAD_REQUEST", f"the search text is at most {MAX_TEXT} characters")
    since_raw, until_raw = q.get("since", ""), q.get("until", "")
    app = (q.get("app") or "").lower() or None
    return Filters(
        app, level, text, _bound(since_raw, False), _bound(until_raw, True), since_raw, until_raw
    )


def _search(conn, f: Filters, after: int) -> list[dict]:
    args = (f.app, f.level, f.text, f.since, f.until, after, PAGE_LINES)
    return store.search_logs(conn, *args)


def _first_page(conn, f: Filters) -> tuple[list[dict], int]:
    """The newest matching lines, and the newest line's id of all (where following starts)."""
    newest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM app_logs").fetchone()[0]
    return _search(conn, f, 0), newest


async def logs_page(page: Page) -> Response:
    f = filters(page)
    lines, newest = await page.state.db.read(_first_page, f)
    apps = [s["name"] for s in await page.state.db.read(deployments.list_sites)]
    return render(
        page,
        "logs.html",
        f=f,
        lines=lines,
        apps=apps,
        levels=store.LEVELS,
        last_id=newest,
        limit=PAGE_LINES,
    )


async def logs_feed(page: Page) -> Response:
    """GET /logs/feed?after=N&<filters>: the lines after N as JSON (for following)."""
    raw = page.req.query.get("after", "0")
    if not raw.isdigit():
        raise HTTPError(400, "BAD_REQUEST", "after must be a log line id")
    lines = await page.state.db.read(_search, filters(page), int(raw))
    response = json_response(lines)
    response.headers.append(("cache-control", "no-store"))
    return response
