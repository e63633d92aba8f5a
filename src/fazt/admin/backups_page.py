"""The Backups page: list, create, download, verify and restore (fazt.api.backups).

Download is the JSON API's own link (`GET /api/backups/<file>`, which the session may
call); the rest are form posts. A restore hands the server over to a fresh worker, so the
page it redirects to is served by that worker, from the restored data.
"""

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from fazt.admin.dashboard import Page, redirect, render
from fazt.api import backups
from fazt.backup import replicate
from fazt.cpu import run_cpu
from fazt.db import settings
from fazt.state import ServerState
from fazt.web.http import HTTPError, Response

DONE = {
    "created": "Backup created.",
    "restored": "Restored. The server switched to a fresh worker serving the restored data.",
}


async def _page(page: Page, status: int = 200, **extra) -> Response:
    query = page.req.query
    return render(
        page,
        "backups.html",
        status,
        backups=await backups.entries(page.state),
        replication=await replication(page.state),
        done=DONE.get(query.get("done", "")),
        file=query.get("file", ""),
        **extra,
    )


async def replication(state: ServerState) -> dict:
    """What `fazt replicate status` shows (local files only: the status Litestream's
    supervisor keeps, no call to the replica)."""
    values = await state.db.read(settings.all_settings)
    info = await run_cpu(replicate.describe, Path(state.db.path), values)
    for key in ("replicated_at", "down_since", "last_error_at", "started_at"):
        info[key] = _stamp(info.get(key))
    if isinstance(info.get("last_outage"), dict):
        outage = info["last_outage"]
        info["last_outage"] = {k: _stamp(outage.get(k)) for k in ("down_at", "back_at")}
    return info


def _stamp(value: object) -> object:
    """Unix seconds (as the replica status keeps them) as the text the `when` filter reads."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return value


async def backups_page(page: Page) -> Response:
    return await _page(page)


async def backup_create(page: Page) -> Response:
    try:
        made = await backups.make(page.state, "dashboard")
    except HTTPError as exc:
        return await _page(page, exc.status, error=exc.message)
    return redirect("/backups?" + urlencode({"done": "created", "file": made["file"]}))


async def backup_verify(page: Page, file: str) -> Response:
    report = await backups.verify(page.state, file)  # 404 for a name not listed
    return await _page(page, 200 if report["ok"] else 422, verified=report)


async def backup_restore(page: Page) -> Response:
    file = page.field("file")
    if page.field("confirm") != "yes":
        return await _page(
            page, 400, error="Tick the box to confirm: the restore replaces all data."
        )
    try:
        await backups.restore(page.state, file)
    except HTTPError as exc:
        if exc.status == 404:
            raise
        return await _page(page, exc.status, error=exc.message)
    return redirect("/backups?" + urlencode({"done": "restored", "file": file}, quote_via=quote))
