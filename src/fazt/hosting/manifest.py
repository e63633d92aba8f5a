"""`manifest.json` at a site's root: name, SPA fallback, cache rules, runtime limits,
analytics, realtime echo and scheduled jobs (cron)."""

import fnmatch
import json
import re
from dataclasses import dataclass, field

from fazt import cron
from fazt.hosting.paths import canonical_path

DEFAULT_ASSET_CACHE = "public, max-age=3600"
HTML_CACHE = "no-cache"
# Per-app serverless limits an app may ask for (clamped to the server's maxima at run time).
LIMIT_KEYS = ("timeout_ms", "memory_mb", "max_body_bytes")
MAX_NET_ALLOW = 100
_NET_HOST = re.compile(
    r"^(?:\*\.)?[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$"
)


MAX_CRON_JOBS = 20
MAX_CRON_PATH = 512
CRON_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class InvalidManifest(ValueError):
    pass


@dataclass(frozen=True)
class CronJob:
    """One scheduled job: POST `path` of the app's own JavaScript when `schedule` fires."""

    name: str
    schedule: str
    path: str

    def to_dict(self) -> dict:
        return {"name": self.name, "schedule": self.schedule, "path": self.path}


@dataclass(frozen=True)
class Manifest:
    name: str | None = None
    spa: bool = False
    # glob pattern on the file path -> Cache-Control value, first match wins
    cache: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # serverless limits, e.g. (("timeout_ms", 2000),): see LIMIT_KEYS
    limits: tuple[tuple[str, int], ...] = field(default_factory=tuple)
    # false: no tracking script in the site's HTML pages (fazt.analytics)
    analytics: bool = True
    # false: a /ws message is not sent back to its sender (v0.9 and the default echo it)
    realtime_echo: bool = True
    # hosts fazt.net.fetch may reach ("api.example.com", "*.example.org", "host:8443");
    # checked in full by fazt.runtime.netpolicy
    net_allow: tuple[str, ...] = field(default_factory=tuple)
    # scheduled jobs ("cron": [{"name"?, "schedule", "path"}]), names unique
    cron: tuple[CronJob, ...] = field(default_factory=tuple)

    def cache_control(self, path: str, html: bool) -> str:
        rule = self.cache_rule(path)
        if rule is not None:
            return rule
        return HTML_CACHE if html else DEFAULT_ASSET_CACHE

    def cache_rule(self, path: str) -> str | None:
        """The Cache-Control value of the first `cache` pattern matching the path, if any."""
        for pattern, value in self.cache:
            if fnmatch.fnmatchcase(path, pattern.lstrip("/")):
                return value
        return None

    def to_json(self) -> str:
        data: dict = {}
        if self.name is not None:  # "" too: parse(to_json(m)) == m
            data["name"] = self.name
        if self.spa:
            data["spa"] = True
        if self.cache:
            data["cache"] = dict(self.cache)
        if self.limits:
            data["limits"] = dict(self.limits)
        if not self.analytics:
            data["analytics"] = False
        if not self.realtime_echo:
            data["realtime"] = {"echo": False}
        if self.net_allow:
            data["net"] = {"allow": list(self.net_allow)}
        if self.cron:
            data["cron"] = [job.to_dict() for job in self.cron]
        return json.dumps(data)


def _header_safe(value: str) -> bool:
    """A Cache-Control value we can send: printable ASCII (no CR/LF, no non-ASCII)."""
    return value.isascii() and value.isprintable()


def parse(raw: bytes | str | None) -> Manifest:
    """Parse manifest bytes; raise InvalidManifest with a readable reason."""
    if raw is None or raw in (b"", ""):
        return Manifest()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidManifest(f"manifest.json is not valid JSON: {exc}") from None
    except RecursionError:  # b"[" * 100_000
        raise InvalidManifest("manifest.json is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidManifest("manifest.json must be a JSON object")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidManifest("manifest.json: 'name' must be a string")
    spa = data.get("spa", False)
    if not isinstance(spa, bool):
        raise InvalidManifest("manifest.json: 'spa' must be true or false")
    cache = data.get("cache", {})
    if not isinstance(cache, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and _header_safe(v) for k, v in cache.items()
    ):
        raise InvalidManifest(
            "manifest.json: 'cache' must map path patterns to Cache-Control strings"
        )
    limits = data.get("limits", {})
    if not isinstance(limits, dict) or not all(
        k in LIMIT_KEYS and type(v) is int and v > 0 for k, v in limits.items()
    ):
        raise InvalidManifest(
            "manifest.json: 'limits' must map " + ", ".join(LIMIT_KEYS) + " to positive integers"
        )
    analytics = data.get("analytics", True)
    if not isinstance(analytics, bool):
        raise InvalidManifest("manifest.json: 'analytics' must be true or false")
    realtime = data.get("realtime", {})
    if (
        not isinstance(realtime, dict)
        or set(realtime) - {"echo"}
        or not isinstance(realtime.get("echo", True), bool)
    ):
        raise InvalidManifest("manifest.json: 'realtime' must be {\"echo\": true|false}")
    net_allow = _net_allow(data.get("net", {}))
    return Manifest(
        name=name,
        spa=spa,
        cache=tuple(cache.items()),
        limits=tuple(sorted(limits.items())),
        analytics=analytics,
        realtime_echo=realtime.get("echo", True),
        net_allow=net_allow,
        cron=_cron_jobs(data.get("cron", [])),
    )


def _net_allow(net: object) -> tuple[str, ...]:
    """`"net": {"allow": [...]}`: host entries (their full syntax is checked at fetch)."""
    if not isinstance(net, dict) or set(net) - {"allow"}:
        raise InvalidManifest('manifest.json: \'net\' must be {"allow": ["host", ...]}')
    allow = net.get("allow", [])
    if (
        not isinstance(allow, list)
        or len(allow) > MAX_NET_ALLOW
        or not all(isinstance(h, str) and _NET_HOST.match(h) for h in allow)
    ):
        raise InvalidManifest(
            f"manifest.json: 'net.allow' must list at most {MAX_NET_ALLOW} hosts such as "
            '"api.example.com", "*.example.org" or "api.example.com:8443"'
        )
    return tuple(allow)


def _cron_jobs(entries: object) -> tuple[CronJob, ...]:
    if not isinstance(entries, list):
        raise InvalidManifest('manifest.json: \'cron\' must be a list of {"schedule", "path"}')
    if len(entries) > MAX_CRON_JOBS:
        raise InvalidManifest(f"manifest.json: at most {MAX_CRON_JOBS} cron jobs")
    jobs: list[CronJob] = []
    for i, entry in enumerate(entries):
        job = _cron_job(entry, f"manifest.json: cron[{i}]")
        if any(j.name == job.name for j in jobs):
            raise InvalidManifest(f"manifest.json: cron[{i}]: a second job named '{job.name}'")
        jobs.append(job)
    return tuple(jobs)


def _cron_job(entry: object, where: str) -> CronJob:
    if not isinstance(entry, dict) or set(entry) - {"name", "schedule", "path"}:
        raise InvalidManifest(f'{where}: expected {{"name"?, "schedule", "path"}}')
    path = entry.get("path")
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or len(path) > MAX_CRON_PATH
        or canonical_path(path) != path
        or any(c in path for c in "?# ")
    ):
        raise InvalidManifest(
            f"{where}: 'path' must be a clean path of the app such as \"/api/tick\" "
            "(no query, no '.', '..' or empty segments)"
        )
    name = entry.get("name", _default_name(path))
    if not isinstance(name, str) or not CRON_NAME.match(name):
        raise InvalidManifest(
            f"{where}: 'name' must be 1-64 letters, digits, '.', '_' or '-' (got {name!r})"
        )
    where = f"{where} ('{name}')"
    schedule = entry.get("schedule")
    if not isinstance(schedule, str):
        raise InvalidManifest(f"{where}: 'schedule' must be a string such as \"*/5 * * * *\"")
    try:
        cron.parse(schedule)
    except cron.InvalidSchedule as exc:
        raise InvalidManifest(f"{where}: bad schedule {schedule!r}: {exc}") from None
    return CronJob(name=name, schedule=" ".join(schedule.split()), path=path)


def _default_name(path: str) -> str:
    """ "/api/feed/refresh" -> "feed-refresh"; "/api" -> "api"."""
    rel = path.strip("/")
    rel = rel[len("api/") :] if rel.startswith("api/") else rel
    return rel.replace("/", "-") or "root"
