"""Each kind of v0.9 data turned into this fazt's: one function per kind, each given the
old database (read-only), the new one (inside the import's one transaction) and the report.

A row that cannot be imported as it is (a name this fazt refuses, a file whose bytes do
not match their stored hash, a NULL where a value belongs) is skipped with its reason in
the report, never guessed at; the operator sees what to re-create by hand.
"""

import hashlib
import json
import re
import secrets
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from fazt.analytics import redirects, store, useragent, webhooks
from fazt.compat import v09_source
from fazt.compat.v09_report import Report
from fazt.db.clock import stamp
from fazt.hosting import deployments, mime
from fazt.hosting import manifest as manifests
from fazt.hosting.names import InvalidSiteName, validate_site_name
from fazt.hosting.paths import UnsafePath, deployment_path
from fazt.hosting.publishing_policy import PublishingPolicy
from fazt.runtime import store as runtime_store
from fazt.storage import documents, kv, objects
from fazt.storage.errors import StorageError

DEPLOYER = "migrate-v09"
EVENT_BATCH = 5000
# v0.9's seeded sites: its dashboard is replaced by this fazt's; root and 404 are kept
# as this fazt's system sites, deployed by the import (so seeding leaves them alone).
V09_DASHBOARD = "admin"
KEPT_SYSTEM_SITES = ("root", "404")
_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?")


class Context:
    """What later kinds need from earlier ones: v0.9 site ids -> imported site names."""

    def __init__(self, domain: str | None) -> None:
        self.sites: dict[str, str] = {}
        self.domain = (domain or "").split("://")[-1].split(":")[0].split("/")[0].lower()
        self.skipped_files: set[tuple[str, str]] = set()  # (v0.9 site id, path)
        self.webhooks: dict[str, tuple[int, bool]] = {}  # endpoint -> (new id, signed)


def to_stamp(value: object) -> str | None:
    """A v0.9 DATETIME (SQLite text, RFC 3339 with up to nanoseconds, or unix seconds)
    as this fazt's stored timestamp; None when it cannot be read."""
    moment = to_datetime(value)
    return stamp(moment) if moment else None


def to_datetime(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        return None
    if fraction:
        moment += timedelta(microseconds=int(fraction[:6].ljust(6, "0")))
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(tzinfo=UTC)


# -- sites and files --------------------------------------------------------------------------


def import_sites(src: sqlite3.Connection, dst: sqlite3.Connection, rep: Report, ctx: Context):
    """Each v0.9 site (its rows in `files`) becomes a site with one live deployment."""
    sites, files = rep.tally("sites"), rep.tally("files")
    old_ids = [r[0] for r in src.execute("SELECT DISTINCT site_id FROM files ORDER BY site_id")]
    for old in old_ids:
        count = src.execute("SELECT COUNT(*) FROM files WHERE site_id IS ?", (old,)).fetchone()[0]
        sites.found += 1
        files.found += count
        name, kind, why = _site_name(old, ctx)
        if why:
            sites.skip(str(old), why)
            for (path,) in src.execute("SELECT path FROM files WHERE site_id IS ?", (old,)):
                files.skip(f"{old}/{path}", f"its site is not imported: {why}")
                ctx.skipped_files.add((old, path))
            continue
        entries, manifest_bytes = _import_files(src, dst, old, rep, ctx)
        if not entries:
            sites.skip(old, "no file of it can be published")
            continue
        manifest = _manifest(manifest_bytes, name, rep)
        deployments.publish(dst, name, entries, manifest, DEPLOYER, True, kind)
        ctx.sites[old] = name
        sites.imported += 1
        files.imported += len(entries)


def _site_name(old: object, ctx: Context) -> tuple[str, str, str | None]:
    """(new name, kind, None) or (_, _, why it is skipped)."""
    if not isinstance(old, str):
        return "", "", "the site id is not text (corrupt row)"
    name = old.lower()  # v0.9 stored names as typed but routed lower-cased hosts
    if name == V09_DASHBOARD:
        return "", "", "v0.9's dashboard: this fazt has its own"
    if name in ctx.sites.values():
        return "", "", f"same name as another v0.9 site once lower-cased ('{name}')"
    if name in KEPT_SYSTEM_SITES:
        return name, "system", None
    try:
        validate_site_name(name)
    except InvalidSiteName as exc:
        return "", "", f"not a valid site name here: {exc}"
    return name, "user", None


def _import_files(src, dst, old: str, rep: Report, ctx: Context):
    """Store the site's publishable files' blobs; their entries and manifest.json's bytes."""
    files, policy = rep.tally("files"), PublishingPolicy()
    entries: dict[str, deployments.FileEntry] = {}
    manifest_bytes = None
    rows = src.execute(
        "SELECT path, content, hash FROM files WHERE site_id = ? ORDER BY path", (old,)
    )
    for raw_path, content, stored_hash in rows:
        item = f"{old}/{raw_path}"
        path, why = _file_path(raw_path, content, stored_hash, policy)
        if why is None and path in entries:
            why = "another file has the same path once normalised (Unicode NFC)"
        if why:
            files.skip(item, why)
            ctx.skipped_files.add((old, raw_path))
            continue
        data = content.encode() if isinstance(content, str) else bytes(content)
        sha = deployments.sha256_hex(data)
        deployments.store_blob(dst, sha, data)
        entries[path] = deployments.FileEntry(path, sha, len(data), mime.guess(path))
        if path == "manifest.json":
            manifest_bytes = data
    return list(entries.values()), manifest_bytes


def _file_path(raw_path, content, stored_hash, policy: PublishingPolicy):
    """(deployment path, None) or (None, why the file is skipped)."""
    if not isinstance(raw_path, str):
        return None, "the path is not text (corrupt row)"
    if not isinstance(content, bytes | str):
        return None, "no content (corrupt row)"
    data = content.encode() if isinstance(content, str) else content
    if not isinstance(stored_hash, str) or deployments.sha256_hex(data) != stored_hash.lower():
        return None, "the bytes do not match their stored sha256 (corrupt row)"
    try:
        path = deployment_path(raw_path)
    except UnsafePath as exc:
        return None, f"unsafe path: {exc}"
    refusal = policy.refusal(path)
    if refusal is not None:
        return None, f"not published by this fazt ({refusal}); deploy it on purpose if needed"
    return path, None


def _manifest(raw: bytes | None, site: str, rep: Report) -> manifests.Manifest:
    try:
        return manifests.parse(raw)
    except manifests.InvalidManifest as exc:
        # v0.9 never read manifest.json: serve the file, without its settings.
        rep.notes.append(f"site {site}: manifest.json not applied ({exc})")
        return manifests.Manifest()


# -- app data: kv (db.* and fazt.storage.kv), documents, objects, env vars --------------------


def _app(site_id: object, ctx: Context) -> str | None:
    return ctx.sites.get(site_id) if isinstance(site_id, str) else None


def import_kv(src, dst, rep: Report, ctx: Context) -> None:
    """kv_store (the legacy runtime's `db`) and app_kv (`fazt.storage.kv`) into the app's
    kv. v0.9's `db` kept strings as they were; `db.get` here parses a stored string that
    is JSON as v0.9's did, so each value is stored as the JSON string of its text."""
    tally = rep.tally("kv")
    legacy: set[tuple[str, str]] = set()
    for site_id, key, value in src.execute("SELECT site_id, key, value FROM kv_store"):
        tally.found += 1
        app = _app(site_id, ctx)
        if app is None:
            tally.skip(f"{site_id}/{key}", "its site is not imported")
            continue
        if not isinstance(value, str | None):
            tally.skip(f"{site_id}/{key}", "the value is not text (corrupt row)")
        elif _store_kv(dst, tally, app, key, json.dumps(value), None):
            legacy.add((app, key))
    if not v09_source.has_table(src, "app_kv"):
        return
    now = time.time()
    for app_id, key, value, expires in src.execute(
        "SELECT app_id, key, value, expires_at FROM app_kv"
    ):
        tally.found += 1
        app = _app(app_id, ctx)
        if app is None:
            tally.skip(f"{app_id}/{key}", "its site is not imported")
        elif (app, key) in legacy:
            tally.skip(f"{app_id}/{key}", "the same key is in kv_store (db.*): that one is kept")
        elif isinstance(expires, int | float) and expires <= now:
            tally.skip(f"{app_id}/{key}", "expired")
        else:
            ttl = (expires - now) * 1000 if isinstance(expires, int | float) else None
            _store_kv(dst, tally, app, key, value, ttl)


def _store_kv(dst, tally, app: str, key: object, value_json: object, ttl) -> bool:
    try:
        key, value, ttl = kv.prepare_value(key, value_json, ttl)
    except StorageError as exc:
        tally.skip(f"{app}/{key}", f"refused by this fazt's kv: {exc}")
        return False
    kv.store_value(dst, app, key, value, ttl)
    tally.imported += 1
    return True


def import_documents(src, dst, rep: Report, ctx: Context) -> None:
    """app_docs (`fazt.storage.ds`) with their ids."""
    if not v09_source.has_table(src, "app_docs"):
        return
    tally = rep.tally("documents")
    for app_id, collection, doc_id, data in src.execute(
        "SELECT app_id, collection, id, data FROM app_docs"
    ):
        tally.found += 1
        item, app = f"{app_id}/{collection}/{doc_id}", _app(app_id, ctx)
        if app is None:
            tally.skip(item, "its site is not imported")
            continue
        try:
            doc = json.loads(data) if isinstance(data, str) else None
            if not isinstance(doc, dict):
                raise StorageError("the document is not a JSON object (corrupt row)")
            documents.insert(dst, app, collection, {**doc, "id": doc_id})
        except (StorageError, ValueError, RecursionError) as exc:
            tally.skip(item, str(exc))
            continue
        tally.imported += 1


def import_objects(src, dst, rep: Report, ctx: Context) -> None:
    """app_blobs (`fazt.storage.s3`)."""
    if not v09_source.has_table(src, "app_blobs"):
        return
    tally = rep.tally("objects")
    for app_id, path, data, mime_type in src.execute(
        "SELECT app_id, path, data, mime_type FROM app_blobs"
    ):
        tally.found += 1
        item, app = f"{app_id}/{path}", _app(app_id, ctx)
        if app is None:
            tally.skip(item, "its site is not imported")
            continue
        if isinstance(data, str):
            data = data.encode()
        try:
            objects.put(dst, app, path, data, mime_type)
        except StorageError as exc:
            tally.skip(item, str(exc))
            continue
        tally.imported += 1


def import_env(src, dst, rep: Report, ctx: Context) -> None:
    tally = rep.tally("env_vars")
    for site_id, name, value in src.execute("SELECT site_id, name, value FROM env_vars"):
        tally.found += 1
        item, app = f"{site_id}/{name}", _app(site_id, ctx)
        if app is None:
            tally.skip(item, "its site is not imported")
            continue
        try:
            name = runtime_store.validate_env_name(name if isinstance(name, str) else "")
        except runtime_store.EnvError as exc:
            tally.skip(item, f"not a valid name here: {exc}")
            continue
        if not isinstance(value, str) or len(value.encode()) > runtime_store.ENV_VALUE_MAX:
            tally.skip(
                item, f"the value is not text of at most {runtime_store.ENV_VALUE_MAX} bytes"
            )
        elif runtime_store.set_env(dst, app, name, value) == "limit":
            tally.skip(item, f"the app already has {runtime_store.ENV_MAX_PER_APP} env vars")
        else:
            tally.imported += 1


# -- api keys, redirects, webhooks ------------------------------------------------------------

KEY_REASON = (
    "v0.9 kept only a bcrypt hash of the token, which this fazt cannot check: "
    "re-create it (fazt key create) and give its client the new token"
)


def import_api_keys(src, dst, rep: Report, ctx: Context) -> None:
    """Not importable: listed by name so that the operator can re-create each."""
    tally = rep.tally("api_keys")
    for key_id, name in src.execute("SELECT id, name FROM api_keys ORDER BY id"):
        tally.found += 1
        tally.skip(f"{name} (id {key_id})", KEY_REASON)


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


# -- analytics events -------------------------------------------------------------------------


class _Visitors:
    """Visitor hashes like the server's (site, IP, user agent, a salt per day), with salts
    made for the import and thrown away: no IP is stored, and none can be recovered."""

    def __init__(self) -> None:
        self.salts: dict[str, bytes] = {}

    def __call__(self, day: str, site: str, ip: object, agent: object) -> str:
        if not ip and not agent:
            return ""
        salt = self.salts.setdefault(day, secrets.token_bytes(32))
        material = b"\n".join(
            (salt, site.encode(), str(ip or "").encode(), str(agent or "").encode())
        )
        return hashlib.sha256(material).hexdigest()[:32]


def import_events(src, dst, rep: Report, ctx: Context) -> None:
    """v0.9's events as hits (with their rollups), webhook deliveries as webhook events."""
    tally, visitor, batch = rep.tally("events"), _Visitors(), []
    for row in src.execute("SELECT * FROM events ORDER BY id"):
        tally.found += 1
        moment = to_datetime(row["created_at"])
        if moment is None:
            tally.skip(f"event {row['id']}", "its time cannot be read (corrupt row)")
            continue
        if row["source_type"] == "webhook":
            if _webhook_event(dst, row, moment, ctx):
                tally.imported += 1
            else:
                tally.skip(f"event {row['id']}", "a delivery to a webhook that is not imported")
            continue
        event = _hit(row, int(moment.timestamp()), ctx, visitor)
        if event is None:
            tally.skip(f"event {row['id']}", f"unknown source_type {row['source_type']!r}")
            continue
        batch.append(event)
        tally.imported += 1
        if len(batch) >= EVENT_BATCH:
            store.write_batch(dst, batch, {}, {})
            batch = []
    if batch:
        store.write_batch(dst, batch, {}, {})


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _site_of(domain: str, ctx: Context) -> str:
    """v0.9 kept the page's host; this fazt counts hits per site."""
    domain = domain.lower().split(":")[0]
    if ctx.domain and domain == ctx.domain:
        return "root"
    if ctx.domain and domain.endswith("." + ctx.domain):
        return domain[: -len(ctx.domain) - 1]
    return domain or "unknown"


def _hit(row: sqlite3.Row, unix: int, ctx: Context, visitor: _Visitors) -> store.Event | None:
    source, name, path = row["source_type"], _text(row["event_type"]), _text(row["path"])
    if source in ("web", "hosting"):
        kind = "pageview" if name in ("pageview", "") else "event"
    elif source in ("pixel", "redirect"):
        kind = source
        if source == "redirect" and path.startswith("/r/"):
            name = path[3:]
    else:
        return None
    site = _site_of(_text(row["domain"]), ctx)
    referrer = urlsplit(_text(row["referrer"])).hostname or ""
    agent = _text(row["user_agent"])
    browser, os_name, device = useragent.parse(agent)
    who = visitor(store.day_of(unix), site, row["ip_address"], agent)
    name = "" if kind == "pageview" else name
    return store.Event(unix, site, kind, name, path, referrer, browser, os_name, device, who)


def _webhook_event(dst, row: sqlite3.Row, moment: datetime, ctx: Context) -> bool:
    """A stored v0.9 delivery: its payload was kept in query_params, its webhook's
    endpoint in path (/webhook/<endpoint>) or domain."""
    path = _text(row["path"])
    endpoint = path.removeprefix("/webhook/") if path.startswith("/webhook/") else ""
    found = ctx.webhooks.get(endpoint) or ctx.webhooks.get(_text(row["domain"]))
    if found is None:
        return False
    webhook_id, signed = found  # v0.9 stored only deliveries its signature check passed
    dst.execute(
        "INSERT INTO webhook_events (webhook_id, received_at, verified, event, headers, payload)"
        " VALUES (?, ?, ?, ?, '{}', ?)",
        (
            webhook_id,
            stamp(moment),
            int(signed),
            _text(row["event_type"]),
            _text(row["query_params"]),
        ),
    )
    return True
