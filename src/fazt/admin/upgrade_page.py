"""The upgrade page: check for a new version, start the upgrade, and follow its steps
(static/upgrade.js polls GET /api/upgrade/{id}) until it is committed or rolled back."""

from fazt.admin.dashboard import Page, render
from fazt.upgrade import records
from fazt.web.http import Response


async def upgrade_page(page: Page) -> Response:
    latest = await page.state.db.read(records.latest)
    return render(page, "upgrade.html", latest=latest, finished=records.FINISHED)
