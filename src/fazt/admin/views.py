"""The dashboard's pages. Each takes a Page and returns a Response.

State-changing pages are POST forms; the Dashboard has already checked their CSRF token
and origin. Reads go through the same modules as the JSON API (hosting, runtime, storage).
"""

from urllib.parse import quote

from fazt.admin import deploy_page, settings_form, stats
from fazt.admin.dashboard import Page, redirect, render, safe_next
from fazt.api import request_auth, system
from fazt.api.errors import status_of
from fazt.auth import sessions, tokens, visitors
from fazt.db import settings
from fazt.hosting import deployments
from fazt.hosting.deployments import DeployError
from fazt.hosting.names import SYSTEM_SITES
from fazt.runtime import store
from fazt.storage import user_data
from fazt.web.http import HTTPError, Response

# Messages shown after a redirect, by code: the URL never carries free text.
DONE = {
    "rollback": "Rolled back.",
    "promote": "Deployment promoted.",
    "deleted": "App deleted.",
    "env-set": "Env var saved.",
    "env-unset": "Env var removed.",
    "role": "Role changed.",
    "user-data-deleted": "The visitor's data was deleted.",
    "user-deleted": "The visitor's account and data were deleted.",
    "revoked": "Key revoked.",
    "deployed": "Deployed.",
    "saved": "Settings saved.",
    "saved-restart": "Settings saved. Some apply when the server restarts (fazt server restart).",
}
DAY_CHOICES = (7, 30, 90)


# -- login and logout ---------------------------------------------------------------------


def login_form(
    page: Page, next_path: str, error: str = "", status: int = 200, username: str = ""
) -> Response:
    return render(page, "login.html", status, next_path=next_path, error=error, username=username)


async def login_page(page: Page) -> Response:
    next_path = safe_next(page.req.query.get("next"))
    if page.session is not None:
        return redirect(next_path)
    return login_form(page, next_path)


async def login(page: Page) -> Response:
    state, req = page.state, page.req
    next_path = safe_next(page.field("next"))
    username, password = page.field("username").strip(), page.field("password")
    result = await request_auth.password_login(state, req, username, password)
    if result.outcome == "limited":
        message = f"Too many failed attempts. Try again in {max(1, result.retry_after // 60)} min."
        return _retry_later(page, next_path, message, 429, result.retry_after)
    if result.outcome == "busy":
        message = "The server is busy checking other logins. Try again in a moment."
        return _retry_later(page, next_path, message, 503, result.retry_after)
    if result.outcome != "ok":
        return login_form(page, next_path, "Wrong username or password.", 401, username)
    response = redirect(next_path)
    cookie = await request_auth.session_cookie(state, req, result.token, result.max_age)
    response.headers.append(("set-cookie", cookie))
    return response


def _retry_later(page: Page, next_path: str, message: str, status: int, wait: int) -> Response:
    response = login_form(page, next_path, message, status)
    response.headers.append(("retry-after", str(wait)))
    return response


async def _logged_out(page: Page) -> Response:
    response = redirect("/login")
    cookie = await request_auth.session_cookie(page.state, page.req, "", 0)
    response.headers.append(("set-cookie", cookie))
    return response


async def logout(page: Page) -> Response:
    await page.state.db.write(sessions.revoke, page.session.id)
    return await _logged_out(page)


async def logout_everywhere(page: Page) -> Response:
    await page.state.db.write(sessions.revoke_all, page.session.user_id)
    return await _logged_out(page)


# -- overview and apps --------------------------------------------------------------------


async def overview(page: Page) -> Response:
    info = await page.state.db.read(stats.overview, page.state)
    return render(page, "overview.html", info=info)


async def apps_list(page: Page) -> Response:
    sites = await page.state.db.read(deployments.list_sites)
    for site in sites:
        site["url"] = page.state.site_url(site["name"]) if site["live_deployment_id"] else None
    return render(page, "apps.html", sites=sites, done=DONE.get(page.req.query.get("done", "")))


async def _app_page(page: Page, name: str, error: str = "", status: int = 200) -> Response:
    info = await page.state.db.read(stats.app_details, name.lower())
    if info is None:
        raise HTTPError(404, "APP_NOT_FOUND", f"no app named '{name}'")
    info["site"]["url"] = page.state.site_url(info["site"]["name"])
    deploy_page.add_preview_links(page.state, info["history"])
    system = info["site"]["name"] in SYSTEM_SITES
    scheduler = page.state.jobs  # fazt.runtime.jobs: the live deployment's cron jobs
    jobs = await scheduler.overview(info["site"]["name"]) if scheduler is not None else []
    users = await page.state.db.read(visitors.list_users, info["site"]["name"])
    usage = await page.state.db.read(user_data.usage_by_user, info["site"]["name"])
    for user in users:  # what each keeps with fazt.storage.user
        user["storage"] = usage.get(user["id"], {"bytes": 0, "items": 0})
    return render(
        page,
        "app.html",
        status,
        app=info,
        jobs=jobs,
        users=users,
        roles=visitors.ROLES,
        system=system,
        can_roll_back=not system and _has_previous(info),
        error=error,
        done=DONE.get(page.req.query.get("done", "")),
    )


def _has_previous(info: dict) -> bool:
    """Whether Roll back can work: an older deployment that was live once (as
    deployments.rollback looks for), so the button is not offered where it can only fail."""
    live = info["site"]["live_deployment_id"] or 0
    return any(d["id"] < live and d["live_at"] for d in info["history"])


def _refuse_system(name: str, what: str) -> None:
    """System sites (the dashboard, root, 404) are fazt's own: no env vars, no rollback."""
    if name.lower() in SYSTEM_SITES:
        raise HTTPError(403, "SYSTEM_SITE", f"'{name.lower()}' is a system app: {what}")


async def app_page(page: Page, name: str) -> Response:
    return await _app_page(page, name)


def _deployment_id(page: Page, required: bool) -> int | None:
    raw = page.field("deployment_id").strip()
    if not raw and not required:
        return None
    if not raw.isdigit():
        raise ValueError("choose a deployment")
    return int(raw)


async def _change_pointer(page: Page, name: str, fn, required: bool, done: str) -> Response:
    try:
        dep_id = _deployment_id(page, required)
        args = (dep_id,) if required or dep_id is not None else ()
        await page.state.db.write(fn, name.lower(), *args)
    except ValueError as exc:
        return await _app_page(page, name, str(exc), 400)
    except DeployError as exc:
        return await _app_page(page, name, exc.message, status_of(exc))
    await page.state.refresh_routing()
    return redirect(f"/apps/{quote(name.lower())}?done={done}")


async def app_rollback(page: Page, name: str) -> Response:
    _refuse_system(name, "it cannot be rolled back here")
    return await _change_pointer(page, name, deployments.rollback, False, "rollback")


async def app_promote(page: Page, name: str) -> Response:
    _refuse_system(name, "its deployments cannot be switched here")
    return await _change_pointer(page, name, deployments.promote, True, "promote")


async def app_delete(page: Page, name: str) -> Response:
    name = name.lower()
    if name in SYSTEM_SITES:
        return await _app_page(page, name, f"'{name}' is a system app and cannot be deleted", 403)
    if page.field("confirm").strip() != name:
        return await _app_page(page, name, f"Type '{name}' to confirm the deletion.", 400)
    if not await page.state.db.write(deployments.delete_site, name):
        raise HTTPError(404, "APP_NOT_FOUND", f"no app named '{name}'")
    await page.state.refresh_routing()
    return redirect("/apps?done=deleted")


async def env_set(page: Page, name: str) -> Response:
    name = name.lower()
    _refuse_system(name, "it has no env vars")
    try:
        var = store.validate_env_name(page.field("name").strip())
    except store.EnvError as exc:
        return await _app_page(page, name, str(exc), 400)
    value = page.field("value")
    if len(value.encode()) > store.ENV_VALUE_MAX:
        return await _app_page(page, name, f"values are at most {store.ENV_VALUE_MAX} bytes", 413)
    if await page.state.db.read(deployments.site_row, name) is None:
        raise HTTPError(404, "APP_NOT_FOUND", f"no app named '{name}'")
    if await page.state.db.write(store.set_env, name, var, value) == "limit":
        return await _app_page(page, name, f"at most {store.ENV_MAX_PER_APP} env vars", 409)
    return redirect(f"/apps/{quote(name)}?done=env-set#env")


async def user_role(page: Page, name: str) -> Response:
    """A signed-in visitor's role in the app (owner, admin, user)."""
    name = name.lower()
    try:
        await page.state.db.write(visitors.set_role, name, page.field("user"), page.field("role"))
    except visitors.VisitorAuthError as exc:
        return await _app_page(page, name, exc.message, status_of(exc))
    return redirect(f"/apps/{quote(name)}?done=role#users")


async def env_unset(page: Page, name: str, env: str) -> Response:
    name = name.lower()
    await page.state.db.write(store.unset_env, name, env)
    return redirect(f"/apps/{quote(name)}?done=env-unset#env")


# -- keys, analytics, settings, upgrade ---------------------------------------------------


async def _keys(page: Page, status: int = 200, **extra) -> Response:
    keys = await page.state.db.read(tokens.list_keys)
    return render(
        page,
        "keys.html",
        status,
        keys=keys,
        scopes=tokens.SCOPES,
        done=DONE.get(page.req.query.get("done", "")),
        **extra,
    )


async def keys_page(page: Page) -> Response:
    return await _keys(page)


async def key_create(page: Page) -> Response:
    name = page.field("name").strip()
    sites_text = page.field("sites").strip()
    try:
        scopes = tokens.parse_scopes(",".join(page.form.get("scopes", [])))
        sites = tokens.parse_sites(sites_text) if sites_text else None  # empty: every site
        if not name or len(name) > 100:
            raise ValueError("a key needs a name (at most 100 characters)")
    except ValueError as exc:
        return await _keys(page, 400, error=str(exc))
    key_id, token = await page.state.db.write(tokens.create_key, name, scopes, sites)
    # Shown in this response only; the database keeps its hash.
    return await _keys(page, 201, new_key={"id": key_id, "name": name, "token": token})


async def key_revoke(page: Page, key_id: str) -> Response:
    if not key_id.isdigit():
        raise HTTPError(404, "KEY_NOT_FOUND", f"no key {key_id}")
    await page.state.db.write(tokens.revoke, int(key_id))
    return redirect("/keys?done=revoked")


async def analytics_page(page: Page) -> Response:
    query = page.req.query
    site = query.get("site") or None
    days = int(query["days"]) if query.get("days", "").isdigit() else 7
    days = days if days in DAY_CHOICES else 7
    data = await page.state.db.read(stats.analytics, site, days)
    sites = await page.state.db.read(deployments.list_sites)
    return render(
        page,
        "analytics.html",
        data=data,
        site=site,
        days=days,
        day_choices=DAY_CHOICES,
        sites=[s["name"] for s in sites],
    )


async def _settings(
    page: Page,
    status: int = 200,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    values = await page.state.db.read(settings.all_settings)
    active = await page.state.db.read(sessions.list_active)
    https = await page.state.db.read(system.https_status, values)
    schema = await page.state.db.read(settings.describe)  # every setting (fazt.db.setting_schema)
    return render(
        page,
        "settings.html",
        status,
        values=values,
        https=https,
        sessions=active,
        schema=schema,
        form=settings_form.fields(values, typed),
        errors=errors or {},
        error="Nothing was saved: check the fields marked below." if errors else "",
        done=DONE.get(page.req.query.get("done", "")),
        dashboard_url=page.state.dashboard_url(),
    )


async def settings_page(page: Page) -> Response:
    return await _settings(page)


async def settings_save(page: Page) -> Response:
    return await settings_form.save(page, _settings)
