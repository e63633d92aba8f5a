"""Cron schedules: the standard 5-field syntax and the @hourly-style aliases, in UTC.

    minute hour day-of-month month day-of-week

Each field is `*` or a comma-separated list of `N`, `A-B`, `*/S`, `A-B/S` or `A/S` (from
A to the field's end, every S). Months take `jan`-`dec` and days of the week `sun`-`sat`
(0 or 7 is Sunday), in any case. Day of month and day of week combine as in Vixie cron:
when both are restricted, a day matching either one matches; when one of them starts
with `*`, only the other counts. Aliases: @yearly (@annually), @monthly, @weekly, @daily
(@midnight), @hourly.

Pure functions, no clock: `parse(text)` -> `Schedule`, `Schedule.next_after(moment)`.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (name, lowest, highest, names from the lowest value on)
FIELDS = [
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
]
MAX_SCHEDULE_CHARS = 200
SEARCH_YEARS = 60  # "Feb 29 on a Sunday" waits up to 40 years (no Feb 29 in 2100)


class InvalidSchedule(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]  # days of the month, 1-31
    months: frozenset[int]  # 1-12
    weekdays: frozenset[int]  # 0 = Sunday ... 6
    any_day: bool  # the day-of-month field starts with '*'
    any_weekday: bool  # the day-of-week field starts with '*'

    def day_matches(self, year: int, month: int, day: int) -> bool:
        weekday = (date(year, month, day).weekday() + 1) % 7  # Python's Monday=0 -> 1
        in_month, in_week = day in self.days, weekday in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def matches(self, moment: datetime) -> bool:
        """Whether the schedule fires in the (UTC) minute of `moment`."""
        t = moment.astimezone(UTC)
        return (
            t.minute in self.minutes
            and t.hour in self.hours
            and t.month in self.months
            and self.day_matches(t.year, t.month, t.day)
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first minute strictly after `moment` (UTC) when the schedule fires."""
        t = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t.year + SEARCH_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                t = _next_month(t)
            elif not self.day_matches(t.year, t.month, t.day):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        raise InvalidSchedule("the schedule never fires")  # parse() refuses those


def _next_month(t: datetime) -> datetime:
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return t.replace(year=year, month=month, day=1, hour=0, minute=0)


def parse(text: str) -> Schedule:
    """A schedule from its text, or InvalidSchedule saying which field is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidSchedule("a schedule is a non-empty string such as '*/5 * * * *'")
    if len(text) > MAX_SCHEDULE_CHARS:
        raise InvalidSchedule(f"a schedule is at most {MAX_SCHEDULE_CHARS} characters")
    spec = text.strip().lower()
    if spec.startswith("@"):
        if spec not in ALIASES:
            raise InvalidSchedule(
                f"unknown alias {text.strip()!r} (use " + ", ".join(ALIASES) + ")"
            )
        spec = ALIASES[spec]
    parts = spec.split()
    if len(parts) != 5:
        raise InvalidSchedule(
            f"{text.strip()!r} has {len(parts)} fields; a schedule has 5: "
            "minute hour day-of-month month day-of-week"
        )
    sets = [_field(part, *field) for part, field in zip(parts, FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    schedule = Schedule(
        minutes=frozenset(sets[0]),
        hours=frozenset(sets[1]),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=weekdays,
        any_day=parts[2].startswith("*"),
        any_weekday=parts[4].startswith("*"),
    )
    if not _can_fire(schedule):
        raise InvalidSchedule(f"{text.strip()!r} never fires (no such day in those months)")
    return schedule


def _days_in(year: int, month: int) -> int:
    """The number of days of a month (calendar.monthrange without the calendar module)."""
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _can_fire(s: Schedule) -> bool:
    """False for a day of month no month of the schedule has (Feb 30): the other day
    combinations all come round (each date falls on each weekday within SEARCH_YEARS)."""
    if not s.any_day and not s.any_weekday:
        return True  # either field matches: the day of week alone comes every week
    longest = {m: 29 if m == 2 else _days_in(2001, m) for m in s.months}
    return any(day <= longest[m] for m in s.months for day in s.days)


def _field(text: str, what: str, low: int, high: int, names: list[str] | None) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        values |= _item(item, what, low, high, names)
    return values


def _item(item: str, what: str, low: int, high: int, names: list[str] | None) -> set[int]:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or not 0 < int(step_text) <= high:
            raise InvalidSchedule(f"{what}: bad step in {item!r}")
        step = int(step_text)
    if base == "*":
        first, last = low, high
    elif "-" in base:
        a, _, b = base.partition("-")
        first, last = _value(a, what, low, high, names), _value(b, what, low, high, names)
        if first > last:
            raise InvalidSchedule(f"{what}: range {item!r} goes backwards")
    else:
        first = _value(base, what, low, high, names)
        last = high if slash else first  # "5/15": from 5 to the end, every 15
    return set(range(first, last + 1, step))


def _value(text: str, what: str, low: int, high: int, names: list[str] | None) -> int:
    if names is not None and text in names:
        return names.index(text) + (1 if what == "month" else 0)
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidSchedule(f"{what}: {text!r} is not a value from {low} to {high}")
    return int(text)
