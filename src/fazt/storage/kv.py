"""fazt.storage.kv: per-app (or per-visitor, storage/scope.py) key-value pairs with expiry.

Values are JSON text. A key with a TTL is live while `expires_at > now`; expired keys are
invisible to `get` and `list` at once, and deleted by a later write of the same app
(`set`/`delete`: every write by default; at most every SWEEP_INTERVAL_SECONDS per app in a
process that sets it, as the JS workers do) or by `sweep_expired`, which the server calls
periodically for all apps. `list(prefix)` is a literal, case-sensitive prefix match (no
wildcards), sorted by key (code point order), at most MAX_LIST_ENTRIES entries.
"""

import json
import math
import sqlite3
import time

from fazt.storage.common import (
    MAX_DEPTH,
    _normalise,
    _reject_constant,
    after_ms,
    check_depth,
    check_size,
    check_text,
    check_unicode,
    prefix_clause,
)
from fazt.storage.errors import StorageError
from fazt.storage.scope import Owner, rows

MAX_KEY_CHARS = 512
MAX_VALUE_BYTES = 1024 * 1024  # 1 MiB of JSON text
MAX_TTL_MS = 10 * 365 * 24 * 3600 * 1000  # ten years
MAX_LIST_ENTRIES = 1000
MAX_LIST_BYTES = 16 * 1024 * 1024  # a list result bigger than this is an error
# Sweeping an app's expired keys is one more statement in every write (~15-20% of a
# kv.set in a JS worker, docs/benchmarks.md). 0: sweep on every write. The JS worker
# processes set 1 s: a write then sweeps only if this process has not swept that app
# within the last second. Expired keys are invisible to reads either way.
SWEEP_INTERVAL_SECONDS = 0.0
_SWEPT_APPS_KEPT = 10_000
_last_sweep: dict[Owner, float] = {}
_second: tuple[int, str] = (-1, "")


def now() -> str:
    """utcnow()'s format ('2026-01-02T03:04:05.123456Z'); the date part is formatted once
    a second (datetime.strftime per call was a visible part of a kv.set)."""
    global _second
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    cached = _second
    if cached[0] != seconds:
        cached = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
        _second = cached
    return f"{cached[1]}.{nanos // 1000:06d}Z"


def _sweep_due(app: Owner, interval: float | None = None) -> bool:
    interval = SWEEP_INTERVAL_SECONDS if interval is None else interval
    if interval <= 0:
        return True
    moment = time.monotonic()
    last = _last_sweep.get(app)
    if last is not None and moment - last < interval:
        return False
    if len(_last_sweep) >= _SWEPT_APPS_KEPT:
        _last_sweep.clear()
    _last_sweep[app] = moment
    return True


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


def sweep_app(conn: sqlite3.Connection, app: Owner, now_iso: str | None = None) -> int:
    at = rows(app, "kv")
    cur = conn.execute(
        f"DELETE FROM {at.table} WHERE {at.match()} AND expires_at IS NOT NULL AND expires_at <= ?",
        (*at.args, now_iso or now()),
    )
    return cur.rowcount


def sweep_expired(conn: sqlite3.Connection, now_iso: str | None = None) -> int:
    """Delete every expired key of every app and user (for a periodic job on the writer)."""
    stamp = now_iso or now()
    return sum(
        conn.execute(
            f"DELETE FROM {table} WHERE expires_at IS NOT NULL AND expires_at <= ?", (stamp,)
        ).rowcount
        for table in ("app_kv", "user_kv")
    )


def prepare_value(
    key: str, value_json: str, ttl_ms: float | None = None, *, stringified: bool = False
) -> tuple[str, str, float | None]:
    """The checks and normalisation of a kv set, which need no database: (key, value
    text, ttl). Done before taking the write lock, to hold it shorter.

    `stringified`: value_json is JavaScript's JSON.stringify output (the JS bridge), so
    it is valid, compact JSON without NaN or Infinity and with integral numbers written
    as integers: it is stored as it is when it cannot be nested too deep and has no
    \\u escape (a lone surrogate would be one), instead of parsed and re-encoded.
    """
    key = _key(key)
    if value_json is None:
        raise StorageError("kv.set requires a value (undefined cannot be stored)")
    if stringified and _plain_stringify_output(value_json):
        value = value_json
        check_unicode("value", value)
    else:
        value = _value_text(value_json)
    check_size("value", value, MAX_VALUE_BYTES)
    return key, value, _ttl(ttl_ms)


def _plain_stringify_output(text: object) -> bool:
    return (
        isinstance(text, str)
        and "\\u" not in text
        and text.count("[") + text.count("{") <= MAX_DEPTH
    )


# common.parse_json and common.dumps(sort_keys=False), with the decoder and encoder made
# once: json.loads/json.dumps build new ones on every call when given options.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _value_text(value_json: object) -> str:
    if not isinstance(value_json, str):
        raise StorageError("value is missing or not JSON text")
    try:
        value = _DECODER.decode(value_json)
    except (ValueError, RecursionError):
        raise StorageError("value is not valid JSON") from None
    check_depth("value", value)
    try:
        text = _ENCODER.encode(_normalise(value))
    except ValueError:
        raise StorageError("value is not valid JSON (NaN or Infinity)") from None
    check_unicode("value", text)
    return text


def store_value(
    conn: sqlite3.Connection, app: Owner, key: str, value: str, ttl: float | None
) -> None:
    """Upsert key = value from prepare_value's result; without a ttl the key never expires
    (an earlier TTL is cleared)."""
    stamp = now()
    if _sweep_due(app):
        sweep_app(conn, app, stamp)
    expires = expiry(ttl)
    at = rows(app, "kv")
    conn.execute(
        f"INSERT INTO {at.table} ({at.columns}, key, value, expires_at, created_at, "
        f"updated_at) VALUES ({at.marks}, ?, ?, ?, ?, ?) ON CONFLICT({at.columns}, key) "
        "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, "
        "updated_at = excluded.updated_at",
        (*at.args, key, value, expires, stamp, stamp),
    )


def expiry(ttl: float | None) -> str | None:
    """expires_at for a TTL from prepare_value (None: never)."""
    return after_ms(ttl) if ttl is not None else None


_UPSERT = (
    "INSERT INTO app_kv (app, key, value, expires_at, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(app, key) DO UPDATE SET "
    "value = excluded.value, expires_at = excluded.expires_at, "
    "updated_at = excluded.updated_at"
)


def upsert(
    conn: sqlite3.Connection, app: str, key: str, value: str, expires: str | None, stamp: str
) -> None:
    """Store a checked value (prepare_value) of an app's own kv (app_kv), with its expiry
    and time computed already (by a JS worker: kv_pipe.py)."""
    conn.execute(_UPSERT, (app, key, value, expires, stamp, stamp))


# A write sent by a JS worker: (app, key, value, expires_at or None, stamp).
Write = tuple[str, str, str, str | None, str]
BATCH_SWEEP_SECONDS = 1.0  # a batch sweeps each of its apps at most this often


def store_batch(conn: sqlite3.Connection, writes: list[Write]) -> list[str | None]:
    """Store JS workers' kv writes, in order, in the caller's one transaction (a group
    commit): None for each stored write, an error message for each refused one (its app
    deleted meanwhile, ...). A refused write does not undo the others."""
    for app in {w[0] for w in writes}:
        if _sweep_due(app, BATCH_SWEEP_SECONDS):
            sweep_app(conn, app)
    conn.execute("SAVEPOINT kv_batch")
    try:
        conn.executemany(_UPSERT, [(a, k, v, e, t, t) for a, k, v, e, t in writes])
    except sqlite3.Error:
        conn.execute("ROLLBACK TO kv_batch")
        conn.execute("RELEASE kv_batch")
    else:
        conn.execute("RELEASE kv_batch")
        return [None] * len(writes)
    return [_store_one(conn, write) for write in writes]  # find the refused ones


def _store_one(conn: sqlite3.Connection, write: Write) -> str | None:
    conn.execute("SAVEPOINT kv_one")
    try:
        upsert(conn, *write)
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK TO kv_one")
        conn.execute("RELEASE kv_one")
        return f"storage write refused: {exc}"
    conn.execute("RELEASE kv_one")
    return None


def get_value(conn: sqlite3.Connection, app: Owner, key: str) -> str | None:
    """The value as JSON text, or None when the key is missing or expired."""
    key = _key(key)
    live, args = _live(now())
    at = rows(app, "kv")
    row = conn.execute(
        f"SELECT value FROM {at.table} WHERE {at.match()} AND key = ? AND {live}",
        (*at.args, key, *args),
    ).fetchone()
    return row[0] if row else None


def delete_value(conn: sqlite3.Connection, app: Owner, key: str) -> bool:
    """Delete a key; True if a live key was deleted."""
    key = _key(key)
    stamp = now()
    if _sweep_due(app):
        sweep_app(conn, app, stamp)
    # The row may be an expired key not swept yet: that one was not live.
    at = rows(app, "kv")
    gone = conn.execute(
        f"DELETE FROM {at.table} WHERE {at.match()} AND key = ? RETURNING expires_at",
        (*at.args, key),
    ).fetchall()
    return bool(gone) and (gone[0][0] is None or gone[0][0] > stamp)


def list_entries(
    conn: sqlite3.Connection,
    app: Owner,
    prefix: str = "",
    after: str = "",
    limit: int = MAX_LIST_ENTRIES,
) -> list[dict]:
    """[{key, value (parsed), expiresAt, updatedAt}] for live keys starting with prefix,
    in key order; `after` (a key) pages on from there (the dashboard's storage browser)."""
    prefix = check_text("prefix", prefix or "", MAX_KEY_CHARS, allow_empty=True)
    after = check_text("after", after or "", MAX_KEY_CHARS, allow_empty=True)
    match, margs = prefix_clause("key", prefix)
    live, largs = _live(now())
    at = rows(app, "kv")
    cursor = conn.execute(
        f"SELECT key, value, expires_at, updated_at FROM {at.table} WHERE {at.match()} "
        f"AND {match} AND {live} AND key > ? ORDER BY key LIMIT ?",
        (*at.args, *margs, *largs, after, min(limit, MAX_LIST_ENTRIES)),
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


def count_keys(conn: sqlite3.Connection, app: Owner) -> int:
    live, args = _live(now())
    at = rows(app, "kv")
    return conn.execute(
        f"SELECT COUNT(*) FROM {at.table} WHERE {at.match()} AND {live}", (*at.args, *args)
    ).fetchone()[0]
