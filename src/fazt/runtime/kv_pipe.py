"""kv writes of a JS worker sent to the server, which commits them in groups.

A `kv.set` in JavaScript is checked here (kv.prepare_value), written to the server as
one frame on the worker's stdout pipe (`W` app \\0 key \\0 expires \\0 stamp \\0 value),
and returns: once `os.write` has returned, the bytes are in the kernel's pipe, so a
worker killed right after still loses nothing (the server reads what its pipe holds).
The server (group_commit.py) commits the writes of all workers together on its one
writer thread, and sends no answer of a request until the writes made before it by
the same worker are committed; a server killed before the commit answered none of them.

Until the server says a write is committed (a count in each request frame, or `A<n>`
after an `F` flush), the worker keeps it in `pending`, so a later `kv.get` of the same
app and key sees it (read-your-writes) without waiting. Anything else that could see a
pending write or be ordered behind it (kv.list, kv.delete, every other write) first
waits until everything sent is committed (`flush`). docs/decisions/010-kv-path.md.
"""

from collections.abc import Callable
from typing import Any

from fazt.storage import kv
from fazt.storage.bindings import AppStorage, StorageError


class KvPipe:
    """This worker's writes sent to the server and not yet known committed."""

    def __init__(self, out: Callable[[str], None], wait: Callable[[Callable[[], bool]], None]):
        """`out` writes one frame to the server; `wait(done)` reads frames from the
        server (handing each on) until done() is true."""
        self.out = out
        self.wait = wait
        self.sent = 0  # writes sent
        self.committed = 0  # of them, known committed (or refused) by the server
        # (app, key) -> (number of the write, value, expires_at): in the order sent
        self.pending: dict[tuple[str, str], tuple[int, str, str | None]] = {}

    def send(self, app: str, key: str, value: str, ttl: float | None) -> None:
        expires = kv.expiry(ttl)
        self.sent += 1
        self.out(f"W{app}\0{key}\0{expires or ''}\0{kv.now()}\0{value}")
        entry = (app, key)
        self.pending.pop(entry, None)  # re-inserted last: `pending` stays in send order
        self.pending[entry] = (self.sent, value, expires)

    def get(self, app: str, key: str) -> tuple[bool, str | None]:
        """(True, value or None if expired) for a pending write of this key, else
        (False, None): then the database has the answer."""
        entry = self.pending.get((app, key))
        if entry is None:
            return False, None
        expires = entry[2]
        return True, entry[1] if expires is None or expires > kv.now() else None

    def acked(self, committed: int) -> None:
        """The server has committed (or refused) the first `committed` writes."""
        if committed <= self.committed:
            return
        self.committed = committed
        pending = self.pending
        while pending:
            entry = next(iter(pending))
            if pending[entry][0] > committed:
                break
            del pending[entry]

    def flush(self) -> None:
        """Wait until every write sent is committed."""
        if self.committed >= self.sent:
            return
        self.out("F")
        self.wait(lambda: self.committed >= self.sent)


class PipedStorage(AppStorage):
    """fazt.storage for one app in a JS worker whose kv.set goes through a KvPipe."""

    def __init__(self, db: Any, app: str, pipe: KvPipe) -> None:
        super().__init__(db, app)
        self.pipe = pipe

    def kv_set(
        self,
        key: str,
        value_json: str,
        ttl_ms: int | float | None = None,
        *,
        stringified: bool = False,
    ) -> None:
        if self.db.standby:
            self.db.refuse_standby()
        prepared = kv.prepare_value(key, value_json, ttl_ms, stringified=stringified)
        self.pipe.send(self.app, *prepared)

    def kv_get(self, key: str) -> str | None:
        if not isinstance(key, str):  # (kv.get_value raises the usual error)
            return super().kv_get(key)
        found, value = self.pipe.get(self.app, key)
        return value if found else super().kv_get(key)

    def kv_list(self, prefix: str) -> str:
        self.pipe.flush()
        return super().kv_list(prefix)


__all__ = ["KvPipe", "PipedStorage", "StorageError"]
