"""Server settings stored in the `settings` table (never secrets)."""

import sqlite3
from pathlib import Path

from fazt.db.setting_schema import SETTINGS, check
from fazt.db.setting_schema import SettingError as SettingError  # re-exported for callers
from fazt.db.setting_schema import UnknownSetting as UnknownSetting

# The defaults of every setting, from the schema (fazt.db.setting_schema).
DEFAULTS: dict[str, str] = {s.name: s.default for s in SETTINGS}


def get(conn: sqlite3.Connection, key: str) -> str:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else DEFAULTS[key]


def get_int(conn: sqlite3.Connection, key: str) -> int:
    return int(get(conn, key))


def get_float(conn: sqlite3.Connection, key: str) -> float:
    return float(get(conn, key))


def get_bool(conn: sqlite3.Connection, key: str) -> bool:
    return get(conn, key) == "1"


def saved(path: Path, key: str) -> str | None:
    """The value stored for `key` in an existing database file, read without creating,
    migrating or writing it; None if the file, its settings or the key is missing."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:  # not initialised yet, or not a database
        return None
    return row[0] if row else None


def all_settings(conn: sqlite3.Connection) -> dict[str, str]:
    values = dict(DEFAULTS)
    values.update({r[0]: r[1] for r in conn.execute("SELECT key, value FROM settings")})
    return values


def put(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Store a setting, validated by the schema: UnknownSetting (a KeyError) for a key it
    does not know, SettingError naming the key and what it allows for a bad value."""
    value = check(key, value)
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def is_initialised(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def describe(conn: sqlite3.Connection) -> list[dict]:
    """Every setting with its value, default, what it allows, doc and restart need."""
    values = all_settings(conn)
    return [
        {
            "name": s.name,
            "value": values[s.name],
            "default": s.default,
            "type": s.type,
            "allowed": s.allowed(),
            "restart": s.restart,
            "doc": s.doc,
        }
        for s in SETTINGS
    ]
