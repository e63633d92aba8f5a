"""The Settings page's form: the settings people change most, checked by the same typed
schema as `fazt server set-config` (fazt.db.setting_schema). Nothing is saved unless
every field is valid; each refusal is shown beside its field."""

from fazt.admin.dashboard import Page, redirect
from fazt.db import setting_schema, settings
from fazt.web.http import Response

# (setting, label, input type): the form's fields, in order.
FIELDS = (
    ("domain", "Domain", "text"),
    ("https_enabled", "Serve HTTPS (certificates from ACME)", "checkbox"),
    ("history_limit", "Deployments kept per app", "number"),
    ("session_ttl_seconds", "Idle sessions end after (seconds)", "number"),
    ("session_max_age_hours", "Every session ends after (hours from login)", "number"),
    ("trusted_proxies", "Trusted proxies (IPs/CIDRs, comma-separated)", "text"),
    ("release_url", "Release index URL (upgrades)", "url"),
)


def fields(values: dict[str, str], typed: dict[str, str] | None = None) -> list[dict]:
    """What the form shows: each field's value (as typed, after a refusal) and its rules."""
    shown = []
    for name, label, kind in FIELDS:
        s = setting_schema.lookup(name)
        value = (typed or {}).get(name, values[name])
        shown.append(
            {
                "name": name,
                "label": label,
                "kind": kind,
                "value": value,
                "allowed": s.allowed(),
                "restart": s.restart,
            }
        )
    return shown


def checked(page: Page) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(typed values, values to store, errors by field) for the posted form."""
    typed, clean, errors = {}, {}, {}
    for name, _label, kind in FIELDS:
        if kind == "checkbox":
            typed[name] = "1" if page.field(name) == "1" else "0"
        else:
            typed[name] = page.field(name)
        try:
            clean[name] = setting_schema.check(name, typed[name])
        except setting_schema.SettingError as exc:
            errors[name] = str(exc)
    return typed, clean, errors


async def save(page: Page, render_page) -> Response:
    """POST /settings: store what changed, or show the form again with its errors (400)."""
    typed, clean, errors = checked(page)
    if errors:
        return await render_page(page, 400, typed=typed, errors=errors)
    values = await page.state.db.read(settings.all_settings)
    changed = {k: v for k, v in clean.items() if values.get(k) != v}

    def store(conn) -> None:
        for key, value in changed.items():
            settings.put(conn, key, value)

    if changed:
        await page.state.db.write(store)
    restart = any(setting_schema.lookup(k).restart for k in changed)
    return redirect("/settings?done=" + ("saved-restart" if restart else "saved"))
