"""The dashboard's part of fazt.storage.user: export one visitor's data (a JSON
download), delete it, or delete the visitor's account with it. The app page's Visitors
table (views._app_page, app.html) lists each visitor's use and links here.

Deleting asks for the visitor's id typed again (the form is CSRF-checked by the
dashboard like every POST), through the same modules the API uses.
"""

import json
from urllib.parse import quote

from fazt.admin.dashboard import Page, redirect
from fazt.api.errors import status_of
from fazt.auth import visitors
from fazt.hosting import deployments
from fazt.storage import user_data
from fazt.storage.scope import UserScope
from fazt.web.http import HTTPError, Response


async def _visitor(page: Page, name: str, user: str) -> UserScope:
    app = name.lower()
    if await page.state.db.read(deployments.site_row, app) is None:
        raise HTTPError(404, "APP_NOT_FOUND", f"no app named '{name}'")
    try:
        return UserScope(app, await page.state.db.read(visitors.user_id_of, app, user))
    except visitors.VisitorAuthError as exc:
        raise HTTPError(status_of(exc), exc.code, exc.message) from None


async def user_export(page: Page, name: str) -> Response:
    """Everything the visitor stored, as a JSON file to download."""
    owner = await _visitor(page, name, page.req.query.get("user", ""))
    data = await page.state.db.read(user_data.export, owner)
    body = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    filename = quote(f"{owner.app}-{owner.user}.json", safe="")
    headers = [
        ("content-type", "application/json; charset=utf-8"),
        ("content-disposition", f"attachment; filename*=UTF-8''{filename}"),
        ("cache-control", "no-store"),
    ]
    return Response(200, body, headers)


async def user_delete(page: Page, name: str) -> Response:
    """Delete the visitor's data (what=data) or their account and data (what=account)."""
    owner = await _visitor(page, name, page.field("user"))
    if page.field("confirm").strip() != owner.user:
        raise HTTPError(400, "CONFIRMATION_REQUIRED", f"type '{owner.user}' to confirm")
    if page.field("what") == "account":
        await page.state.db.write(visitors.delete_user, owner.app, owner.user)
        return redirect(f"/apps/{quote(owner.app)}?done=user-deleted#users")
    await page.state.db.write(user_data.purge, owner)
    return redirect(f"/apps/{quote(owner.app)}?done=user-data-deleted#users")
