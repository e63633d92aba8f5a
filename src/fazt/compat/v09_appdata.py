"""v0.9's app data: the legacy runtime's `db` (kv_store), fazt.storage (app_kv,
app_docs, app_blobs) and env vars, into the imported apps. A row this fazt's storage
refuses is skipped with the reason."""

import json
import sqlite3
import time

from fazt.compat import v09_source
from fazt.compat.v09_context import Context
from fazt.compat.v09_report import Report, Tally
from fazt.runtime import store as runtime_store
from fazt.storage import documents, kv, objects
from fazt.storage.errors import StorageError

# -- app data: kv (db.* and fazt.storage.kv), documents, objects, env vars --------------------


def _app(site_id: object, ctx: Context) -> str | None:
    return ctx.sites.get(site_id) if isinstance(site_id, str) else None


def import_kv(src: sqlite3.Connection, dst: sqlite3.Connection, rep: Report, ctx: Context) -> None:
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


def _store_kv(
    dst: sqlite3.Connection,
    tally: Tally,
    app: str,
    key: object,
    value_json: object,
    ttl: float | None,
) -> bool:
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


def import_env(src: sqlite3.Connection, dst: sqlite3.Connection, rep: Report, ctx: Context) -> None:
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
