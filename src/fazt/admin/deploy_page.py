"""Deploying from the browser without JavaScript: the app page's ZIP upload form.

With JavaScript, the app page's drop zone (static/deploy.js) uses the JSON API instead
(the incremental protocol for a folder, POST /api/deploy for a ZIP) with the session's
CSRF token. Both publish through the same code as the API (fazt.api.deploy).
"""

from typing import Any

from fazt.admin.dashboard import Page, render
from fazt.api import deploy, request_auth
from fazt.auth.tokens import ApiKey
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response


async def read_multipart(state: ServerState, req: Request) -> tuple[dict[str, list[str]], Any]:
    """A multipart form as Page.form (each field a list) and its `file` part. Its origin
    is checked before the body is read (the CSRF token inside it, after)."""
    await request_auth.check_origin(state, req)
    fields, upload = await deploy.read_upload(state, req)
    return {name: [value] for name, value in fields.items()}, upload


def _dashboard_key(page: Page) -> ApiKey:
    """The logged-in user acts as an admin key named after them (as on the JSON API)."""
    return ApiKey(0, f"{page.session.username} (dashboard)", frozenset({"admin"}))


async def deploy_upload(page: Page, name: str) -> Response:
    """POST /apps/{name}/deploy (multipart: file, preview): publish a ZIP archive."""
    fields = {"site_name": name, "preview": page.field("preview")}
    if page.upload is None or page.upload.seek(0, 2) == 0:
        raise HTTPError(400, "MISSING_FIELD", "choose a .zip archive to upload")
    page.upload.seek(0)
    info, skipped = await deploy.publish_upload(
        page.state, _dashboard_key(page), fields, page.upload
    )
    await page.state.refresh_routing()
    result = deploy.deploy_result(page.state, info)
    return render(page, "deployed.html", 201, app=info["site"], result=result, skipped=skipped)


deploy_upload.multipart = True  # type: ignore[attr-defined]  # see fazt.admin.pages


def add_preview_links(state: ServerState, history: list[dict]) -> None:
    """Each deployment's own URL (`<site>--<preview id>`), while the site serves previews;
    a deployment that was never live is labelled a preview."""
    for dep in history:
        on = dep["preview_id"] in state.routing.previews
        dep["preview_url"] = state.site_url(dep["site"], dep["preview_id"]) if on else None
        dep["preview"] = dep["live_at"] is None
