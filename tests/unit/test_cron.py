"""The cron schedule parser (fazt.cron), checked against a brute-force reference:
Hypothesis writes a schedule's text together with the sets of values it means, and a
minute-by-minute walk over those sets says when it must fire next."""

import calendar
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fazt import cron
from fazt.cron import InvalidSchedule, parse

MONTHS = cron.MONTHS
DAYS = cron.DAYS


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- the reference: the generated sets, walked minute by minute ---------------------------


def reference_next(sets: list[set[int]], stars: tuple[bool, bool], after: datetime) -> datetime:
    minutes, hours, days, months, weekdays = sets
    weekdays = {d % 7 for d in weekdays}
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(60 * 24 * 366 * 41):
        weekday = (t.weekday() + 1) % 7
        in_month, in_week = t.day in days, weekday in weekdays
        day_ok = (in_month and in_week) if (stars[0] or stars[1]) else (in_month or in_week)
        if not (day_ok and t.month in months):
            t = t.replace(hour=0, minute=0) + timedelta(days=1)  # a whole day that cannot fire
            continue
        if t.hour in hours and t.minute in minutes:
            return t
        t += timedelta(minutes=1)
    raise AssertionError("no match found")


def item(low: int, high: int, names: list[str] | None, offset: int):
    """(text, values) of one list item of a field."""

    def spell(v: int, draw_name: bool) -> str:
        if names is not None and draw_name and 0 <= v - offset < len(names):
            return names[v - offset].upper() if v % 2 else names[v - offset]
        return str(v)

    @st.composite
    def build(draw):
        kind = draw(st.sampled_from(["value", "range", "range-step", "star-step", "from-step"]))
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        step = draw(st.integers(1, high))
        named = draw(st.booleans())
        if kind == "value":
            return spell(a, named), {a}
        if kind == "range":
            return f"{spell(a, named)}-{spell(b, named)}", set(range(a, b + 1))
        if kind == "range-step":
            return f"{spell(a, named)}-{spell(b, named)}/{step}", set(range(a, b + 1, step))
        if kind == "star-step":
            return f"*/{step}", set(range(low, high + 1, step))
        return f"{spell(a, named)}/{step}", set(range(a, high + 1, step))

    return build()


def field(low: int, high: int, names: list[str] | None = None, offset: int = 0):
    full = st.just(("*", set(range(low, high + 1))))
    listed = st.lists(item(low, high, names, offset), min_size=1, max_size=4).map(
        lambda items: (",".join(t for t, _ in items), set().union(*(v for _, v in items)))
    )
    return st.one_of(full, listed)


SCHEDULES = st.tuples(
    field(0, 59),
    field(0, 23),
    field(1, 31),
    field(1, 12, MONTHS, 1),
    field(0, 7, DAYS, 0),
)
MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31)).map(
    lambda t: t.replace(tzinfo=UTC)
)


def fires_at_all(sets: list[set[int]], stars: tuple[bool, bool]) -> bool:
    """Whether some month of the schedule has one of its days (what parse() checks)."""
    if not (stars[0] or stars[1]):
        return True
    return any(
        d <= (29 if m == 2 else calendar.monthrange(2001, m)[1]) for m in sets[3] for d in sets[2]
    )


@settings(max_examples=300, deadline=None)
@given(SCHEDULES, MOMENTS)
def test_next_after_matches_a_minute_by_minute_walk(fields, moment):
    text = " ".join(t for t, _ in fields)
    sets = [v for _, v in fields]
    stars = (fields[2][0].startswith("*"), fields[4][0].startswith("*"))
    if not fires_at_all(sets, stars):
        with pytest.raises(InvalidSchedule, match="never fires"):
            parse(text)
        return
    schedule = parse(text)
    expected = reference_next(sets, stars, moment)
    assert schedule.next_after(moment) == expected
    assert schedule.matches(expected)


@settings(max_examples=200, deadline=None)
@given(SCHEDULES, MOMENTS)
def test_matches_agrees_with_the_generated_sets(fields, moment):
    text = " ".join(t for t, _ in fields)
    sets = [v for _, v in fields]
    stars = (fields[2][0].startswith("*"), fields[4][0].startswith("*"))
    if not fires_at_all(sets, stars):
        return
    t = moment.replace(second=0, microsecond=0)
    minute_before = t - timedelta(minutes=1)
    assert parse(text).matches(t) == (reference_next(sets, stars, minute_before) == t)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_with_invalid_schedule(text):
    try:
        schedule = parse(text)
    except InvalidSchedule as exc:
        assert str(exc)
        return
    assert schedule.minutes and schedule.hours and schedule.months


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("*/5 * * * *", "2026-03-01T10:02:30", "2026-03-01T10:05:00"),
        ("*/5 * * * *", "2026-03-01T10:05:00", "2026-03-01T10:10:00"),  # strictly after
        ("@hourly", "2026-03-01T10:00:00", "2026-03-01T11:00:00"),
        ("@daily", "2026-12-31T23:59:00", "2027-01-01T00:00:00"),
        ("@weekly", "2026-03-04T12:00:00", "2026-03-08T00:00:00"),  # the next Sunday
        ("@monthly", "2026-01-31T00:00:00", "2026-02-01T00:00:00"),
        ("@yearly", "2026-06-01T00:00:00", "2027-01-01T00:00:00"),
        ("0 9 * * mon-fri", "2026-03-06T09:00:00", "2026-03-09T09:00:00"),  # Fri -> Mon
        ("0 0 29 feb *", "2097-01-01T00:00:00", "2104-02-29T00:00:00"),  # 2100 is no leap year
        # both days restricted: the 13th OR a Friday (Vixie cron)
        ("0 0 13 * fri", "2026-03-01T00:00:00", "2026-03-06T00:00:00"),
        ("0 0 13 * fri", "2026-03-12T00:00:00", "2026-03-13T00:00:00"),
        ("30 4 1,15 * *", "2026-03-02T00:00:00", "2026-03-15T04:30:00"),
        ("0 0 * * 7", "2026-03-02T00:00:00", "2026-03-08T00:00:00"),  # 7 is Sunday too
        ("15/20 * * * *", "2026-03-01T10:36:00", "2026-03-01T10:55:00"),
    ],
)
def test_examples(text, after, expected):
    assert parse(text).next_after(at(after)) == at(expected)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "non-empty"),
        ("* * * *", "has 4 fields"),
        ("* * * * * *", "has 6 fields"),
        ("60 * * * *", "minute: '60'"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day of month"),
        ("* * * 13 *", "month"),
        ("* * * * 8", "day of week"),
        ("5-1 * * * *", "goes backwards"),
        ("*/0 * * * *", "bad step"),
        ("*/x * * * *", "bad step"),
        ("1,,2 * * * *", "minute"),
        ("jan * * * *", "minute"),
        ("@reboot", "unknown alias"),
        ("0 0 30 feb *", "never fires"),
        ("0 0 31 apr,jun *", "never fires"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(text, says):
    with pytest.raises(InvalidSchedule, match=says):
        parse(text)


def test_a_restricted_day_of_week_saves_an_impossible_day_of_month():
    # Feb 30 OR a Monday: every Monday in February
    assert parse("0 0 30 2 mon").next_after(at("2026-01-01T00:00:00")) == at("2026-02-02T00:00")


def test_days_in_a_month_match_the_calendar():
    """cron keeps `calendar` (and its imports) out of an idle worker: its own month length."""
    import calendar

    from fazt.cron import _days_in

    for year in (1900, 2000, 2001, 2024, 2100):
        for month in range(1, 13):
            assert _days_in(year, month) == calendar.monthrange(year, month)[1], (year, month)
