"""The dashboard's session lifetimes and trusted proxies, read from the settings values;
a bad value falls back to the safe default (and says so in the log)."""

import logging
from collections.abc import Mapping

from fazt.auth import clientip
from fazt.db import settings

log = logging.getLogger("fazt")
MAX_SESSION_HOURS = 24 * 365 * 10  # a sane ceiling for both lifetimes
KEYS = ("session_ttl_seconds", "session_max_age_hours", "trusted_proxies")


def session_ttl(values: Mapping[str, str]) -> int:
    """Seconds an unused session lives (each use slides it)."""
    return _positive(values, "session_ttl_seconds", MAX_SESSION_HOURS * 3600)


def session_max_age(values: Mapping[str, str]) -> int:
    """Seconds a session lives after its login at most, however busy."""
    return _positive(values, "session_max_age_hours", MAX_SESSION_HOURS) * 3600


def trusted_proxies(values: Mapping[str, str]) -> tuple[clientip.Network, ...]:
    try:
        return clientip.parse_trusted(values["trusted_proxies"])
    except ValueError:  # a bad setting must not open the door: trust nobody
        return ()


def _positive(values: Mapping[str, str], key: str, ceiling: int) -> int:
    raw = values[key]
    if raw.isdigit() and 0 < int(raw) <= ceiling:
        return int(raw)
    log.warning("%s=%r is not an integer from 1 to %d; using the default", key, raw, ceiling)
    return int(settings.DEFAULTS[key])
