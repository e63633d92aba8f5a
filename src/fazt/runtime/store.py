"""Per-app environment variables and logs in SQLite (tables of migration 003).

Every function takes the connection it runs on (a reader, or the writer inside its
transaction). Env values are returned only to the runtime, never by the API.
"""

import contextlib
import re
import sqlite3
import threading
from datetime import UTC, datetime

from fazt.db import Database
from fazt.db.clock import stamp, utcnow

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
ENV_NAME_MAX = 128
ENV_VALUE_MAX = 64 * 1024
ENV_MAX_PER_APP = 200
# Names an app must not shadow: they would confuse tooling or leak intent.
BLOCKED_ENV = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "SHELL",
        "PWD",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "PYTHONPATH",
        "NODE_OPTIONS",
    }
)
BLOCKED_PREFIXES = ("FAZT_",)
LEVELS = ("debug", "info", "warn", "error")
LOG_MESSAGE_MAX = 4096

# Bumped on every env change made by this process, so the runtime's cache drops at once.
generation = 0


class EnvError(ValueError):
    pass


def validate_env_name(name: str) -> str:
    if not name or len(name) > ENV_NAME_MAX:
        raise EnvError(f"env var names are 1 to {ENV_NAME_MAX} characters")
    if not ENV_NAME.match(name):
        raise EnvError(
            f"'{name}' is not a valid env var name: use upper-case letters, digits and _, "
            "not starting with a digit"
        )
    if name in BLOCKED_ENV or name.startswith(BLOCKED_PREFIXES):
        raise EnvError(f"'{name}' is reserved and cannot be set")
    return name


def env_values(conn: sqlite3.Connection, app: str) -> dict[str, str]:
    """The values fazt.env shows: secret ones are left out (only fetch sees them)."""
    rows = conn.execute(
        "SELECT name, value FROM app_env WHERE app = ? AND secret = 0 ORDER BY name", (app,)
    )
    return {r[0]: r[1] for r in rows}


def all_env_values(conn: sqlite3.Connection, app: str) -> dict[str, str]:
    """Every value, secret ones included: for fazt.secret() in fetch (runtime/net.py)."""
    rows = conn.execute("SELECT name, value FROM app_env WHERE app = ?", (app,))
    return {r[0]: r[1] for r in rows}


def env_names(conn: sqlite3.Connection, app: str) -> list[dict]:
    rows = conn.execute(
        "SELECT name, secret, created_at, updated_at FROM app_env WHERE app = ? ORDER BY name",
        (app,),
    )
    return [{**dict(r), "secret": bool(r["secret"])} for r in rows]


def set_env(conn: sqlite3.Connection, app: str, name: str, value: str, secret: bool = False) -> str:
    """'created' or 'updated'; 'limit' when the app already has too many. A secret stays
    secret when set again without the flag (unset it to make it plain)."""
    exists = conn.execute(
        "SELECT 1 FROM app_env WHERE app = ? AND name = ?", (app, name)
    ).fetchone()
    if not exists:
        count = conn.execute("SELECT COUNT(*) FROM app_env WHERE app = ?", (app,)).fetchone()[0]
        if count >= ENV_MAX_PER_APP:
            return "limit"
    now = utcnow()
    conn.execute(
        "INSERT INTO app_env (app, name, value, secret, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(app, name) DO UPDATE SET value = excluded.value, "
        "secret = MAX(app_env.secret, excluded.secret), updated_at = excluded.updated_at",
        (app, name, value, int(secret), now, now),
    )
    _bump()
    return "updated" if exists else "created"


def unset_env(conn: sqlite3.Connection, app: str, name: str) -> bool:
    removed = conn.execute("DELETE FROM app_env WHERE app = ? AND name = ?", (app, name)).rowcount
    _bump()
    return removed == 1


def _bump() -> None:
    global generation
    generation += 1


def read_logs(conn: sqlite3.Connection, app: str, after: int, limit: int) -> list[dict]:
    """Entries with id > after, oldest first; with after=0, the newest `limit` entries."""
    if after > 0:
        rows = conn.execute(
            "SELECT id, level, message, request_id, created_at FROM app_logs "
            "WHERE app = ? AND id > ? ORDER BY id LIMIT ?",
            (app, after, limit),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM (SELECT id, level, message, request_id, created_at FROM app_logs "
            "WHERE app = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
            (app, limit),
        ).fetchall()
    return [dict(r) for r in rows]


LEVELS = ("debug", "info", "warn", "error")


def search_logs(
    conn: sqlite3.Connection,
    app: str | None,
    min_level: str,
    text: str,
    since: str | None,
    until: str | None,
    after: int,
    limit: int,
) -> list[dict]:
    """Log lines of one app (or all) at `min_level` or above, whose message contains
    `text`, within [since, until]: with after=0 the newest `limit`, otherwise those with
    id > after; oldest first. Every value is a bound parameter."""
    levels = LEVELS[LEVELS.index(min_level) :]
    where, args = [f"level IN ({','.join('?' * len(levels))})"], list(levels)
    for clause, value in (
        ("app = ?", app),
        ("instr(message, ?) > 0", text or None),
        ("created_at >= ?", since),
        ("created_at <= ?", until),
        ("id > ?", after or None),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    order = "ASC" if after else "DESC"
    rows = conn.execute(
        "SELECT id, app, level, message, request_id, created_at FROM app_logs "
        f"WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?",
        (*args, limit),
    ).fetchall()
    found = [dict(r) for r in rows]
    return found if after else found[::-1]


class LogSink:
    """Buffers log lines and stores them in batches on the writer thread, off the request
    path: while the writer is busy, lines pile up and go in the next transaction."""

    def __init__(self, db: Database, retention: int) -> None:
        self.db = db
        self.retention = retention
        self._lock = threading.Lock()
        self._buffer: list[tuple[str, str, str, str, str]] = []
        self._scheduled = False

    def add(self, app: str, request_id: str, entries: list) -> None:
        rows = []
        for level, message, epoch_ms in entries:
            level = level if level in LEVELS else "info"
            when = stamp(datetime.fromtimestamp(epoch_ms / 1000, UTC))
            rows.append((app, level, str(message)[:LOG_MESSAGE_MAX], request_id, when))
        if not rows:
            return
        with self._lock:
            self._buffer.extend(rows)
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the database is closing
            self.db.submit_write(self._flush)

    def _flush(self, conn: sqlite3.Connection) -> int:
        with self._lock:
            rows, self._buffer = self._buffer, []
            self._scheduled = False
        if not rows:
            return 0
        # An app deleted meanwhile has no sites row: its lines are dropped.
        conn.executemany(
            "INSERT INTO app_logs (app, level, message, request_id, created_at) "
            "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sites WHERE name = ?)",
            [(*r, r[0]) for r in rows],
        )
        for app in {r[0] for r in rows}:
            conn.execute(
                "DELETE FROM app_logs WHERE app = ? AND id <= (SELECT id FROM app_logs "
                "WHERE app = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (app, app, self.retention),
            )
        return len(rows)
