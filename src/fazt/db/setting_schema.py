"""The settings schema: every key fazt reads from the `settings` table, with its type,
default, allowed values, a one-line doc, and whether a change needs a server restart.

Values are stored as text. `Setting.check` turns what a user typed into the text to
store, or raises `SettingError` naming the key and what it allows. Readers keep parsing
the text themselves (and fall back to their defaults on a bad row written by SQL), so
this module is the one place for names, defaults and validation, not a config object.

An empty default means "off" or "worked out at start" (e.g. `runtime_workers` follows the
CPU count); `Setting.blank` says whether an empty value may be stored.
"""

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

MiB = 1024 * 1024
GiB = 1024 * MiB


class SettingError(ValueError):
    """A value a setting does not allow, or a key that is not a setting."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class UnknownSetting(SettingError, KeyError):
    """A key that is not in the schema (also a KeyError, as before the schema)."""

    def __init__(self, key: str) -> None:
        SettingError.__init__(self, key, "no such setting (`fazt server config` lists them)")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


@dataclass(frozen=True)
class Setting:
    name: str
    type: str  # int, float, bool, text, duration, domain, networks, path, url
    default: str
    doc: str
    restart: bool = True  # False: a running server picks a change up by itself
    low: float | None = None  # int and float: the allowed range, both ends included
    high: float | None = None
    blank: bool = False  # "" may be stored (off, or worked out at start)

    def check(self, text: str) -> str:
        """The text to store for `text`; SettingError when the setting does not allow it."""
        text = str(text).strip()
        if text == "" and (self.blank or self.type == "text"):
            return ""
        try:
            return CHECKS[self.type](self, text)
        except ValueError:
            raise SettingError(self.name, f"expected {self.allowed()}, got {text!r}") from None

    def allowed(self) -> str:
        """What the setting accepts, in words."""
        what = DESCRIBE[self.type]
        if self.type in ("int", "float"):
            what += f" from {_number(self.low)} to {_number(self.high)}"
        return what + (" (or empty)" if self.blank else "")


def _number(value: float) -> str:
    return f"{value:_.0f}" if value >= 1e5 else f"{value:g}"


def _int(s: Setting, text: str) -> str:
    value = int(text)
    if not s.low <= value <= s.high:
        raise ValueError
    return str(value)


def _float(s: Setting, text: str) -> str:
    value = float(text)
    if not s.low <= value <= s.high:  # also refuses nan
        raise ValueError
    return text


def _bool(s: Setting, text: str) -> str:
    if text not in ("0", "1"):
        raise ValueError
    return text


def _text(s: Setting, text: str) -> str:
    return text


_DURATION = re.compile(r"^(\d+)\s*([smhd])$")  # as fazt.backup.service.parse_every


def _duration(s: Setting, text: str) -> str:
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError
    return text


_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")  # as fazt.hosting.names


def _domain(s: Setting, text: str) -> str:
    domain = text.lower().rstrip(".")
    labels = domain.split(".")
    if domain == "localhost":
        return domain
    if len(domain) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise ValueError
    return domain


def _networks(s: Setting, text: str) -> str:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return ",".join(str(ipaddress.ip_network(p, strict=False)) for p in parts)


def _path(s: Setting, text: str) -> str:
    if not text.startswith(("/", "~")):
        raise ValueError
    return text


def _url(s: Setting, text: str) -> str:
    if not (text.startswith(("https://", "http://")) or text.startswith("/")):
        raise ValueError
    return text


_REPLICAS = ("s3", "gs", "abs", "sftp", "webdav")  # as fazt.backup.replicate.check_url


def _replica(s: Setting, text: str) -> str:
    parsed = urlparse(text)
    if parsed.scheme == "file" and parsed.path.startswith("/"):
        return text
    if parsed.scheme in _REPLICAS and parsed.netloc:
        return text
    raise ValueError


CHECKS: dict[str, Callable[[Setting, str], str]] = {
    "int": _int,
    "float": _float,
    "bool": _bool,
    "text": _text,
    "duration": _duration,
    "domain": _domain,
    "networks": _networks,
    "path": _path,
    "url": _url,
    "replica": _replica,
}
DESCRIBE = {
    "int": "an integer",
    "float": "a number",
    "bool": "0 or 1",
    "text": "text",
    "duration": "an interval such as 30m, 6h, 24h, 7d",
    "domain": "localhost or a DNS name with a dot",
    "networks": "comma-separated IPs or CIDRs",
    "path": "an absolute path",
    "url": "an http(s) URL or an absolute path",
    "replica": "file:///path, s3://bucket/path, gs://, abs://, sftp:// or webdav://",
}


def _int_setting(name: str, default: int, low: int, high: int, doc: str, **kw) -> Setting:
    return Setting(name, "int", str(default), doc, low=low, high=high, **kw)


def _auto(name: str, low: int, high: int, doc: str) -> Setting:
    """An int whose empty default is worked out at start."""
    return Setting(name, "int", "", doc, low=low, high=high, blank=True)


def _float_setting(name: str, default: str, low: float, high: float, doc: str) -> Setting:
    return Setting(name, "float", default, doc, low=low, high=high)


LIVE = {"restart": False}
YEAR_HOURS = 24 * 365

SETTINGS: tuple[Setting, ...] = (
    Setting("domain", "domain", "localhost", "the domain sites are served under"),
    _int_setting("port", 4698, 1, 65535, "the port `fazt server start` listens on"),
    _int_setting("history_limit", 20, 1, 1000, "deployments kept per site", **LIVE),
    _int_setting("cache_max_bytes", 64 * MiB, 1, 64 * GiB, "bytes of the static file cache"),
    # The disk copy of big files (fazt.hosting.blob_cache, docs/decisions/008-blob-serving.md).
    _int_setting("blob_cache_max_mb", 2048, 0, 16 * 1024 * 1024, "MB of the disk blob cache"),
    _int_setting(
        "blob_cache_min_bytes", 64 * 1024, 0, 64 * GiB, "files this big are sent from disk"
    ),
    # Blobs in object storage (fazt.offload, docs/object-storage.md): "" keeps them in SQLite.
    Setting("blob_store_url", "text", "", "s3://bucket/prefix holding blob bytes", **LIVE),
    Setting("blob_store_endpoint", "text", "", "the blob store's S3 endpoint", **LIVE),
    Setting("blob_store_region", "text", "", "the blob store's S3 region", **LIVE),
    Setting("blob_store_new", "bool", "1", "the server moves new blobs to the store", **LIVE),
    _int_setting(
        "blob_store_every_seconds", 60, 5, 86400, "how often new blobs move, GC runs", **LIVE
    ),
    _int_setting(
        "blob_store_keep_days", 7, 0, 3650, "unused objects kept (for older backups)", **LIVE
    ),
    # Deploy limits (fazt.hosting, docs/deploying.md).
    _int_setting("deploy_max_upload_bytes", 200 * MiB, 1, 64 * GiB, "bytes of one upload"),
    _int_setting("deploy_max_files", 10000, 1, 10_000_000, "files in one deployment"),
    _int_setting("deploy_max_file_bytes", 5 * GiB, 1, 64 * GiB, "bytes of one file unpacked"),
    _int_setting("deploy_max_total_bytes", 10 * GiB, 1, 1 << 50, "bytes of a deploy unpacked"),
    _int_setting(
        "deploy_max_site_bytes",
        20 * GiB,
        1,
        1 << 50,
        "bytes one site holds (deployments and uploads in progress)",
        **LIVE,
    ),
    _int_setting("deploy_max_ratio", 200, 1, 100_000, "unpacked/packed size of an archive"),
    _int_setting(
        "deploy_pending_ttl_seconds",
        600,
        1,
        7 * 86400,
        "unfinished uploads idle this long go",
        **LIVE,
    ),
    _int_setting(
        "disk_free_warn_mb", 512, 0, 1 << 30, "server status warns under this free space", **LIVE
    ),
    # Backups and replication (fazt.backup): "" means off.
    Setting("backup_every", "duration", "", "interval of scheduled backups", blank=True, **LIVE),
    _int_setting("backup_keep", 7, 1, 1000, "scheduled backups kept", **LIVE),
    Setting(
        "backup_dir",
        "path",
        "",
        "folder of scheduled backups ($FAZT_HOME/backups)",
        blank=True,
        **LIVE,
    ),
    Setting("replicate_url", "replica", "", "the Litestream replica", blank=True, **LIVE),
    Setting("replicate_sync_interval", "text", "1s", "Litestream's sync interval", **LIVE),
    Setting("replicate_s3_endpoint", "text", "", "the replica's S3 endpoint", **LIVE),
    Setting("replicate_s3_region", "text", "", "the replica's S3 region", **LIVE),
    # Upgrades (fazt.upgrade).
    Setting(
        "release_url",
        "url",
        "https://fazt.sh/releases/releases.json",
        "the signed release index upgrades use",
        **LIVE,
    ),
    # HTTPS with ACME (fazt.https): saved by `fazt server start --https ...`.
    Setting("https_enabled", "bool", "0", "serve HTTPS with certificates from ACME"),
    Setting("https_email", "text", "", "the contact address given to the CA"),
    Setting("https_directory", "text", "", "the ACME directory URL (Let's Encrypt)"),
    Setting("https_ca_bundle", "text", "", "a CA file to trust for the ACME directory"),
    Setting("https_host", "text", "0.0.0.0", "the address HTTPS listens on"),
    _int_setting("https_http_port", 80, 1, 65535, "the plain HTTP port (redirects, ACME)"),
    _int_setting("https_https_port", 443, 1, 65535, "the TLS port"),
    Setting("https_hsts", "bool", "0", "send Strict-Transport-Security"),
    _float_setting(
        "https_debounce_seconds", "5", 0, 3600, "wait before asking for new names' certificate"
    ),
    _float_setting(
        "https_retry_base_seconds", "30", 1, 86400, "first wait after a failed certificate order"
    ),
    # Dashboard login (fazt.auth.sessions).
    _int_setting(
        "session_ttl_seconds",
        7 * 24 * 3600,
        1,
        10 * YEAR_HOURS * 3600,
        "idle dashboard sessions end after this",
    ),
    _int_setting(
        "session_max_age_hours", 168, 1, 10 * YEAR_HOURS, "every session ends this after login"
    ),
    Setting("trusted_proxies", "networks", "", "IPs/CIDRs whose X-Forwarded-For is believed"),
    # Edge limits per client address (fazt.server.edge); a rate or cap of 0 is off.
    _float_setting("edge_requests_per_second", "1000", 0, 1e6, "requests per address (0 = off)"),
    _float_setting("edge_requests_burst", "2000", 1, 1e7, "request burst per address"),
    _int_setting(
        "edge_connections_per_address", 256, 0, 1_000_000, "requests + WebSockets at once"
    ),
    Setting("edge_exempt_loopback", "bool", "1", "loopback clients are not limited"),
    _float_setting("http_header_timeout_seconds", "10", 1, 60, "request headers must arrive in"),
    _float_setting("http_body_timeout_seconds", "30", 1, 3600, "a request body may stall for"),
    _float_setting(
        "http_body_min_bytes_per_second", "1024", 0, 1e9, "a request body's minimum rate"
    ),
    _float_setting(
        "http_body_rate_grace_seconds", "10", 0, 3600, "before the minimum rate applies"
    ),
    # Read by the supervisor at each restart of a crashed worker (fazt.server.supervisor).
    Setting(
        "worker_restart_max_delay_seconds",
        "float",
        "30",
        "the longest pause between restarts of a crashing worker",
        low=0,
        high=3600,
        **LIVE,
    ),
    # Read by the supervisor at each handover (reload, upgrade, rollback).
    Setting(
        "worker_ready_deadline_seconds",
        "float",
        "10",
        "how long a handover's new worker may stay silent before it is given up",
        low=1,
        high=600,
        **LIVE,
    ),
    _float_setting("track_per_second", "10", 0, 1e6, "analytics beacons per address (0 = off)"),
    _float_setting("track_burst", "50", 1, 1e7, "analytics beacon burst per address"),
    # /ws (fazt.realtime.hub): per connection, and per client address.
    _int_setting("ws_max_connections_per_site", 100, 1, 1_000_000, "/ws connections per site"),
    _float_setting("ws_idle_seconds", "300", 1, 86400, "an idle /ws connection is closed after"),
    _float_setting("ws_messages_per_second", "20", 0, 1e6, "/ws messages per connection (0 = off)"),
    _float_setting("ws_messages_burst", "40", 1, 1e7, "/ws message burst per connection"),
    _float_setting(
        "ws_address_messages_per_second", "100", 0, 1e6, "/ws messages per address (0 = off)"
    ),
    _float_setting("ws_address_messages_burst", "200", 1, 1e7, "/ws message burst per address"),
    # Analytics (fazt.analytics): events, rollups and webhook payloads older are pruned.
    _int_setting(
        "analytics_retention_days", 365, 1, 36500, "analytics older than this are pruned", **LIVE
    ),
    # Serverless (fazt.runtime.limits, docs/serverless.md); read when the server starts.
    _int_setting("runtime_timeout_ms", 5000, 1, 3_600_000, "a request's time limit"),
    _int_setting("runtime_max_timeout_ms", 30000, 1, 3_600_000, "the most an app may ask for"),
    _int_setting("runtime_memory_mb", 64, 1, 65536, "a worker's JS memory limit"),
    _int_setting("runtime_max_memory_mb", 256, 1, 65536, "the most an app may ask for"),
    _int_setting("runtime_max_body_bytes", MiB, 1, GiB, "bytes of a request body"),
    _int_setting("runtime_max_response_bytes", 8 * MiB, 1, GiB, "bytes of a response"),
    _auto("runtime_workers", 1, 256, "JS worker processes (empty: cores + 1, 2 to 4)"),
    _int_setting("runtime_queue", 64, 1, 1_000_000, "requests of one app waiting for a worker"),
    _auto("runtime_queue_total", 1, 10_000_000, "waiting requests of all apps (empty: 4 x queue)"),
    _auto("runtime_app_workers", 1, 256, "workers one busy app may hold (empty: workers - 1)"),
    _int_setting("runtime_log_retention", 1000, 1, 10_000_000, "log lines kept per app"),
    Setting("runtime_fresh_contexts", "bool", "0", "a new JS context per request (slow)"),
    # Outbound HTTP from apps (fazt.runtime.net, docs/serverless.md); read live.
    _int_setting("net_timeout_ms", 10_000, 1, 3_600_000, "a fetch's time limit", **LIVE),
    _int_setting(
        "net_max_response_bytes", 5 * MiB, 1, GiB, "bytes of a fetch's response body", **LIVE
    ),
    _int_setting(
        "net_requests_per_minute", 120, 0, 1_000_000, "fetches per app per minute (0 = off)", **LIVE
    ),
    # User-scoped storage (fazt.storage.user, storage/user_quota.py); read live.
    _int_setting(
        "user_storage_max_bytes", 10 * MiB, 0, 1024 * GiB, "bytes per visitor per app", **LIVE
    ),
    _int_setting(
        "user_storage_max_items", 10_000, 0, 1_000_000_000, "rows per visitor per app", **LIVE
    ),
    # Resized image variants (fazt.hosting.image_variants, docs/sites.md#images).
    _int_setting(
        "image_max_pixels", 50_000_000, 1, 1_000_000_000, "pixels of an image fazt resizes"
    ),
    _int_setting("image_encodes_at_once", 2, 1, 64, "image variants encoded at the same time"),
    _float_setting("image_queue_seconds", "10", 0.1, 3600, "a variant waits for an encode slot"),
    _int_setting("jobs_runs_kept", 100, 1, 100_000, "runs kept per scheduled job", restart=False),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def lookup(key: str) -> Setting:
    """The schema entry of `key`; UnknownSetting if there is none."""
    try:
        return BY_NAME[key]
    except KeyError:
        raise UnknownSetting(key) from None


def check(key: str, value: str) -> str:
    """The text to store for key = value (SettingError when not allowed)."""
    return lookup(key).check(value)
