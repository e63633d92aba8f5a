"""Dashboard pages for redirects, webhooks, custom domains with certificates, and sessions.

Each action calls the function the JSON API calls (fazt.api.analytics, fazt.api.domains,
fazt.auth.sessions); a refusal (an HTTPError from there) is shown on the page with its
status, and changes nothing.
"""

from datetime import UTC, datetime, timedelta

from fazt.admin.dashboard import Page, redirect, render
from fazt.analytics import queries
from fazt.api import analytics, domains
from fazt.auth import sessions
from fazt.hosting import deployments
from fazt.https.report import describe
from fazt.web.http import HTTPError, Response

DONE = {
    "redirect-added": "Redirect added.",
    "redirect-removed": "Redirect removed.",
    "webhook-removed": "Webhook removed.",
    "domain-added": "Domain added.",
    "domain-removed": "Domain removed.",
    "session-ended": "Session ended.",
    "others-ended": "Every other session was logged out.",
}
EVENTS_SHOWN = 20
CERT_WARN_DAYS = 14


def _done(page: Page) -> str | None:
    return DONE.get(page.req.query.get("done", ""))


# -- redirects ------------------------------------------------------------------------------


async def _redirects(page: Page, status: int = 200, **extra) -> Response:
    rows = await page.state.db.read(queries.redirect_clicks)
    return render(page, "redirects.html", status, redirects=rows, done=_done(page), **extra)


async def redirects_page(page: Page) -> Response:
    return await _redirects(page)


async def redirect_add(page: Page) -> Response:
    slug, url = page.field("slug").strip(), page.field("url").strip()
    try:
        await analytics.create_redirect(page.state, slug, url)
    except HTTPError as exc:
        return await _redirects(page, exc.status, error=exc.message, slug=slug, url=url)
    return redirect("/redirects?done=redirect-added")


async def redirect_remove(page: Page, slug: str) -> Response:
    await analytics.delete_redirect(page.state, slug)  # 404 when there is none
    return redirect("/redirects?done=redirect-removed")


# -- webhooks -------------------------------------------------------------------------------


async def _webhooks(page: Page, status: int = 200, **extra) -> Response:
    hooks = await page.state.db.read(queries.webhooks)
    events = await page.state.db.read(queries.webhook_events, EVENTS_SHOWN)
    return render(
        page,
        "webhooks.html",
        status,
        webhooks=hooks,
        events=events,
        endpoint=page.state.dashboard_url() + "/webhook/",
        done=_done(page),
        **extra,
    )


async def webhooks_page(page: Page) -> Response:
    return await _webhooks(page)


async def webhook_add(page: Page) -> Response:
    name = page.field("name").strip()
    kind = page.field("signing", "generated")
    secret = page.field("secret").strip() if kind == "given" else None
    try:
        created = await analytics.create_webhook(
            page.state, name, secret, kind == "unsigned", page.field("legacy") == "yes"
        )
    except HTTPError as exc:
        return await _webhooks(page, exc.status, error=exc.message, name=name)
    # A generated secret is shown in this answer only, as the API does.
    return await _webhooks(page, 201, created=created)


async def webhook_remove(page: Page, name: str) -> Response:
    await analytics.delete_webhook(page.state, name)
    return redirect("/webhooks?done=webhook-removed")


# -- domains and certificates ---------------------------------------------------------------


def certificate_view(info: dict, now: datetime | None = None) -> dict:
    """/api/certificates' data plus the days left and whether to warn (under 14 days)."""
    cert = info.get("certificate")
    if not cert:
        return {**info, "days_left": None, "warn": bool(info.get("enabled"))}
    until = datetime.fromisoformat(cert["not_after"].replace("Z", "+00:00"))
    left = until - (now or datetime.now(UTC))
    days = left.days if left > timedelta(0) else 0
    return {**info, "days_left": days, "warn": left < timedelta(days=CERT_WARN_DAYS)}


async def _domains(page: Page, status: int = 200, **extra) -> Response:
    rows = await page.state.db.read(domains.mapped)
    sites = await page.state.db.read(deployments.list_sites)
    certs = certificate_view(await page.state.db.read(describe))
    return render(
        page,
        "domains.html",
        status,
        domains=rows,
        sites=[s["name"] for s in sites],
        certs=certs,
        cert_warn_days=CERT_WARN_DAYS,
        done=_done(page),
        **extra,
    )


async def domains_page(page: Page) -> Response:
    return await _domains(page)


async def domain_add(page: Page) -> Response:
    domain, site = page.field("domain").strip(), page.field("site").strip()
    try:
        await domains.map_domain(page.state, None, domain, site)
    except HTTPError as exc:
        return await _domains(page, exc.status, error=exc.message, domain=domain, site=site)
    return redirect("/domains?done=domain-added")


async def domain_remove(page: Page, domain: str) -> Response:
    await domains.unmap_domain(page.state, None, domain)
    return redirect("/domains?done=domain-removed")


# -- sessions -------------------------------------------------------------------------------


async def sessions_page(page: Page) -> Response:
    active = await page.state.db.read(sessions.list_active)
    mine = [s for s in active if s["username"] == page.session.username]
    return render(page, "sessions.html", sessions=mine, current=page.session.id, done=_done(page))


async def session_end(page: Page, session_id: str) -> Response:
    if not session_id.isdigit():
        raise HTTPError(404, "SESSION_NOT_FOUND", f"no session {session_id}")
    if int(session_id) == page.session.id:  # this one: the Log out button says so
        raise HTTPError(400, "BAD_REQUEST", "use Log out to end this session")
    ended = await page.state.db.write(
        sessions.revoke_of_user, page.session.user_id, int(session_id)
    )
    if not ended:
        raise HTTPError(404, "SESSION_NOT_FOUND", f"no session {session_id}")
    return redirect("/sessions?done=session-ended")


async def sessions_end_others(page: Page) -> Response:
    await page.state.db.write(sessions.revoke_others, page.session.user_id, page.session.id)
    return redirect("/sessions?done=others-ended")
