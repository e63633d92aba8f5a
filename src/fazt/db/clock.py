"""Timestamps as fazt stores them: UTC, ISO-8601, microseconds, a trailing Z.

Every stored timestamp has this one fixed width, so text order is time order and SQL
compares them as strings. A stamp of another precision would not: "…:00Z" sorts after
"…:00.000000Z" although both name the same instant. So a bound compared in SQL is made
here too, never with a format of its own.
"""

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # '2026-01-02T03:04:05.123456Z'


def stamp(moment: datetime) -> str:
    """A timezone-aware datetime as a stored timestamp."""
    return moment.astimezone(UTC).strftime(FORMAT)


def utcnow() -> str:
    """The current time as a stored timestamp."""
    return stamp(datetime.now(UTC))


def parse(text: str) -> datetime:
    """A stored timestamp back to an aware UTC datetime."""
    return datetime.strptime(text, FORMAT).replace(tzinfo=UTC)
