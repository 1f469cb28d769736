"""Business calendar: SLA clocks that tick only on working days of a time zone."""

from business_calendar.calendar import WEEKDAY_NAMES, BusinessCalendar
from business_calendar.duration import Duration, DurationError, parse_duration, to_iso

__all__ = [
    "WEEKDAY_NAMES",
    "BusinessCalendar",
    "Duration",
    "DurationError",
    "parse_duration",
    "to_iso",
]
