"""`fazt.private`: the files a deployment ships under `private/`, read by its JavaScript.

Those files are never served (hosting.paths.is_server_only refuses `private/...` by
every spelling of a request path); here an app reads them from the deployment its
request runs (the same one as its code: never another deployment, never another app's),
by a path relative to `private/` that is checked like a deploy's own paths
(hosting.paths.deployment_path: no `..`, `.` or empty segments, no absolute path), so
nothing outside the folder can be named. Runs in a JS worker, on its own connection.
"""

import base64
import sqlite3
from typing import Any

from fazt.hosting import deployments
from fazt.hosting.paths import UnsafePath, deployment_path
from fazt.runtime.sources import is_ready_deployment_of
from fazt.storage.errors import StorageError

PREFIX = "private/"
MAX_READ_BYTES = 4 * 1024 * 1024  # one read; a bigger file: StorageError
MAX_LISTED = 1000
METHODS = frozenset({"private_read", "private_list"})


def private_path(path: Any, what: str = "private.read") -> str:
    """The deployment path of `path` (relative to private/), or StorageError."""
    if not isinstance(path, str):
        raise StorageError(f"{what}: the path must be a string")
    try:
        return PREFIX + deployment_path(path)
    except UnsafePath as exc:
        raise StorageError(f"{what}: {exc} (paths are relative to private/)") from None


class PrivateFiles:
    """The private files of one deployment of one app, for one request."""

    def __init__(self, db: Any, app: str, deployment_id: int) -> None:
        self.db = db  # read_sync(fn, *args), as the worker's LocalDB
        self.app = app
        self.deployment_id = deployment_id

    def call(self, method: str, args: tuple) -> Any:
        if method == "private_read":
            path, encoding = args
            return self.db.read_sync(self._read, private_path(path), encoding)
        (prefix,) = args
        return self.db.read_sync(self._list, "" if prefix in (None, "") else prefix)

    def _read(self, conn: sqlite3.Connection, path: str, encoding: str) -> str | None:
        """The file's text ("text") or base64 ("base64"); None if there is no such file."""
        if not is_ready_deployment_of(conn, self.app, self.deployment_id):
            return None
        row = deployments.lookup_file(conn, self.deployment_id, path)
        if row is None:
            return None
        if row["size"] > MAX_READ_BYTES:
            raise StorageError(
                f"private.read: {path[len(PREFIX) :]} is {row['size']} bytes; "
                f"at most {MAX_READ_BYTES} can be read"
            )
        data = deployments.read_blob(conn, row["sha256"]) or b""
        if encoding == "base64":
            return base64.b64encode(data).decode()
        return data.decode("utf-8", "replace")

    def _list(self, conn: sqlite3.Connection, prefix: str) -> list[dict]:
        """[{path, size}] of the files under private/ whose path starts with `prefix`."""
        if not isinstance(prefix, str) or any(c < " " for c in prefix):
            raise StorageError("private.list: the prefix must be text")
        if not is_ready_deployment_of(conn, self.app, self.deployment_id):
            return []
        low = PREFIX + prefix
        rows = conn.execute(
            "SELECT path, size FROM deployment_files WHERE deployment_id = ? "
            "AND path >= ? AND substr(path, 1, ?) = ? ORDER BY path LIMIT ?",
            (self.deployment_id, low, len(low), low, MAX_LISTED),
        )
        return [{"path": r["path"][len(PREFIX) :], "size": r["size"]} for r in rows]
