"""`manifest.json` at a site's root: name, SPA fallback, cache rules, runtime limits,
analytics and realtime echo."""

import fnmatch
import json
from dataclasses import dataclass, field

DEFAULT_ASSET_CACHE = "public, max-age=3600"
HTML_CACHE = "no-cache"
# Per-app serverless limits an app may ask for (clamped to the server's maxima at run time).
LIMIT_KEYS = ("timeout_ms", "memory_mb", "max_body_bytes")


class InvalidManifest(ValueError):
    pass


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
    return Manifest(
        name=name,
        spa=spa,
        cache=tuple(cache.items()),
        limits=tuple(sorted(limits.items())),
        analytics=analytics,
        realtime_echo=realtime.get("echo", True),
    )
