"""The app storage browser: kv (prefix, pages, view, delete), documents (query with the
runtime's operators, pages, edit as JSON, delete) and blobs (list, image preview, download).

Every read and write goes through the storage modules the runtime and the API use
(fazt.storage.kv / documents / objects): queries are compiled by document_query, never
built from input here.
"""

import json
import sqlite3
import time
from typing import Any
from urllib.parse import quote, urlencode

from fazt.admin.dashboard import Page, redirect, render
from fazt.hosting import deployments, ranges
from fazt.storage import common, documents, kv, objects
from fazt.storage.errors import StorageError
from fazt.web.http import HTTPError, Response

PAGE_SIZE = 50
QUERY_SECONDS = 2.0  # a document query's time budget on a database reader
# Blob types a browser may show inline on the dashboard's origin: raster images only.
# Anything else (SVG and HTML can run script) is only ever a download.
INLINE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"}
DONE = {
    "kv-deleted": "Key deleted.",
    "doc-saved": "Document saved.",
    "doc-deleted": "Document deleted.",
    "blob-deleted": "Blob deleted.",
}


def _app_url(app: str, rest: str = "", **query: str) -> str:
    url = f"/apps/{quote(app)}/storage{rest}"
    query = {k: v for k, v in query.items() if v}
    return url + ("?" + urlencode(query) if query else "")


async def _app(page: Page, name: str) -> str:
    name = name.lower()
    if await page.state.db.read(deployments.site_row, name) is None:
        raise HTTPError(404, "APP_NOT_FOUND", f"no app named '{name}'")
    return name


async def _read(page: Page, fn, *args) -> Any:
    """A storage read; its refusals (a bad prefix, a bad query) are a 400 with the reason."""
    try:
        return await page.state.db.read(fn, *args)
    except StorageError as exc:
        raise HTTPError(400, "BAD_REQUEST", str(exc)) from None


def _offset(page: Page) -> int:
    raw = page.req.query.get("offset", "")
    return min(int(raw), 10**9) if raw.isdigit() else 0


def _summary(conn, app: str) -> dict:
    return {
        "kv_keys": kv.count_keys(conn, app),
        "collections": documents.collections(conn, app),
        "objects": objects.totals(conn, app),
    }


def _preview(value: Any, chars: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= chars else text[:chars] + "…"


# -- overview and kv ----------------------------------------------------------------------


async def storage_page(page: Page, name: str) -> Response:
    app = await _app(page, name)
    prefix, after = page.req.query.get("prefix", ""), page.req.query.get("after", "")
    summary = await page.state.db.read(_summary, app)
    rows = await _read(page, kv.list_entries, app, prefix, after, PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row["preview"] = _preview(row["value"])
    return render(
        page,
        "storage.html",
        app=app,
        summary=summary,
        prefix=prefix,
        after=after,
        entries=rows,
        next_url=_app_url(app, prefix=prefix, after=rows[-1]["key"]) if more else None,
        first_url=_app_url(app, prefix=prefix) if after else None,
        done=DONE.get(page.req.query.get("done", "")),
    )


async def kv_entry(page: Page, name: str) -> Response:
    app = await _app(page, name)
    key = page.req.query.get("key", "")
    text = await _read(page, kv.get_value, app, key)
    if text is None:
        raise HTTPError(404, "KEY_NOT_FOUND", f"no key '{key}' in '{app}'")
    pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return render(page, "storage_kv.html", app=app, key=key, value=pretty)


async def kv_delete(page: Page, name: str) -> Response:
    app = await _app(page, name)
    key = page.field("key")
    try:
        await page.state.db.write(kv.delete_value, app, key)
    except StorageError as exc:
        raise HTTPError(400, "BAD_REQUEST", str(exc)) from None
    return redirect(_app_url(app, done="kv-deleted"))


# -- documents ----------------------------------------------------------------------------


def _query_of(text: str, what: str) -> Any:
    """The query (or sort) box: JSON in the runtime's language; empty means everything."""
    if not text.strip():
        return None
    return common.parse_json(what, text)


def _find_page(conn, app: str, collection: str, query: Any, sort: Any, offset: int) -> dict:
    """A page of matches, and whether more follow. The total is counted only without a
    query (an index range): with one, counting would scan the whole collection again.
    A query gets QUERY_SECONDS: the reader it holds is one static files need too."""
    deadline = time.monotonic() + QUERY_SECONDS
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    try:
        return _find(conn, app, collection, query, sort, offset)
    except sqlite3.OperationalError as exc:
        if "interrupted" not in str(exc):
            raise
        raise StorageError(
            f"the query took longer than {QUERY_SECONDS:g} s: narrow it (e.g. by id or a prefix)"
        ) from None
    finally:
        conn.set_progress_handler(None, 0)


def _find(conn, app: str, collection: str, query: Any, sort: Any, offset: int) -> dict:
    options = {"limit": PAGE_SIZE + 1, "offset": offset}
    if sort is not None:
        options["sort"] = sort
    found = documents.find(conn, app, collection, query, options)
    total = documents.count(conn, app, collection, None) if query is None else None
    return {"total": total, "more": len(found) > PAGE_SIZE, "documents": found[:PAGE_SIZE]}


async def collections_page(page: Page, name: str) -> Response:
    app = await _app(page, name)
    found = await page.state.db.read(documents.collections, app)
    return render(page, "storage_collections.html", app=app, collections=found)


async def collection_page(page: Page, name: str, collection: str) -> Response:
    app = await _app(page, name)
    q, sort, offset = page.req.query.get("q", ""), page.req.query.get("sort", ""), _offset(page)
    error, found = "", {"total": 0, "more": False, "documents": []}
    try:
        query, order = _query_of(q, "the query"), _query_of(sort, "the sort")
        found = await page.state.db.read(_find_page, app, collection, query, order, offset)
    except StorageError as exc:
        error = str(exc)
    for doc in found["documents"]:
        body = {k: v for k, v in doc.items() if k not in ("id", "_createdAt", "_updatedAt")}
        doc["preview"] = _preview(body, 200)
    base = _app_url(app, f"/docs/{quote(collection, safe='')}")
    pages = {}
    if offset > 0:
        pages["prev"] = (
            f"{base}?{urlencode({'q': q, 'sort': sort, 'offset': max(0, offset - PAGE_SIZE)})}"
        )
    if found["more"]:
        pages["next"] = f"{base}?{urlencode({'q': q, 'sort': sort, 'offset': offset + PAGE_SIZE})}"
    return render(
        page,
        "storage_docs.html",
        400 if error else 200,
        app=app,
        collection=collection,
        q=q,
        sort=sort,
        offset=offset,
        found=found,
        pages=pages,
        error=error,
        done=DONE.get(page.req.query.get("done", "")),
    )


async def _edit_form(
    page: Page, app: str, collection: str, doc_id: str, text: str, error: str = "", status=200
) -> Response:
    return render(
        page,
        "storage_doc.html",
        status,
        app=app,
        collection=collection,
        doc_id=doc_id,
        text=text,
        error=error,
    )


async def document_page(page: Page, name: str, collection: str) -> Response:
    app = await _app(page, name)
    doc_id = page.req.query.get("id", "")
    doc = await _read(page, documents.find_one, app, collection, doc_id)
    if doc is None:
        raise HTTPError(404, "DOCUMENT_NOT_FOUND", f"no document '{doc_id}' in '{collection}'")
    body = {k: v for k, v in doc.items() if k not in ("id", "_createdAt", "_updatedAt")}
    text = json.dumps(body, indent=2, ensure_ascii=False)
    return await _edit_form(page, app, collection, doc_id, text)


async def document_save(page: Page, name: str, collection: str) -> Response:
    """Replace a document's body with the edited JSON; bad JSON changes nothing."""
    app = await _app(page, name)
    doc_id, text = page.field("id"), page.field("json")
    try:
        body = common.parse_json("the document", text)
        if not isinstance(body, dict):
            raise StorageError("the document must be a JSON object ({...})")
        saved = await page.state.db.write(documents.replace, app, collection, doc_id, body)
    except StorageError as exc:
        return await _edit_form(page, app, collection, doc_id, text, str(exc), 400)
    if not saved:
        raise HTTPError(404, "DOCUMENT_NOT_FOUND", f"no document '{doc_id}' in '{collection}'")
    return redirect(_app_url(app, f"/docs/{quote(collection, safe='')}", done="doc-saved"))


async def document_delete(page: Page, name: str, collection: str) -> Response:
    app = await _app(page, name)
    doc_id = page.field("id")
    try:
        await page.state.db.write(documents.delete, app, collection, {"id": doc_id})
    except StorageError as exc:
        raise HTTPError(400, "BAD_REQUEST", str(exc)) from None
    return redirect(_app_url(app, f"/docs/{quote(collection, safe='')}", done="doc-deleted"))


# -- blobs --------------------------------------------------------------------------------


async def blobs_page(page: Page, name: str) -> Response:
    app = await _app(page, name)
    prefix = page.req.query.get("prefix", "")
    rows = await _read(page, objects.list_objects, app, prefix)
    for row in rows:
        row["image"] = row["mime"].split(";")[0].strip().lower() in INLINE_IMAGES
        row["url"] = _app_url(app, "/blob", path=row["path"])
    return render(
        page,
        "storage_blobs.html",
        app=app,
        prefix=prefix,
        blobs=rows,
        capped=len(rows) >= objects.MAX_LIST_ENTRIES,
        done=DONE.get(page.req.query.get("done", "")),
    )


async def blob_download(page: Page, name: str) -> Response:
    """A blob's bytes: raster images inline (for the preview), everything else as an
    attachment, sandboxed (and never sniffed: every dashboard answer says nosniff), so
    a blob cannot run script on the dashboard's origin. Streamed from SQLite in pieces
    (memory stays flat whatever the size), with single `Range` requests and `If-Range`."""
    app = await _app(page, name)
    path = page.req.query.get("path", "")
    blob = await _read(page, objects.stat, app, path)
    if blob is None:
        raise HTTPError(404, "BLOB_NOT_FOUND", f"no blob '{path}' in '{app}'")
    mime = blob["mime"].split(";")[0].strip().lower()
    inline = mime in INLINE_IMAGES and page.req.query.get("download") != "1"
    filename = quote(blob["path"].rsplit("/", 1)[-1] or "blob", safe="")
    size, etag = blob["size"], f'"{blob["sha256"][:40]}"'
    headers = [
        ("content-type", mime if inline else "application/octet-stream"),
        (
            "content-disposition",
            ("inline" if inline else "attachment") + f"; filename*=UTF-8''{filename}",
        ),
        ("content-security-policy", "default-src 'none'; sandbox"),
        ("cache-control", "no-store"),
        ("etag", etag),
        ("accept-ranges", "bytes"),
    ]
    status, start, end = 200, 0, size
    wanted = None
    if ranges.if_range_allows(page.req.header("if-range"), etag, None):
        wanted = ranges.parse(page.req.header("range"), size)
    if wanted == ranges.UNSATISFIABLE:
        return Response(416, None, [*headers, ("content-range", f"bytes */{size}")])
    if wanted is not None and len(wanted) == 1:  # several ranges: the whole blob (allowed)
        (start, end), status = wanted[0], 206
        headers.append(("content-range", f"bytes {start}-{end - 1}/{size}"))
    headers.append(("content-length", str(end - start)))
    pieces = _blob_pieces(page, app, blob, start, end)
    return Response(status, headers=headers, stream=pieces)


BLOB_PIECE = 1024 * 1024


async def _blob_pieces(page: Page, app: str, blob: dict, start: int, end: int):
    for offset in range(start, end, BLOB_PIECE):
        stop = min(offset + BLOB_PIECE, end)
        piece = await _read(
            page, objects.read_part, app, blob["path"], blob["sha256"], offset, stop
        )
        if not piece:
            return  # changed or deleted mid-download: the client sees a short body
        yield piece


async def blob_delete(page: Page, name: str) -> Response:
    app = await _app(page, name)
    try:
        await page.state.db.write(objects.delete, app, page.field("path"))
    except StorageError as exc:
        raise HTTPError(400, "BAD_REQUEST", str(exc)) from None
    return redirect(_app_url(app, "/blobs", done="blob-deleted"))
