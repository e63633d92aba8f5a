"""Request and response adapters for fazt v0.9's HTTP API fields (issue 16).

Scripts written for v0.9 keep working: where v0.9 named a field differently, a request in
v0.9's shape is turned into ours here, and its answer carries v0.9's fields beside ours
(extra fields are harmless; renamed ones break scripts). The handlers in api/ call these
and stay written in this fazt's own terms. Each adapter is listed in
docs/migrating-from-v0.9.md.
"""

from typing import Any

from fazt.web.http import HTTPError

MAX_V09_SECRET = 256


# -- POST /api/redirects: {"slug", "destination", "tags"} -------------------------------------


def is_v09_redirect(body: dict) -> bool:
    return "destination" in body and "url" not in body


def redirect_request(body: dict) -> tuple[Any, Any]:
    """(slug, url) from v0.9's fields; its `tags` are this fazt's too."""
    return body.get("slug"), body.get("destination")


def redirect_item(redirect: dict) -> dict:
    """A redirect with v0.9's `destination` and `click_count` beside our url and clicks
    (both already carry `id` and `tags`)."""
    return {**redirect, "destination": redirect["url"], "click_count": redirect["clicks"]}


# -- POST /api/webhooks: {"name": "GitHub deploy", "endpoint": "github-deploy", "secret"} -----


def is_v09_webhook(body: dict) -> bool:
    return "endpoint" in body


def webhook_request(body: dict) -> tuple[str, str | None, str]:
    """(name in the URL, secret or None for unsigned, display name) from v0.9's fields.

    v0.9's `endpoint` is the URL part (/webhook/<endpoint>), what this fazt calls the
    webhook's name; v0.9's `name` is a label only. v0.9 took any secret, so any 1 to 256
    printable characters are accepted here (ours ask for 16 or more); none (or "") is an
    unsigned webhook, as in v0.9."""
    endpoint, label, secret = body.get("endpoint"), body.get("name", ""), body.get("secret")
    if not isinstance(endpoint, str) or not isinstance(label, str):
        raise HTTPError(400, "BAD_REQUEST", "Name and endpoint are required")
    if secret == "":
        secret = None
    if secret is not None and (
        not isinstance(secret, str) or len(secret) > MAX_V09_SECRET or not secret.isprintable()
    ):
        raise HTTPError(400, "BAD_REQUEST", "the secret must be 1 to 256 printable characters")
    return endpoint, secret, label


def webhook_response(created: dict, label: str) -> dict:
    """Our answer plus v0.9's id, name (the label), endpoint, has_secret and is_active."""
    v09 = {
        "name": label,
        "endpoint": created["name"],
        "has_secret": created["signed"],
        "is_active": True,
    }
    return {**created, **v09}


# -- GET /api/apps: items with v0.9's id and source ----------------------------------------


def app_item(site: dict) -> dict:
    """v0.9's `id` (the app's name here: it is what /api/apps/{id} takes) and `source`
    ("system" for the seeded sites, "deploy" for the others)."""
    source = "system" if site.get("kind") == "system" else "deploy"
    return {**site, "id": site["name"], "source": source}
