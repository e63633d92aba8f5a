"""/api/apps/{name}/storage: read-only views of an app's storage for the dashboard."""

from fazt.api.apps import _site_or_404
from fazt.auth.tokens import ApiKey
from fazt.state import ServerState
from fazt.storage import document_query, documents, kv, objects
from fazt.storage.errors import StorageError
from fazt.web.http import HTTPError, Request, Response, json_response

DEFAULT_PAGE = 50


def _summary(conn, app: str) -> dict:
    return {
        "kv": {"keys": kv.count_keys(conn, app)},
        "collections": documents.collections(conn, app),
        "objects": objects.totals(conn, app),
    }


def _page(conn, app: str, collection: str, limit: int, offset: int) -> dict:
    return {
        "collection": collection,
        "total": documents.count(conn, app, collection, None),
        "limit": limit,
        "offset": offset,
        "documents": documents.find(
            conn, app, collection, None, {"limit": limit, "offset": offset}
        ),
    }


def _int_param(req: Request, name: str, default: int, maximum: int) -> int:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > maximum:
        raise HTTPError(400, "BAD_REQUEST", f"{name} must be an integer from 0 to {maximum}")
    return int(raw)


async def _read(state: ServerState, fn, *args):
    try:
        return await state.db.read(fn, *args)
    except StorageError as exc:
        raise HTTPError(400, "BAD_REQUEST", str(exc)) from None


async def storage_summary(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    site = await _site_or_404(state, key, name)
    return json_response(await _read(state, _summary, site["name"]))


async def storage_kv(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    site = await _site_or_404(state, key, name)
    prefix = req.query.get("prefix", "")
    return json_response(await _read(state, kv.list_entries, site["name"], prefix))


async def storage_collection(
    state: ServerState, req: Request, key: ApiKey, name: str, collection: str
) -> Response:
    site = await _site_or_404(state, key, name)
    limit = _int_param(req, "limit", DEFAULT_PAGE, documents.MAX_FIND_LIMIT)
    offset = _int_param(req, "offset", 0, document_query.MAX_OFFSET)
    return json_response(await _read(state, _page, site["name"], collection, limit, offset))


async def storage_objects(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    site = await _site_or_404(state, key, name)
    prefix = req.query.get("prefix", "")
    return json_response(await _read(state, objects.list_objects, site["name"], prefix))
