"""Template filters: sizes, timestamps."""

from datetime import UTC, datetime


def size(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _parse(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def when(stamp: str | None) -> str:
    """'2026-11-26T01:02:03.456Z' -> '2026-11-26 01:02 UTC'."""
    moment = _parse(stamp) if stamp else None
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def ago(stamp: str | float | None) -> str:
    """A timestamp (or a number of seconds) as '3 min ago' / '2 h' style text."""
    if stamp is None:
        return "never"
    if isinstance(stamp, int | float):
        seconds = int(stamp)
        suffix = ""
    else:
        moment = _parse(stamp)
        if moment is None:
            return "never"
        seconds = int((datetime.now(UTC) - moment).total_seconds())
        suffix = " ago"
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds // length} {unit}{suffix}"
    return f"{max(seconds, 0)} s{suffix}"
