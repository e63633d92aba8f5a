"""Server settings stored in the `settings` table (never secrets)."""

import sqlite3
from pathlib import Path

DEFAULTS: dict[str, str] = {
    "domain": "localhost",
    "port": "4698",
    "history_limit": "20",
    "cache_max_bytes": str(64 * 1024 * 1024),
    "deploy_max_upload_bytes": str(200 * 1024 * 1024),
    "deploy_max_files": "10000",
    "deploy_max_file_bytes": str(100 * 1024 * 1024),
    "deploy_max_total_bytes": str(500 * 1024 * 1024),
    "deploy_max_ratio": "200",
    # Backups and replication (fazt.backup): "" means off.
    "backup_every": "",
    "backup_keep": "7",
    "backup_dir": "",
    "replicate_url": "",
    "replicate_sync_interval": "1s",
    "replicate_s3_endpoint": "",
    "replicate_s3_region": "",
    # Upgrades (fazt.upgrade): the signed release index to upgrade from.
    "release_url": "https://fazt.sh/releases/releases.json",
    # HTTPS with ACME (fazt.https): saved by `fazt server start --https ...`.
    "https_enabled": "0",
    "https_email": "",
    "https_directory": "",
    "https_ca_bundle": "",
    "https_host": "0.0.0.0",
    "https_http_port": "80",
    "https_https_port": "443",
    "https_hsts": "0",
    "https_debounce_seconds": "5",
    "https_retry_base_seconds": "30",
    # Dashboard login (fazt.auth.sessions): idle sessions end after this many seconds;
    # X-Forwarded-For is believed only from these comma-separated IPs or CIDRs.
    "session_ttl_seconds": str(7 * 24 * 3600),
    # ...and every session ends this many hours after its login, however busy.
    "session_max_age_hours": "168",
    "trusted_proxies": "",
    # Edge limits per client address (fazt.server.edge); a rate or cap of 0 is off.
    "edge_requests_per_second": "1000",
    "edge_requests_burst": "2000",
    "edge_connections_per_address": "256",
    "edge_exempt_loopback": "1",
    "http_header_timeout_seconds": "10",
    "http_body_timeout_seconds": "30",
    "track_per_second": "10",
    "track_burst": "50",
    # /ws messages (fazt.realtime.hub): per connection, and per client address.
    "ws_messages_per_second": "20",
    "ws_messages_burst": "40",
    "ws_address_messages_per_second": "100",
    "ws_address_messages_burst": "200",
    # Analytics (fazt.analytics): events, rollups and webhook payloads older are pruned.
    "analytics_retention_days": "365",
}


def get(conn: sqlite3.Connection, key: str) -> str:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else DEFAULTS[key]


def get_int(conn: sqlite3.Connection, key: str) -> int:
    return int(get(conn, key))


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
    if key not in DEFAULTS:
        raise KeyError(key)
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def is_initialised(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None
