"""The Backups page: list, create, download, verify and restore (fazt.api.backups).

Download is the JSON API's own link (`GET /api/backups/<file>`, which the session may
call); the rest are form posts. A restore hands the server over to a fresh worker, so the
page it redirects to is served by that worker, from the restored data.
"""

from urllib.parse import quote, urlencode

from fazt.admin.dashboard import Page, redirect, render
from fazt.api import backups
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
        done=DONE.get(query.get("done", "")),
        file=query.get("file", ""),
        **extra,
    )


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
