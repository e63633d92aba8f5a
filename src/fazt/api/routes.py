"""Every API route with the scope it requires (declared here, never inferred from paths),
and which routes a site-limited key may use (PER_SITE; see fazt.api.access)."""

from dataclasses import replace

from fazt.api import (
    analytics,
    apps,
    backups,
    certificates,
    deploy,
    domains,
    health,
    keys,
    runtime,
    storage,
    system,
    upgrade,
)
from fazt.api.access import whole_server
from fazt.web.router import PUBLIC, Router

# Handlers that check the key's sites themselves (access.check_site / owns / visible).
# Every other route refuses a site-limited key: it exposes or changes every site.
PER_SITE = frozenset(
    {
        health.health,
        deploy.deploy_zip,
        deploy.start_deployment,
        deploy.upload_blob,  # content-addressed, owned by no site (see docs/api.md)
        deploy.upload_blob_batch,
        deploy.finalize_deployment,
        apps.list_apps,
        apps.app_info,
        apps.update_app,
        apps.delete_app,
        apps.app_history,
        apps.app_files,
        apps.rollback,
        apps.promote,
        domains.list_domains,
        domains.add_domain,
        domains.remove_domain,
        storage.storage_summary,
        storage.storage_kv,
        storage.storage_collection,
        storage.storage_objects,
        runtime.list_env,
        runtime.set_env,
        runtime.unset_env,
        runtime.app_logs,
        analytics.overview,
        analytics.sites,
    }
)


def build_router() -> Router:
    r = Router()
    r.add("GET", "/health", health.health, scope=PUBLIC)
    r.add("POST", "/api/deploy", deploy.deploy_zip, scope="deploy")
    r.add("POST", "/api/apps/{name}/deployments", deploy.start_deployment, scope="deploy")
    r.add("PUT", "/api/blobs/{sha256}", deploy.upload_blob, scope="deploy")
    r.add("POST", "/api/blobs", deploy.upload_blob_batch, scope="deploy")
    r.add(
        "POST",
        "/api/deployments/{deployment_id}/finalize",
        deploy.finalize_deployment,
        scope="deploy",
    )
    r.add("GET", "/api/apps", apps.list_apps, scope="deploy")
    r.add("GET", "/api/apps/{name}", apps.app_info, scope="deploy")
    r.add("PATCH", "/api/apps/{name}", apps.update_app, scope="deploy")
    r.add("DELETE", "/api/apps/{name}", apps.delete_app, scope="admin")
    r.add("GET", "/api/apps/{name}/deployments", apps.app_history, scope="deploy")
    r.add("GET", "/api/apps/{name}/files", apps.app_files, scope="deploy")
    r.add("POST", "/api/apps/{name}/rollback", apps.rollback, scope="deploy")
    r.add("POST", "/api/apps/{name}/promote", apps.promote, scope="deploy")
    r.add("GET", "/api/domains", domains.list_domains, scope="admin")
    r.add("POST", "/api/domains", domains.add_domain, scope="admin")
    r.add("DELETE", "/api/domains/{domain}", domains.remove_domain, scope="admin")
    r.add("GET", "/api/apps/{name}/storage", storage.storage_summary, scope="deploy")
    r.add("GET", "/api/apps/{name}/storage/kv", storage.storage_kv, scope="deploy")
    r.add(
        "GET",
        "/api/apps/{name}/storage/collections/{collection}",
        storage.storage_collection,
        scope="deploy",
    )
    r.add("GET", "/api/apps/{name}/storage/objects", storage.storage_objects, scope="deploy")
    r.add("GET", "/api/backups", backups.list_backups, scope="admin")
    r.add("POST", "/api/backups", backups.create_backup, scope="admin")
    r.add("GET", "/api/backups/{file}", backups.download_backup, scope="admin")
    r.add("GET", "/api/apps/{name}/env", runtime.list_env, scope="deploy")
    r.add("PUT", "/api/apps/{name}/env/{env}", runtime.set_env, scope="deploy")
    r.add("DELETE", "/api/apps/{name}/env/{env}", runtime.unset_env, scope="deploy")
    r.add("GET", "/api/apps/{name}/logs", runtime.app_logs, scope="deploy")
    r.add("GET", "/api/keys", keys.list_keys, scope="admin")
    r.add("POST", "/api/keys", keys.create_key, scope="admin")
    r.add("DELETE", "/api/keys/{key_id}", keys.revoke_key, scope="admin")
    r.add("GET", "/api/system", system.system, scope="admin")
    r.add("GET", "/api/sessions", system.list_sessions, scope="admin")
    r.add("DELETE", "/api/sessions", system.end_sessions, scope="admin")
    # Analytics, redirects, webhooks (their public endpoints: fazt.analytics.endpoints).
    r.add("GET", "/api/analytics", analytics.overview, scope="admin")
    r.add("GET", "/api/analytics/requests", analytics.request_metrics, scope="admin")
    r.add("GET", "/api/analytics/sites", analytics.sites, scope="admin")
    r.add("GET", "/api/redirects", analytics.list_redirects, scope="admin")
    r.add("POST", "/api/redirects", analytics.add_redirect, scope="admin")
    r.add("DELETE", "/api/redirects/{slug}", analytics.remove_redirect, scope="admin")
    r.add("GET", "/api/webhooks", analytics.list_webhooks, scope="admin")
    r.add("POST", "/api/webhooks", analytics.add_webhook, scope="admin")
    r.add("DELETE", "/api/webhooks/{name}", analytics.remove_webhook, scope="admin")
    r.add("GET", "/api/webhook-events", analytics.webhook_events, scope="admin")
    r.add("POST", "/api/upgrade", upgrade.upgrade, scope="admin")
    r.add("GET", "/api/upgrade/{upgrade_id}", upgrade.upgrade_status, scope="admin")
    r.add("GET", "/api/certificates", certificates.certificates, scope="admin")
    r.routes = [
        route if route.handler in PER_SITE else replace(route, handler=whole_server(route.handler))
        for route in r.routes
    ]
    return r
