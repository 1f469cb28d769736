"""Business-time arithmetic, checked against hand-computed tables.

The Los Angeles calendar has holidays on both sides of a weekend (Fri 2026-12-25 and
Mon 2026-12-28) plus Thanksgiving (Thu 2026-11-26). DST in LA: 2026-03-08 (spring
forward, 23 h day) and 2026-11-01 (fall back, 25 h day), both Sundays.
"""

from __future__ import annotations

import time as _time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from business_calendar import BusinessCalendar, Duration, DurationError

LA = ZoneInfo("America/Los_Angeles")
HOLIDAYS = frozenset({date(2026, 11, 26), date(2026, 12, 25), date(2026, 12, 28)})
CAL = BusinessCalendar(timezone="America/Los_Angeles", holidays=HOLIDAYS)
# Every day a workday, in LA: shows P1D (wall time) versus PT24H (elapsed) across DST.
SEVEN = BusinessCalendar(timezone="America/Los_Angeles", workdays=frozenset(range(7)))
ALWAYS = BusinessCalendar.from_spec("always")


def la(text: str) -> datetime:
    """A Los Angeles wall time, e.g. ``la("2026-11-06 18:00")``; "24:00" is the day's end."""
    if text.endswith(" 24:00"):
        return la(text.replace(" 24:00", " 00:00")) + timedelta(days=1)
    return datetime.fromisoformat(text).replace(tzinfo=LA)


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        # Friday evening: P1D keeps the wall time on the next working day, not Saturday.
        ("2026-11-06 18:00", "P1D", "2026-11-09 18:00"),
        # Friday 20:00 has 4 h left, the other 4 h are Monday's.
        ("2026-11-06 20:00", "PT8H", "2026-11-09 04:00"),
        ("2026-11-06 23:59:30", "PT1M", "2026-11-09 00:00:30"),
        # Saturday start: moved to Monday 00:00 first.
        ("2026-11-07 10:00", "PT8H", "2026-11-09 08:00"),
        ("2026-11-07 10:00", "P1D", "2026-11-10 00:00"),
        ("2026-11-08 23:00", "PT30S", "2026-11-09 00:00:30"),
        # Start on Thanksgiving: moved to Friday 00:00.
        ("2026-11-26 09:00", "PT1H", "2026-11-27 01:00"),
        # Wednesday before Thanksgiving + P1D skips Thursday.
        ("2026-11-25 10:00", "P1D", "2026-11-27 10:00"),
        ("2026-11-25 10:00", "P1DT16H", "2026-11-30 02:00"),  # Fri 14 h + Mon 2 h
        # Christmas Eve: Fri 25 and Mon 28 are holidays, so Tuesday.
        ("2026-12-24 10:00", "P1D", "2026-12-29 10:00"),
        ("2026-12-24 20:00", "PT8H", "2026-12-29 04:00"),
        ("2026-12-24 10:00", "PT14H", "2026-12-24 24:00"),
        ("2026-12-24 10:00", "PT14H1S", "2026-12-29 00:00:01"),
        # Units: seconds, minutes, hours, days, weeks (a week is five working days).
        ("2026-11-02 09:00", "PT30S", "2026-11-02 09:00:30"),
        ("2026-11-02 09:00", "PT1.5S", "2026-11-02 09:00:01.500"),
        ("2026-11-02 09:00", "PT45M", "2026-11-02 09:45"),
        ("2026-11-02 09:00", "PT8H", "2026-11-02 17:00"),
        ("2026-11-02 09:00", "PT48H", "2026-11-04 09:00"),
        ("2026-11-02 09:00", "P2D", "2026-11-04 09:00"),
        ("2026-11-02 09:00", "P5D", "2026-11-09 09:00"),
        ("2026-11-02 09:00", "P1W", "2026-11-09 09:00"),
        ("2026-11-02 09:00", "P2W", "2026-11-16 09:00"),
        ("2026-11-23 09:00", "P1W", "2026-12-01 09:00"),  # Thanksgiving week
        ("2026-12-21 09:00", "P1W", "2026-12-30 09:00"),  # Christmas week
        # Spring forward (Sun 2026-03-08 is not a workday): PST Friday, PDT Monday.
        ("2026-03-06 12:00", "PT24H", "2026-03-09 12:00"),
        ("2026-03-06 12:00", "P1D", "2026-03-09 12:00"),
        ("2026-10-30 12:00", "PT24H", "2026-11-02 12:00"),
    ],
)
def test_add_on_los_angeles_working_days(start: str, duration: str, due: str) -> None:
    result = CAL.add(la(start), duration)
    assert result == la(due)
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "duration", "due_utc"),
    [
        # Spring forward: Sunday has 23 h. P1D keeps 12:00 wall time, PT24H does not.
        ("2026-03-07 12:00", "P1D", "2026-03-08 19:00"),  # 12:00 PDT
        ("2026-03-07 12:00", "PT24H", "2026-03-08 20:00"),  # 13:00 PDT
        ("2026-03-08 00:00", "PT23H", "2026-03-09 07:00"),  # whole 23 h day -> Mon 00:00 PDT
        # Fall back: Sunday has 25 h.
        ("2026-10-31 12:00", "P1D", "2026-11-01 20:00"),  # 12:00 PST
        ("2026-10-31 12:00", "PT24H", "2026-11-01 19:00"),  # 11:00 PST
        ("2026-11-01 00:00", "PT24H", "2026-11-02 07:00"),  # 23:00 PST, same day
        # Wall time that does not exist on the target day: pushed past the gap (03:30 PDT).
        ("2026-03-07 02:30", "P1D", "2026-03-08 10:30"),
        # Wall time that exists twice: the first occurrence (01:30 PDT).
        ("2026-10-31 01:30", "P1D", "2026-11-01 08:30"),
    ],
)
def test_add_across_dst_on_seven_day_calendar(start: str, duration: str, due_utc: str) -> None:
    assert SEVEN.add(la(start), duration) == z(due_utc)


@pytest.mark.parametrize(
    ("start", "duration", "due_utc"),
    [
        ("2026-11-07 02:00", "P1D", "2026-11-08 02:00"),  # Saturday counts
        ("2026-11-07 02:00", "PT8H", "2026-11-07 10:00"),
        ("2026-11-07 02:00", "P1W", "2026-11-14 02:00"),  # seven days
        ("2026-11-07 02:00", "P2W", "2026-11-21 02:00"),
        ("2026-03-07 20:00", "P1D", "2026-03-08 20:00"),  # plain 24 h, whatever DST does
        ("2026-12-24 18:00", "PT30S", "2026-12-24 18:00:30"),  # holidays do not apply
    ],
)
def test_add_always(start: str, duration: str, due_utc: str) -> None:
    assert ALWAYS.always
    assert ALWAYS.add(z(start), duration) == z(due_utc)
    assert ALWAYS.add(z(start), duration).tzinfo is UTC


def test_add_accepts_duration_objects_and_refuses_negative() -> None:
    start = la("2026-11-02 09:00")
    assert CAL.add(start, Duration(days=1, seconds=Decimal(3600))) == la("2026-11-03 10:00")
    assert CAL.add(start, Duration()) == start
    with pytest.raises(ValueError, match="negative"):
        CAL.add(start, Duration(seconds=Decimal(-1)))
    with pytest.raises(DurationError):
        CAL.add(start, "P1M")


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        ("2026-11-06 18:00", "2026-11-09 18:00", 24),
        ("2026-11-06 20:00", "2026-11-09 04:00", 8),
        ("2026-11-07 10:00", "2026-11-08 10:00", 0),  # all weekend
        ("2026-11-25 00:00", "2026-11-30 00:00", 48),  # Wed + Fri
        ("2026-12-24 12:00", "2026-12-29 12:00", 24),
        ("2026-11-09 12:00", "2026-11-09 12:00", 0),
        ("2026-11-09 12:00", "2026-11-06 12:00", 0),  # end before start
    ],
)
def test_elapsed_table(start: str, end: str, hours: int) -> None:
    assert CAL.elapsed(la(start), la(end)) == timedelta(hours=hours)


def test_elapsed_counts_real_hours_on_dst_days() -> None:
    assert SEVEN.elapsed(la("2026-03-08 00:00"), la("2026-03-09 00:00")) == timedelta(hours=23)
    assert SEVEN.elapsed(la("2026-11-01 00:00"), la("2026-11-02 00:00")) == timedelta(hours=25)
    assert ALWAYS.elapsed(z("2026-01-01 00:00"), z("2026-01-03 06:00")) == timedelta(hours=54)


def test_year_is_fast_and_exact() -> None:
    # 2026 has 261 weekdays (52 weeks + Thursday 1 Jan); minus 3 holidays; DST days are Sundays.
    began = _time.perf_counter()
    start, end = la("2026-01-01 00:00"), la("2027-01-01 00:00")
    assert CAL.elapsed(start, end) == timedelta(days=258)
    assert CAL.add(start, "PT6192H") == end  # 258 x 24 h: Thu 31 Dec 24:00
    assert CAL.add(start, "P258D") == end  # Fri 1 Jan 2027 is the 258th working day after
    assert CAL.add(start, "P259D") == la("2027-01-04 00:00")  # then the weekend
    assert _time.perf_counter() - began < 0.5


@pytest.mark.parametrize(
    ("start", "duration", "fraction", "at"),
    [
        ("2026-11-02 09:00", "PT8H", "0.5", "2026-11-02 13:00"),
        ("2026-11-06 20:00", "P1D", "0.5", "2026-11-09 08:00"),  # 4 h Fri + 20 h Mon
        # 12 h of 24 h: the earliest instant they have elapsed is the end of Thursday.
        ("2026-12-24 12:00", "P1D", "0.5", "2026-12-24 24:00"),
        ("2026-11-02 09:00", "P1D", "0.25", "2026-11-02 15:00"),
        ("2026-11-02 09:00", "P1D", "0", "2026-11-02 09:00"),
        ("2026-11-02 09:00", "P1D", "1", "2026-11-03 09:00"),
        ("2026-11-07 10:00", "PT8H", "0.5", "2026-11-09 04:00"),  # Saturday start
    ],
)
def test_add_fraction(start: str, duration: str, fraction: str, at: str) -> None:
    assert CAL.add_fraction(la(start), duration, Decimal(fraction)) == la(at)


def test_add_fraction_always_and_bounds() -> None:
    assert ALWAYS.add_fraction(z("2026-11-07 00:00"), "P2D", Decimal("0.5")) == z(
        "2026-11-08 00:00"
    )
    assert CAL.add_fraction(la("2026-11-02 09:00"), "PT8H", 0.5) == la("2026-11-02 13:00")
    with pytest.raises(ValueError, match="between 0 and 1"):
        CAL.add_fraction(la("2026-11-02 09:00"), "PT8H", Decimal("1.5"))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-11-06 23:59:59", True),
        ("2026-11-07 00:00", False),
        ("2026-11-08 23:59:59", False),
        ("2026-11-09 00:00", True),
        ("2026-11-26 12:00", False),  # Thanksgiving
        ("2026-12-28 12:00", False),
    ],
)
def test_is_business_time(at: str, expected: bool) -> None:
    assert CAL.is_business_time(la(at)) is expected
    assert ALWAYS.is_business_time(la(at)) is True


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-11-02 00:00", "2026-11-03 00:00"),
        ("2026-11-06 10:00", "2026-11-09 00:00"),
        ("2026-11-07 10:00", "2026-11-09 00:00"),
        ("2026-11-25 23:59", "2026-11-27 00:00"),
        ("2026-12-24 08:00", "2026-12-29 00:00"),
        ("2026-03-06 08:00", "2026-03-09 00:00"),
    ],
)
def test_next_business_start(at: str, expected: str) -> None:
    assert CAL.next_business_start(la(at)) == la(expected)
    assert CAL.next_business_start(la(at)).tzinfo is UTC


def test_next_business_start_always_is_next_utc_midnight() -> None:
    assert ALWAYS.next_business_start(z("2026-11-07 23:00")) == z("2026-11-08 00:00")


@pytest.mark.parametrize("calendar", [CAL, ALWAYS])
def test_naive_datetimes_are_refused(calendar: BusinessCalendar) -> None:
    naive = datetime(2026, 11, 2, 9)
    aware = la("2026-11-02 09:00")
    for call in (
        lambda: calendar.add(naive, "PT1H"),
        lambda: calendar.add_fraction(naive, "PT1H", Decimal("0.5")),
        lambda: calendar.elapsed(naive, aware),
        lambda: calendar.elapsed(aware, naive),
        lambda: calendar.is_business_time(naive),
        lambda: calendar.next_business_start(naive),
    ):
        with pytest.raises(ValueError, match="naive"):
            call()


class CalendarModel(BaseModel):
    timezone: str
    workdays: list[str]
    holidays: list[date]


@pytest.mark.parametrize(
    "spec",
    [
        {
            "timezone": "America/Los_Angeles",
            "workdays": ["mon", "tue", "wed", "thu", "fri"],
            "holidays": ["2026-11-26", "2026-12-25", "2026-12-28"],
        },
        SimpleNamespace(
            timezone="America/Los_Angeles",
            workdays=["Monday", "TUE", "wed", "thu", "fri"],
            holidays=[date(2026, 11, 26), "2026-12-25", date(2026, 12, 28)],
        ),
        CalendarModel(
            timezone="America/Los_Angeles",
            workdays=["mon", "tue", "wed", "thu", "fri"],
            holidays=["2026-11-26", "2026-12-25", "2026-12-28"],  # type: ignore[list-item]
        ),
        {"timezone": "America/Los_Angeles", "holidays": HOLIDAYS},  # default Mon-Fri
    ],
)
def test_from_spec_forms(spec: object) -> None:
    assert BusinessCalendar.from_spec(spec) == CAL


@pytest.mark.parametrize("spec", ["always", " Always ", None])
def test_from_spec_always(spec: str | None) -> None:
    assert BusinessCalendar.from_spec(spec) == BusinessCalendar(always=True)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("weekdays", "must be 'always'"),
        (42, "must be 'always'"),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"timezone": "UTC", "workdays": ["mon", "funday"]}, "not a weekday"),
        ({"timezone": "UTC", "workdays": []}, "at least one workday"),
        ({"timezone": "UTC", "holidays": ["26/11/2026"]}, "not a date"),
    ],
)
def test_from_spec_refuses_bad_specs(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.from_spec(spec)


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
calendars = st.sampled_from([CAL, SEVEN, ALWAYS, BusinessCalendar(timezone="Asia/Kolkata")])
SECONDS_IN_90_DAYS = 90 * 86400


@settings(max_examples=150, deadline=None, database=None)
@given(calendars, instants, st.integers(min_value=0, max_value=SECONDS_IN_90_DAYS))
def test_elapsed_inverts_add(calendar: BusinessCalendar, start: datetime, n: int) -> None:
    due = calendar.add(start, Duration(seconds=Decimal(n)))
    assert due >= start
    assert calendar.elapsed(start, due) == timedelta(seconds=n)


@settings(max_examples=100, deadline=None, database=None)
@given(instants, st.integers(min_value=1, max_value=20))
def test_add_days_lands_on_a_working_day_at_the_same_wall_time(start: datetime, n: int) -> None:
    start = CAL.next_business_start(start) + timedelta(hours=9, minutes=17)  # 09:17 or 10:17
    due = CAL.add(start, Duration(days=n)).astimezone(LA)
    assert CAL.is_business_time(due)
    assert due.time() == start.astimezone(LA).time()
    assert CAL.elapsed(start, due) >= timedelta(hours=23 * n)


@settings(max_examples=100, deadline=None, database=None)
@given(calendars, instants, st.integers(0, SECONDS_IN_90_DAYS), st.integers(0, 86400 * 5))
def test_add_is_monotonic(calendar: BusinessCalendar, start: datetime, n: int, k: int) -> None:
    early = calendar.add(start, Duration(seconds=Decimal(n)))
    late = calendar.add(start, Duration(seconds=Decimal(n + k)))
    assert early <= late
    assert calendar.elapsed(early, late) == timedelta(seconds=k)
