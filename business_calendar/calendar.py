"""Business-time arithmetic for SLA clocks (deadlines, reminders, turnaround metrics).

An SLA such as ``acknowledge: PT8H`` must not run out over a weekend or on Thanksgiving, so
clocks tick only on the calendar's working days, in the calendar's own time zone. A working
day counts all of its wall-clock hours (00:00-24:00 local, i.e. 23 h or 25 h on DST days),
non-working days count nothing.

This module runs inside Temporal workflow code, so it must be deterministic: no clock reads,
no randomness, no I/O except loading time-zone rules through :mod:`zoneinfo`. All arithmetic
is done on UTC instants and integer microseconds (no floats), and loops at most once per day
so a year-long span stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from business_calendar.duration import Duration, parse_duration

__all__ = ["WEEKDAY_NAMES", "BusinessCalendar"]

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Policy files write "mon"; full names are accepted too. 0 = Monday, as date.weekday().
WEEKDAY_NAMES: dict[str, int] = {n: i for i, day in enumerate(_DAYS) for n in (day[:3], day)}
_ONE_DAY = timedelta(days=1)
_SPEC_KEYS = ("timezone", "workdays", "holidays", "always")
_MICRO = Decimal(1_000_000)
# A business "week" is five working days (the policy author's P1W means a working week).
_WORKING_DAYS_PER_WEEK = 5


def _utc(at: datetime, name: str = "datetime") -> datetime:
    """Refuse naive datetimes: without a zone the instant is ambiguous by up to a day."""
    if not isinstance(at, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        raise ValueError(
            f"{name} {at.isoformat()} is naive; pass an aware datetime (e.g. in UTC) because "
            "business time depends on which instant is meant"
        )
    return at.astimezone(UTC)


def _micros(seconds: Decimal) -> int:
    """Seconds as whole microseconds: exact, unlike float timedeltas, so replays agree."""
    return int((seconds * _MICRO).to_integral_value(rounding=ROUND_HALF_EVEN))


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"holiday {value!r} is not a date such as '2026-11-26'") from exc


def _to_weekday(value: Any) -> int:
    value = getattr(value, "value", value)  # enum members from a pydantic model
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and value.strip().lower() in WEEKDAY_NAMES:
        return WEEKDAY_NAMES[value.strip().lower()]
    raise ValueError(f"workday {value!r} is not a weekday; use mon, tue, wed, thu, fri, sat, sun")


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days in one time zone, or ``always`` (24/7, plain UTC arithmetic)."""

    timezone: str = "UTC"
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # 0 = Monday
    holidays: frozenset[date] = frozenset()
    always: bool = False

    def __post_init__(self) -> None:
        # Validate eagerly so a bad policy is refused when applied, not when a clock fires.
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}; use e.g. 'UTC'") from exc
        workdays = frozenset(_to_weekday(d) for d in self.workdays)
        if not workdays and not self.always:
            raise ValueError("a calendar needs at least one workday, or no deadline is ever due")
        object.__setattr__(self, "workdays", workdays)
        object.__setattr__(self, "holidays", frozenset(_to_date(h) for h in self.holidays))

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | str | Any | None) -> BusinessCalendar:
        """Build from the policy's ``calendar`` value: ``"always"``/None, a mapping or a model."""
        spec = getattr(spec, "root", spec)  # pydantic RootModel wrapping either form
        if spec is None:
            return cls(always=True)
        if isinstance(spec, str):
            if spec.strip().lower() == "always":
                return cls(always=True)
            raise ValueError(f"calendar {spec!r} must be 'always' or {{timezone, workdays, ...}}")
        if isinstance(spec, Mapping):
            get = spec.get
        elif hasattr(spec, "timezone"):  # a pydantic model (or any object) with the attributes
            get = {k: getattr(spec, k, None) for k in _SPEC_KEYS}.get
        else:
            raise ValueError(f"calendar must be 'always' or a mapping, got {type(spec).__name__}")
        if get("always"):
            return cls(always=True, timezone=get("timezone") or "UTC")
        workdays: Iterable[Any] | None = get("workdays")
        return cls(
            timezone=get("timezone") or "UTC",
            workdays=frozenset({0, 1, 2, 3, 4}) if workdays is None else frozenset(workdays),
            holidays=frozenset(get("holidays") or ()),
        )

    # -- days ------------------------------------------------------------------------------

    @property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # zoneinfo caches instances, so this is cheap

    def _is_working(self, day: date) -> bool:
        return self.always or (day.weekday() in self.workdays and day not in self.holidays)

    def _day_start(self, day: date) -> datetime:
        """UTC instant of local 00:00; fold=0 resolves a missing/doubled midnight (DST)."""
        return datetime.combine(day, time(0), tzinfo=self._zone).astimezone(UTC)

    def _day_of(self, at: datetime) -> date:
        """The local day whose [00:00, next 00:00) span holds ``at`` (consistent at DST edges)."""
        day = at.astimezone(self._zone).date()
        if at < self._day_start(day):
            return day - _ONE_DAY
        if at >= self._day_start(day + _ONE_DAY):
            return day + _ONE_DAY
        return day

    def _next_working(self, day: date) -> date:
        """First working day on or after ``day`` (ends: workdays non-empty, holidays finite)."""
        while not self._is_working(day):
            day += _ONE_DAY
        return day

    def _normalise(self, at: datetime) -> tuple[date, datetime]:
        """Move an instant in non-business time to the start of the next working day."""
        day = self._day_of(at)
        if self._is_working(day):
            return day, at
        day = self._next_working(day)
        return day, self._day_start(day)

    def _walk(self, at: datetime, micros: int) -> datetime:
        """The earliest instant by which ``micros`` of business time have elapsed since ``at``."""
        day, at = self._normalise(at)
        remaining = timedelta(microseconds=micros)
        while True:
            available = self._day_start(day + _ONE_DAY) - at
            if remaining <= available:
                return at + remaining
            remaining -= available
            day = self._next_working(day + _ONE_DAY)
            at = self._day_start(day)

    # -- public API --------------------------------------------------------------------------

    def is_business_time(self, at: datetime) -> bool:
        """Whether an SLA clock is ticking at this instant."""
        at = _utc(at, "at")
        return self.always or self._is_working(self._day_of(at))

    def add(self, start: datetime, duration: Duration | str) -> datetime:
        """Due instant (UTC) of a clock started at ``start``: whole working days, then seconds.

        ``P1D`` keeps the local wall-clock time on the next working day (a day is a day even
        when DST makes it 23 h); ``PT24H`` is 24 elapsed business hours.
        """
        start = _utc(start, "start")
        duration = parse_duration(duration) if isinstance(duration, str) else duration
        if duration.days < 0 or duration.weeks < 0 or duration.seconds < 0:
            raise ValueError(f"duration {duration} is negative; SLA clocks only run forward")
        micros = _micros(duration.seconds)
        if self.always:
            return start + timedelta(days=duration.weeks * 7 + duration.days, microseconds=micros)
        day, at = self._normalise(start)
        whole_days = duration.weeks * _WORKING_DAYS_PER_WEEK + duration.days
        if whole_days:
            wall = at.astimezone(self._zone).time()
            for _ in range(whole_days):
                day = self._next_working(day + _ONE_DAY)
            # fold=0: a wall time skipped by DST lands after the gap, a doubled one on the first.
            at = datetime.combine(day, wall, tzinfo=self._zone).astimezone(UTC)
        return self._walk(at, micros)

    def add_fraction(
        self, start: datetime, duration: Duration | str, fraction: Decimal | float | int
    ) -> datetime:
        """Instant at ``fraction`` of the business time from ``start`` to its due (reminders)."""
        fraction = Decimal(str(fraction)) if isinstance(fraction, float) else Decimal(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction {fraction} must be between 0 and 1")
        start = _utc(start, "start")
        total = self.elapsed(start, self.add(start, duration))
        part = _micros(Decimal(total // timedelta(microseconds=1)) * fraction / _MICRO)
        if self.always:
            return start + timedelta(microseconds=part)
        return self._walk(start, part)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants (zero if ``end <= start``), for turnaround."""
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            return timedelta(0)
        if self.always:
            return end - start
        total = timedelta(0)
        day = self._day_of(start)
        day_start = self._day_start(day)
        while day_start < end:
            day_end = self._day_start(day + _ONE_DAY)
            if self._is_working(day):
                total += min(day_end, end) - max(day_start, start)
            day, day_start = day + _ONE_DAY, day_end
        return total

    def next_business_start(self, at: datetime) -> datetime:
        """UTC start of the first working day after ``at``'s local day ("once per day" alerts)."""
        at = _utc(at, "at")
        return self._day_start(self._next_working(self._day_of(at) + _ONE_DAY))
