"""fazt.storage.kv: per-app key-value pairs with optional expiry.

Values are JSON text. A key with a TTL is live while `expires_at > now`; expired keys are
invisible to `get` and `list` at once, and deleted by the next write of the same app
(`set`/`delete`) or by `sweep_expired`, which the server may call periodically for all
apps. `list(prefix)` is a literal, case-sensitive prefix match (no wildcards), sorted by
key (code point order), at most MAX_LIST_ENTRIES entries.
"""

import json
import math
import sqlite3

from fazt.storage.common import (
    after_ms,
    check_size,
    check_text,
    dumps,
    now,
    parse_json,
    prefix_clause,
)
from fazt.storage.errors import StorageError

MAX_KEY_CHARS = 512
MAX_VALUE_BYTES = 1024 * 1024  # 1 MiB of JSON text
MAX_TTL_MS = 10 * 365 * 24 * 3600 * 1000  # ten years
MAX_LIST_ENTRIES = 1000
MAX_LIST_BYTES = 16 * 1024 * 1024  # a list result bigger than this is an error


def _key(key: object) -> str:
    return check_text("key", key, MAX_KEY_CHARS)


def _ttl(ttl_ms: object) -> float | None:
    if ttl_ms is None:
        return None
    if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int | float):
        raise StorageError("ttlMs must be a number of milliseconds")
    if not math.isfinite(ttl_ms) or ttl_ms <= 0:
        raise StorageError("ttlMs must be a positive number of milliseconds")
    if ttl_ms > MAX_TTL_MS:
        raise StorageError(f"ttlMs must be at most {MAX_TTL_MS} (ten years)")
    return float(ttl_ms)


def _live(now_iso: str) -> tuple[str, tuple]:
    return "(expires_at IS NULL OR expires_at > ?)", (now_iso,)


def sweep_app(conn: sqlite3.Connection, app: str, now_iso: str | None = None) -> int:
    cur = conn.execute(
        "DELETE FROM app_kv WHERE app = ? AND expires_at IS NOT NULL AND expires_at <= ?",
        (app, now_iso or now()),
    )
    return cur.rowcount


def sweep_expired(conn: sqlite3.Connection, now_iso: str | None = None) -> int:
    """Delete every expired key of every app (for a periodic job on the writer)."""
    cur = conn.execute(
        "DELETE FROM app_kv WHERE expires_at IS NOT NULL AND expires_at <= ?",
        (now_iso or now(),),
    )
    return cur.rowcount


def set_value(
    conn: sqlite3.Connection, app: str, key: str, value_json: str, ttl_ms: float | None = None
) -> None:
    """Upsert key = value. Without ttl_ms the key never expires (an earlier TTL is cleared)."""
    key = _key(key)
    if value_json is None:
        raise StorageError("kv.set requires a value (undefined cannot be stored)")
    value = dumps(parse_json("value", value_json), sort_keys=False)
    check_size("value", value, MAX_VALUE_BYTES)
    ttl = _ttl(ttl_ms)
    stamp = now()
    expires = after_ms(ttl) if ttl is not None else None
    sweep_app(conn, app, stamp)
    conn.execute(
        "INSERT INTO app_kv (app, key, value, expires_at, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(app, key) DO UPDATE SET "
        "value = excluded.value, expires_at = excluded.expires_at, "
        "updated_at = excluded.updated_at",
        (app, key, value, expires, stamp, stamp),
    )


def get_value(conn: sqlite3.Connection, app: str, key: str) -> str | None:
    """The value as JSON text, or None when the key is missing or expired."""
    key = _key(key)
    live, args = _live(now())
    row = conn.execute(
        f"SELECT value FROM app_kv WHERE app = ? AND key = ? AND {live}", (app, key, *args)
    ).fetchone()
    return row[0] if row else None


def delete_value(conn: sqlite3.Connection, app: str, key: str) -> bool:
    """Delete a key; True if a live key was deleted."""
    key = _key(key)
    sweep_app(conn, app)
    cur = conn.execute("DELETE FROM app_kv WHERE app = ? AND key = ?", (app, key))
    return cur.rowcount == 1


def list_entries(conn: sqlite3.Connection, app: str, prefix: str = "") -> list[dict]:
    """[{key, value (parsed), expiresAt, updatedAt}] for live keys starting with prefix."""
    prefix = check_text("prefix", prefix or "", MAX_KEY_CHARS, allow_empty=True)
    match, margs = prefix_clause("key", prefix)
    live, largs = _live(now())
    cursor = conn.execute(
        f"SELECT key, value, expires_at, updated_at FROM app_kv WHERE app = ? AND {match} "
        f"AND {live} ORDER BY key LIMIT ?",
        (app, *margs, *largs, MAX_LIST_ENTRIES),
    )
    out, total = [], 0
    for r in cursor:
        total += len(r["value"])
        if total > MAX_LIST_BYTES:
            raise StorageError(
                f"kv.list result is larger than {MAX_LIST_BYTES} bytes; use a longer prefix"
            )
        out.append(
            {
                "key": r["key"],
                "value": json.loads(r["value"]),
                "expiresAt": r["expires_at"],
                "updatedAt": r["updated_at"],
            }
        )
    return out


def count_keys(conn: sqlite3.Connection, app: str) -> int:
    live, args = _live(now())
    return conn.execute(
        f"SELECT COUNT(*) FROM app_kv WHERE app = ? AND {live}", (app, *args)
    ).fetchone()[0]
