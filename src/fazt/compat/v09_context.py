"""What the steps of a v0.9 import share: the sites and webhooks imported so far, and
v0.9's timestamps read."""

import re
from datetime import UTC, datetime, timedelta

from fazt.db.clock import stamp

_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?")


class Context:
    """What later kinds need from earlier ones: v0.9 site ids -> imported site names."""

    def __init__(self, domain: str | None) -> None:
        self.sites: dict[str, str] = {}
        self.domain = (domain or "").split("://")[-1].split(":")[0].split("/")[0].lower()
        self.skipped_files: set[tuple[str, str]] = set()  # (v0.9 site id, path)
        self.webhooks: dict[str, tuple[int, bool]] = {}  # endpoint -> (new id, signed)


def to_stamp(value: object) -> str | None:
    """A v0.9 DATETIME (SQLite text, RFC 3339 with up to nanoseconds, or unix seconds)
    as this fazt's stored timestamp; None when it cannot be read."""
    moment = to_datetime(value)
    return stamp(moment) if moment else None


def to_datetime(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        return None
    if fraction:
        moment += timedelta(microseconds=int(fraction[:6].ljust(6, "0")))
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(tzinfo=UTC)
