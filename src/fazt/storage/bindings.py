"""The bridge between JavaScript (`fazt.storage.*`) and the Python storage modules.

CONTRACT shared by the storage and runtime code (do not change signatures without
updating both sides):

- One `AppStorage` per (request, app). The runtime creates it on the JS worker thread and
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
- Everything is scoped to `self.app`: no method can reach another app's data.
"""

from fazt.db import Database


class StorageError(Exception):
    """A storage call the app made incorrectly; the message is shown to the app."""


class AppStorage:
    def __init__(self, db: Database, app: str) -> None:
        self.db = db
        self.app = app

    # -- kv -----------------------------------------------------------------------------
    def kv_set(self, key: str, value_json: str, ttl_ms: int | float | None = None) -> None:
        raise NotImplementedError

    def kv_get(self, key: str) -> str | None:
        """The value as JSON text, or None when missing or expired."""
        raise NotImplementedError

    def kv_delete(self, key: str) -> bool:
        raise NotImplementedError

    def kv_list(self, prefix: str) -> str:
        """JSON text: [{"key", "value", "expiresAt"}...] for keys starting with prefix."""
        raise NotImplementedError

    # -- ds (documents) -----------------------------------------------------------------
    def ds_insert(self, collection: str, doc_json: str) -> str:
        """JSON text of the stored document (with its id, _createdAt, _updatedAt)."""
        raise NotImplementedError

    def ds_find(self, collection: str, query_json: str, options_json: str) -> str:
        """JSON text: list of documents. options: {sort, limit, offset}."""
        raise NotImplementedError

    def ds_find_one(self, collection: str, id_or_query_json: str) -> str | None:
        raise NotImplementedError

    def ds_update(self, collection: str, query_json: str, changes_json: str) -> int:
        """Number of documents changed."""
        raise NotImplementedError

    def ds_delete(self, collection: str, query_json: str) -> int:
        raise NotImplementedError

    def ds_count(self, collection: str, query_json: str) -> int:
        raise NotImplementedError

    # -- s3 (blobs) ---------------------------------------------------------------------
    def s3_put(self, path: str, data_b64: str, mime: str | None = None) -> str:
        """JSON text: {path, size, mime, sha256}."""
        raise NotImplementedError

    def s3_get(self, path: str) -> str | None:
        """JSON text: {path, data_b64, mime, size, sha256}, or None."""
        raise NotImplementedError

    def s3_delete(self, path: str) -> bool:
        raise NotImplementedError

    def s3_list(self, prefix: str) -> str:
        """JSON text: [{path, size, mime, sha256, updatedAt}...]."""
        raise NotImplementedError
