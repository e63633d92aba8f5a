"""Every route of the server, per kind of host, in one place.

- The dashboard host (admin.<domain>, or localhost): the public endpoints (analytics
  beacons, short links, inbound webhooks), the JSON API (each route with the key scope it
  needs, declared here and never inferred from paths, and whether a site-limited key may
  use it: see fazt.api.access), and the dashboard's pages.
- A user site's host: /_fazt/* (the tracking script and beacons); everything else is the
  site's JavaScript (/api) or its files (fazt.server.app).

Handlers come in three shapes, each adapted to the router's one endpoint shape here:
public endpoints `(state, req, **params)`, API handlers `(state, req, key, **params)`,
pages `(page, **params)`.
"""

from collections.abc import Callable
from typing import Any

from fazt.admin.dashboard import LOGGED_IN
from fazt.admin.pages import favicon_endpoint, page_endpoint, static_endpoint
from fazt.api.access import PUBLIC, api_endpoint
from fazt.api.errors import http_error
from fazt.errors import FaztError
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, error_response
from fazt.web.lazy import lazy_module
from fazt.web.router import ExceptionHandlers, Router

# The handlers' modules are imported at their first request (fazt.web.lazy): ~1 MB of
# API and dashboard code that a server answering only its sites never loads (issue 22).
backups_page = lazy_module("fazt.admin.backups_page")
deploy_page = lazy_module("fazt.admin.deploy_page")
health_page = lazy_module("fazt.admin.health_page")
logs_page = lazy_module("fazt.admin.logs_page")
operations = lazy_module("fazt.admin.operations")
storage_page = lazy_module("fazt.admin.storage_page")
upgrade_page = lazy_module("fazt.admin.upgrade_page")
users_page = lazy_module("fazt.admin.users_page")
views = lazy_module("fazt.admin.views")
analytics = lazy_module("fazt.api.analytics")
apps = lazy_module("fazt.api.apps")
backups = lazy_module("fazt.api.backups")
certificates = lazy_module("fazt.api.certificates")
deploy = lazy_module("fazt.api.deploy")
domains = lazy_module("fazt.api.domains")
health = lazy_module("fazt.api.health")
jobs = lazy_module("fazt.api.jobs")
keys = lazy_module("fazt.api.keys")
net = lazy_module("fazt.api.net")
public = lazy_module("fazt.api.public")
runtime = lazy_module("fazt.api.runtime")
storage = lazy_module("fazt.api.storage")
system = lazy_module("fazt.api.system")
upgrade = lazy_module("fazt.api.upgrade")
uploads = lazy_module("fazt.api.uploads")
v09_routes = lazy_module("fazt.api.v09_routes")
visitor_auth = lazy_module("fazt.api.visitor_auth")
visitor_users = lazy_module("fazt.api.visitor_users")

PER_SITE = True  # the handler checks the key's sites itself (fazt.api.access)
WHOLE_SERVER = False  # a site-limited key is refused: the route covers every site

PUBLIC_ENDPOINTS = [  # on the dashboard host; compatible with fazt 0.9
    ("OPTIONS", "/track", public.beacon_preflight),
    ("POST", "/track", public.beacon),
    ("GET", "/pixel.gif", public.pixel),
    ("GET", "/r/{slug:path}", public.redirect),
    ("POST", "/webhook/{name:path}", public.webhook),
]

SITE_ENDPOINTS = [  # on every user site, same origin as its pages
    ("GET", "/_fazt/t.js", public.tracking_script),
    ("POST", "/_fazt/track", public.site_beacon),
    ("GET", "/_fazt/pixel.gif", public.site_pixel),
    # Visitors signing in to the app (api/visitor_auth.py)
    ("GET", "/_fazt/auth/login", visitor_auth.login),
    ("GET", "/_fazt/auth/callback", visitor_auth.callback),
    ("POST", "/_fazt/auth/dev", visitor_auth.dev_sign_in),
    ("GET", "/_fazt/auth/me", visitor_auth.me),
    ("GET", "/_fazt/auth/logout", visitor_auth.logout_form),
    ("POST", "/_fazt/auth/logout", visitor_auth.logout),
]

API_ROUTES = [
    ("GET", "/health", health.health, PUBLIC, PER_SITE),
    ("POST", "/api/deploy", deploy.deploy_zip, "deploy", PER_SITE),
    ("POST", "/api/apps/{name}/deployments", deploy.start_deployment, "deploy", PER_SITE),
    ("PUT", "/api/blobs/{sha256}", deploy.upload_blob, "deploy", PER_SITE),
    ("POST", "/api/blobs", deploy.upload_blob_batch, "deploy", PER_SITE),
    ("POST", "/api/uploads", uploads.start_upload, "deploy", PER_SITE),
    ("GET", "/api/uploads/{upload_id}", uploads.upload_status, "deploy", PER_SITE),
    ("PUT", "/api/uploads/{upload_id}", uploads.upload_piece, "deploy", PER_SITE),
    (
        "POST",
        "/api/deployments/{deployment_id}/finalize",
        deploy.finalize_deployment,
        "deploy",
        PER_SITE,
    ),
    ("GET", "/api/apps", apps.list_apps, "deploy", PER_SITE),
    ("GET", "/api/apps/{name}", apps.app_info, "deploy", PER_SITE),
    ("PATCH", "/api/apps/{name}", apps.update_app, "deploy", PER_SITE),
    ("DELETE", "/api/apps/{name}", apps.delete_app, "admin", PER_SITE),
    ("GET", "/api/apps/{name}/deployments", apps.app_history, "deploy", PER_SITE),
    ("GET", "/api/apps/{name}/files", apps.app_files, "deploy", PER_SITE),
    ("POST", "/api/apps/{name}/rollback", apps.rollback, "deploy", PER_SITE),
    ("POST", "/api/apps/{name}/promote", apps.promote, "deploy", PER_SITE),
    ("GET", "/api/domains", domains.list_domains, "admin", PER_SITE),
    ("POST", "/api/domains", domains.add_domain, "admin", PER_SITE),
    ("DELETE", "/api/domains/{domain}", domains.remove_domain, "admin", PER_SITE),
    ("GET", "/api/apps/{name}/storage", storage.storage_summary, "deploy", PER_SITE),
    ("GET", "/api/apps/{name}/storage/kv", storage.storage_kv, "deploy", PER_SITE),
    (
        "GET",
        "/api/apps/{name}/storage/collections/{collection}",
        storage.storage_collection,
        "deploy",
        PER_SITE,
    ),
    ("GET", "/api/apps/{name}/storage/objects", storage.storage_objects, "deploy", PER_SITE),
    ("GET", "/api/backups", backups.list_backups, "admin", WHOLE_SERVER),
    ("POST", "/api/backups", backups.create_backup, "admin", WHOLE_SERVER),
    ("GET", "/api/backups/{file}", backups.download_backup, "admin", WHOLE_SERVER),
    ("POST", "/api/backups/{file}/verify", backups.verify_backup, "admin", WHOLE_SERVER),
    ("POST", "/api/backups/{file}/restore", backups.restore_backup, "admin", WHOLE_SERVER),
    ("GET", "/api/apps/{name}/env", runtime.list_env, "deploy", PER_SITE),
    ("PUT", "/api/apps/{name}/env/{env}", runtime.set_env, "deploy", PER_SITE),
    ("DELETE", "/api/apps/{name}/env/{env}", runtime.unset_env, "deploy", PER_SITE),
    ("GET", "/api/apps/{name}/logs", runtime.app_logs, "deploy", PER_SITE),
    ("GET", "/api/apps/{name}/net", net.list_net, "deploy", PER_SITE),
    ("PUT", "/api/apps/{name}/net/{host}", net.set_net, "admin", PER_SITE),
    ("DELETE", "/api/apps/{name}/net/{host}", net.delete_net, "admin", PER_SITE),
    ("GET", "/api/apps/{name}/jobs", jobs.list_jobs, "deploy", PER_SITE),
    ("POST", "/api/apps/{name}/jobs/{job}/run", jobs.run_job, "deploy", PER_SITE),
    ("GET", "/api/apps/{name}/users", visitor_users.list_users, "deploy", PER_SITE),
    ("PUT", "/api/apps/{name}/users/{user}/role", visitor_users.set_role, "admin", PER_SITE),
    ("GET", "/api/apps/{name}/users/{user}/data", visitor_users.export_data, "admin", PER_SITE),
    ("DELETE", "/api/apps/{name}/users/{user}/data", visitor_users.purge_data, "admin", PER_SITE),
    ("DELETE", "/api/apps/{name}/users/{user}", visitor_users.delete_user, "admin", PER_SITE),
    ("GET", "/api/auth/providers", visitor_users.list_providers, "admin", WHOLE_SERVER),
    ("POST", "/api/auth/providers", visitor_users.add_provider, "admin", WHOLE_SERVER),
    ("DELETE", "/api/auth/providers/{name}", visitor_users.remove_provider, "admin", WHOLE_SERVER),
    ("GET", "/api/keys", keys.list_keys, "admin", WHOLE_SERVER),
    ("POST", "/api/keys", keys.create_key, "admin", WHOLE_SERVER),
    ("DELETE", "/api/keys/{key_id}", keys.revoke_key, "admin", WHOLE_SERVER),
    ("GET", "/api/system", system.system, "admin", WHOLE_SERVER),
    ("GET", "/api/sessions", system.list_sessions, "admin", WHOLE_SERVER),
    ("DELETE", "/api/sessions", system.end_sessions, "admin", WHOLE_SERVER),
    ("GET", "/api/analytics", analytics.overview, "admin", PER_SITE),
    ("GET", "/api/analytics/requests", analytics.request_metrics, "admin", WHOLE_SERVER),
    ("GET", "/api/analytics/sites", analytics.sites, "admin", PER_SITE),
    ("GET", "/api/redirects", analytics.list_redirects, "admin", WHOLE_SERVER),
    ("POST", "/api/redirects", analytics.add_redirect, "admin", WHOLE_SERVER),
    ("DELETE", "/api/redirects/{slug}", analytics.remove_redirect, "admin", WHOLE_SERVER),
    ("GET", "/api/webhooks", analytics.list_webhooks, "admin", WHOLE_SERVER),
    ("POST", "/api/webhooks", analytics.add_webhook, "admin", WHOLE_SERVER),
    ("DELETE", "/api/webhooks/{name}", analytics.remove_webhook, "admin", WHOLE_SERVER),
    ("GET", "/api/webhook-events", analytics.webhook_events, "admin", WHOLE_SERVER),
    ("POST", "/api/upgrade", upgrade.upgrade, "admin", WHOLE_SERVER),
    ("GET", "/api/upgrade/{upgrade_id}", upgrade.upgrade_status, "admin", WHOLE_SERVER),
    ("GET", "/api/certificates", certificates.certificates, "admin", WHOLE_SERVER),
]

# fazt v0.9's API paths that this fazt names differently (issue 16; api/v09_routes.py):
# what a v0.9 client (remote status, client sites/logs/delete) and v0.9 scripts call.
V09_ROUTES = [
    ("GET", "/api/system/health", v09_routes.system_health, "deploy", PER_SITE),
    ("GET", "/api/system/limits", v09_routes.system_limits, "admin", WHOLE_SERVER),
    ("GET", "/api/system/cache", v09_routes.system_cache, "admin", WHOLE_SERVER),
    ("GET", "/api/system/db", v09_routes.system_db, "admin", WHOLE_SERVER),
    ("GET", "/api/system/config", v09_routes.system_config, "admin", WHOLE_SERVER),
    ("GET", "/api/config", v09_routes.system_config, "admin", WHOLE_SERVER),
    ("GET", "/api/sites", v09_routes.list_sites, "deploy", PER_SITE),
    ("DELETE", "/api/sites", v09_routes.delete_site_by_query, "admin", PER_SITE),
    ("GET", "/api/sites/{site_id}", v09_routes.site, "deploy", PER_SITE),
    ("DELETE", "/api/sites/{site_id}", v09_routes.delete_site, "admin", PER_SITE),
    ("GET", "/api/sites/{site_id}/files", v09_routes.site_files, "deploy", PER_SITE),
    ("GET", "/api/sites/{site_id}/files/{path:path}", v09_routes.site_file, "deploy", PER_SITE),
    ("GET", "/api/deployments", v09_routes.list_deployments, "deploy", PER_SITE),
    ("GET", "/api/envvars", v09_routes.list_envvars, "deploy", PER_SITE),
    ("POST", "/api/envvars", v09_routes.set_envvar, "deploy", PER_SITE),
    ("DELETE", "/api/envvars", v09_routes.delete_envvar, "deploy", PER_SITE),
    ("GET", "/api/logs", v09_routes.logs, "deploy", PER_SITE),
    ("POST", "/api/login", v09_routes.login, PUBLIC, PER_SITE),  # its own limits (login)
    ("POST", "/api/logout", v09_routes.logout, PUBLIC, PER_SITE),  # session or any key
    ("GET", "/api/auth/status", v09_routes.auth_status, "deploy", PER_SITE),
    ("GET", "/api/user/me", v09_routes.user_me, PUBLIC, PER_SITE),  # the session cookie
    ("GET", "/api/stats", v09_routes.get_stats, "admin", WHOLE_SERVER),
    ("GET", "/api/events", v09_routes.get_events, "admin", WHOLE_SERVER),
    ("GET", "/api/tags", v09_routes.get_tags, "admin", WHOLE_SERVER),
    ("POST", "/mcp/initialize", v09_routes.mcp_not_provided, PUBLIC, PER_SITE),
    ("POST", "/mcp/tools/list", v09_routes.mcp_not_provided, PUBLIC, PER_SITE),
    ("POST", "/mcp/tools/call", v09_routes.mcp_not_provided, PUBLIC, PER_SITE),
]

PAGES = [
    ("GET", "/login", views.login_page, PUBLIC),
    ("POST", "/login", views.login, PUBLIC),
    ("POST", "/logout", views.logout, LOGGED_IN),
    ("POST", "/logout-all", views.logout_everywhere, LOGGED_IN),
    ("GET", "/", views.overview, LOGGED_IN),
    ("GET", "/apps", views.apps_list, LOGGED_IN),
    ("GET", "/apps/{name}", views.app_page, LOGGED_IN),
    ("POST", "/apps/{name}/rollback", views.app_rollback, LOGGED_IN),
    ("POST", "/apps/{name}/promote", views.app_promote, LOGGED_IN),
    ("POST", "/apps/{name}/delete", views.app_delete, LOGGED_IN),
    ("POST", "/apps/{name}/env", views.env_set, LOGGED_IN),
    ("POST", "/apps/{name}/env/{env}/delete", views.env_unset, LOGGED_IN),
    ("POST", "/apps/{name}/users", views.user_role, LOGGED_IN),
    ("GET", "/apps/{name}/users/export", users_page.user_export, LOGGED_IN),
    ("POST", "/apps/{name}/users/delete", users_page.user_delete, LOGGED_IN),
    ("GET", "/keys", views.keys_page, LOGGED_IN),
    ("POST", "/keys", views.key_create, LOGGED_IN),
    ("POST", "/keys/{key_id}/revoke", views.key_revoke, LOGGED_IN),
    ("GET", "/analytics", views.analytics_page, LOGGED_IN),
    ("GET", "/settings", views.settings_page, LOGGED_IN),
    ("POST", "/settings", views.settings_save, LOGGED_IN),
    ("GET", "/upgrade", upgrade_page.upgrade_page, LOGGED_IN),  # follows an upgrade
    # Operations (issue 18 part A): backups, domains, redirects, webhooks, sessions.
    ("GET", "/backups", backups_page.backups_page, LOGGED_IN),
    ("POST", "/backups", backups_page.backup_create, LOGGED_IN),
    ("POST", "/backups/restore", backups_page.backup_restore, LOGGED_IN),
    ("POST", "/backups/{file}/verify", backups_page.backup_verify, LOGGED_IN),
    ("GET", "/domains", operations.domains_page, LOGGED_IN),
    ("POST", "/domains", operations.domain_add, LOGGED_IN),
    ("POST", "/domains/{domain}/delete", operations.domain_remove, LOGGED_IN),
    ("GET", "/redirects", operations.redirects_page, LOGGED_IN),
    ("POST", "/redirects", operations.redirect_add, LOGGED_IN),
    ("POST", "/redirects/{slug}/delete", operations.redirect_remove, LOGGED_IN),
    ("GET", "/webhooks", operations.webhooks_page, LOGGED_IN),
    ("POST", "/webhooks", operations.webhook_add, LOGGED_IN),
    ("POST", "/webhooks/{name}/delete", operations.webhook_remove, LOGGED_IN),
    ("GET", "/sessions", operations.sessions_page, LOGGED_IN),
    ("POST", "/sessions/end-others", operations.sessions_end_others, LOGGED_IN),
    ("POST", "/sessions/{session_id}/end", operations.session_end, LOGGED_IN),
    # issue 18 part B: storage browser, browser deploys, logs, health
    ("POST", "/apps/{name}/deploy", deploy_page.deploy_upload, LOGGED_IN),
    ("GET", "/logs", logs_page.logs_page, LOGGED_IN),
    ("GET", "/logs/feed", logs_page.logs_feed, LOGGED_IN),
    ("GET", "/server-health", health_page.health_page, LOGGED_IN),
    ("GET", "/apps/{name}/storage", storage_page.storage_page, LOGGED_IN),
    ("GET", "/apps/{name}/storage/kv", storage_page.kv_entry, LOGGED_IN),
    ("POST", "/apps/{name}/storage/kv/delete", storage_page.kv_delete, LOGGED_IN),
    ("GET", "/apps/{name}/storage/docs", storage_page.collections_page, LOGGED_IN),
    ("GET", "/apps/{name}/storage/docs/{collection}", storage_page.collection_page, LOGGED_IN),
    ("GET", "/apps/{name}/storage/docs/{collection}/edit", storage_page.document_page, LOGGED_IN),
    ("POST", "/apps/{name}/storage/docs/{collection}/edit", storage_page.document_save, LOGGED_IN),
    (
        "POST",
        "/apps/{name}/storage/docs/{collection}/delete",
        storage_page.document_delete,
        LOGGED_IN,
    ),
    ("GET", "/apps/{name}/storage/blobs", storage_page.blobs_page, LOGGED_IN),
    ("GET", "/apps/{name}/storage/blob", storage_page.blob_download, LOGGED_IN),
    ("POST", "/apps/{name}/storage/blobs/delete", storage_page.blob_delete, LOGGED_IN),
]


# Exceptions a handler lets through -> the response: the product's refusals (FaztError)
# by their code (fazt.api.errors), HTTP errors as they are.
EXCEPTION_HANDLERS = ExceptionHandlers(
    {
        HTTPError: error_response,
        FaztError: lambda exc: error_response(http_error(exc)),
    }
)


def dashboard_routes(state: ServerState) -> Router:
    r = Router()
    for method, path, handler in PUBLIC_ENDPOINTS:
        r.add(method, path, _public(state, handler))
    for method, path, handler, scope, per_site in API_ROUTES + V09_ROUTES:
        r.add(method, path, api_endpoint(state, handler, scope, per_site))
    for method, path, view, scope in PAGES:
        endpoint = page_endpoint(state, view, scope)
        r.add(method, path, endpoint)
        if method == "GET":  # pages name HEAD in their Allow header, as static files do
            r.add("HEAD", path, endpoint)
    r.add("GET", "/favicon.ico", favicon_endpoint)
    r.add("HEAD", "/favicon.ico", favicon_endpoint)
    r.add("GET", "/static/{name:path}", static_endpoint)
    r.add("HEAD", "/static/{name:path}", static_endpoint)
    return r


def site_routes(state: ServerState) -> Router:
    """/_fazt/* on a user site; the endpoints get the site's name as `site`."""
    r = Router()
    for method, path, handler in SITE_ENDPOINTS:
        r.add(method, path, _public(state, handler))
    return r


def _public(state: ServerState, handler: Callable) -> Callable:
    async def endpoint(req: Request, **params: Any) -> Response:
        return await handler(state, req, **params)

    endpoint.__qualname__ = f"public:{handler.__qualname__}"
    return endpoint
