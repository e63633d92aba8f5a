"""The bridge between JavaScript (`fazt.storage.*`) and the Python storage modules.

CONTRACT shared by the storage and runtime code (do not change signatures without
updating both sides):

- One `AppStorage` per (request, app). The runtime creates it in the JS worker process and
  registers each public method as a callable in the JS context; a small JS shim builds
  `fazt.storage.kv / ds / s3` on top of them.
- Arguments and return values are JSON-compatible primitives only (str, int, float, bool,
  None). Structured values travel as JSON text (`*_json` names): the shim calls
  `JSON.stringify` before and `JSON.parse` after.
- Binary data for s3 travels as base64 text (`data_b64`).
- Errors the app should see (bad query, value too large, ...) raise `StorageError` with
  a message; the runtime turns it into a JS exception with that message.
- Every method is synchronous and may block (reads on this thread's reader connection,
  writes through the single writer); it never runs on the event loop thread.
- Everything is scoped to `self.owner`: no method can reach another app's data. A
  `UserStorage` (fazt.storage.user.*) is scoped to one signed-in visitor of the app, named
  by the server from the request's verified session (worker.py), never by the app; its
  writes are checked against the visitor's quota (user_quota.py).
"""

import base64
import binascii
import functools
import json
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fazt.storage import compat_v09, documents, kv, objects, user_quota
from fazt.storage.common import check_unicode, parse_json
from fazt.storage.errors import StorageError
from fazt.storage.scope import Owner, UserScope

if TYPE_CHECKING:  # not imported at run time: JS worker processes start faster without it
    from fazt.db import Database

__all__ = ["AppStorage", "StorageError", "UserStorage"]

T = TypeVar("T")

# base64 text for an object of MAX_OBJECT_BYTES, plus padding slack.
_MAX_B64_CHARS = (objects.MAX_OBJECT_BYTES + 2) // 3 * 4 + 4


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _storage_errors(method: Callable[..., T]) -> Callable[..., T]:
    """SQLite constraint failures (e.g. the app no longer exists) become StorageError."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except sqlite3.IntegrityError as exc:
            raise StorageError(f"storage write refused: {exc}") from None

    return wrapper


class AppStorage:
    """fazt.storage.* for one app. Reads use this thread's reader; writes the writer.

    Semantics, limits and operators are documented in docs/storage.md and in the
    kv / documents / objects modules.
    """

    def __init__(self, db: "Database", app: str) -> None:
        self.db = db
        self.app = app
        self.owner: Owner = app

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(conn, owner, *args) on the writer."""
        return self.db.write_sync(fn, self.owner, *args)

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return self.db.read_sync(fn, self.owner, *args)

    # -- kv -----------------------------------------------------------------------------
    @_storage_errors
    def kv_set(
        self,
        key: str,
        value_json: str,
        ttl_ms: int | float | None = None,
        *,
        stringified: bool = False,
    ) -> None:
        """`stringified`: value_json is JSON.stringify output (see kv.prepare_value)."""
        prepared = kv.prepare_value(key, value_json, ttl_ms, stringified=stringified)
        self._write(kv.store_value, *prepared)

    def kv_get(self, key: str) -> str | None:
        """The value as JSON text, or None when missing or expired."""
        return self._read(kv.get_value, key)

    def kv_delete(self, key: str) -> bool:
        return self._write(kv.delete_value, key)

    def kv_list(self, prefix: str) -> str:
        """JSON text: [{"key", "value", "expiresAt"?, "updatedAt"}...] for keys starting
        with prefix; expiresAt in ms since the epoch, absent without a TTL (as v0.9)."""
        return _json(compat_v09.kv_entries(self._read(kv.list_entries, prefix)))

    # -- ds (documents) -----------------------------------------------------------------
    @_storage_errors
    def ds_insert(self, collection: str, doc_json: str) -> str:
        """JSON text of the stored document (with its id, _createdAt, _updatedAt)."""
        doc = parse_json("document", doc_json)
        return _json(self._write(documents.insert, collection, doc))

    def ds_find(self, collection: str, query_json: str, options_json: str) -> str:
        """JSON text: list of documents. options: {sort, limit, offset}."""
        query = _optional_json("query", query_json)
        options = _optional_json("options", options_json)
        return _json(self._read(documents.find, collection, query, options))

    def ds_find_one(self, collection: str, id_or_query_json: str) -> str | None:
        """JSON text of the first matching document (by id string or query), or None."""
        target = parse_json("id or query", id_or_query_json)
        found = self._read(documents.find_one, collection, target)
        return None if found is None else _json(found)

    @_storage_errors
    def ds_update(self, collection: str, query_json: str, changes_json: str) -> int:
        """Number of documents changed."""
        query = _optional_json("query", query_json)
        changes = parse_json("changes", changes_json)
        return self._write(documents.update, collection, query, changes)

    def ds_delete(self, collection: str, query_json: str) -> int:
        query = parse_json("query", query_json)
        return self._write(documents.delete, collection, query)

    def ds_count(self, collection: str, query_json: str) -> int:
        query = _optional_json("query", query_json)
        return self._read(documents.count, collection, query)

    # -- s3 (blobs) ---------------------------------------------------------------------
    @_storage_errors
    def s3_put(self, path: str, data_b64: str, mime: str | None = None) -> str:
        """JSON text: {path, size, mime, sha256}."""
        data = _b64decode(data_b64)
        return _json(self._write(objects.put, path, data, mime))

    def s3_get(self, path: str) -> str | None:
        """JSON text: {path, data_b64, mime, size, sha256, updatedAt}, or None."""
        found = self._read(objects.get, path)
        if found is None:
            return None
        data = found.pop("data")
        return _json({**found, "data_b64": base64.b64encode(data).decode("ascii")})

    def s3_delete(self, path: str) -> bool:
        return self._write(objects.delete, path)

    def s3_list(self, prefix: str) -> str:
        """JSON text: [{path, size, mime, sha256, updatedAt}...]."""
        return _json(self._read(objects.list_objects, prefix))


class UserStorage(AppStorage):
    """fazt.storage.user.* for one signed-in visitor of one app: the same methods, on the
    visitor's own rows, with every write held to their quota."""

    def __init__(self, db: "Database", app: str, user: str) -> None:
        super().__init__(db, app)
        self.owner = UserScope(app, user)

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        return self.db.write_sync(user_quota.within_quota, fn, self.owner, *args)


def _optional_json(what: str, text: str | None) -> Any:
    """JSON text, where None / "null" / "" mean "not given"."""
    if text is None or text == "":
        return None
    return parse_json(what, text)


def _b64decode(data_b64: Any) -> bytes:
    if not isinstance(data_b64, str):
        raise StorageError("s3.put data is missing")
    if len(data_b64) > _MAX_B64_CHARS:
        raise StorageError(f"object is larger than the limit of {objects.MAX_OBJECT_BYTES} bytes")
    check_unicode("data", data_b64)
    try:
        return base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise StorageError("s3.put data is not valid base64") from None
