"""v0.9's redirects (with their tags) and inbound webhooks (secrets kept, signing the
v0.9 way)."""

from fazt.analytics import redirects, webhooks
from fazt.compat.v09_context import Context, to_stamp
from fazt.compat.v09_report import Report

# -- redirects, webhooks ---------------------------------------------------------------------


def import_redirects(src, dst, rep: Report, ctx: Context) -> None:
    tally = rep.tally("redirects")
    for row in src.execute(
        "SELECT slug, destination, tags, click_count, created_at FROM redirects ORDER BY id"
    ):
        tally.found += 1
        slug, url = row["slug"], row["destination"]
        try:
            redirects.validate_slug(slug if isinstance(slug, str) else "")
            redirects.validate_url(url if isinstance(url, str) else "")
        except ValueError as exc:
            tally.skip(str(slug), f"refused by this fazt: {exc}")
            continue
        tags = row["tags"].split(",") if isinstance(row["tags"], str) else []
        redirects.add(dst, slug, url, [t.strip() for t in tags if t.strip()])
        clicks = row["click_count"] if isinstance(row["click_count"], int) else 0
        when = to_stamp(row["created_at"])
        dst.execute(
            "UPDATE redirects SET clicks = ?, created_at = COALESCE(?, created_at) WHERE slug = ?",
            (max(0, clicks), when, slug),
        )
        tally.imported += 1


def import_webhooks(src, dst, rep: Report, ctx: Context) -> None:
    """The endpoint is the webhook's name here; a secret is kept and signs the v0.9 way
    (legacy_signatures), so senders keep working; an inactive one is not imported."""
    tally = rep.tally("webhooks")
    for row in src.execute(
        "SELECT endpoint, secret, is_active, created_at FROM webhooks ORDER BY id"
    ):
        tally.found += 1
        endpoint, secret = row["endpoint"], row["secret"]
        try:
            webhooks.validate_name(endpoint if isinstance(endpoint, str) else "")
        except ValueError as exc:
            tally.skip(str(endpoint), f"refused by this fazt: {exc}")
            continue
        if not row["is_active"]:
            tally.skip(
                endpoint, "disabled in v0.9 (it refused every delivery): re-create if needed"
            )
            continue
        if secret is not None and not (isinstance(secret, str) and secret.isprintable()):
            tally.skip(endpoint, "the secret is not printable text (corrupt row)")
            continue
        secret = secret or None  # "" was an unsigned webhook in v0.9
        created = webhooks.add(dst, endpoint, secret, secret is not None)
        when = to_stamp(row["created_at"])
        if when:
            dst.execute("UPDATE webhooks SET created_at = ? WHERE id = ?", (when, created["id"]))
        ctx.webhooks[endpoint] = (created["id"], secret is not None)
        tally.imported += 1
