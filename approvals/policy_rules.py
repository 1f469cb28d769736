"""Rules for single policy values, shared by the model validators and the document checker.

Each function takes a raw value (as YAML or JSON hands it over), returns it normalised, or
raises ``ValueError`` with a sentence an admin can act on. Keeping the rules here, and only
here, means a :class:`~approvals.policy.Policy` built directly in code and one parsed from a
document are held to exactly the same standard.

Everything is pure (no clock, no I/O beyond the tz database lookup that ``zoneinfo`` caches),
because policies are validated again when a workflow deserialises them inside the Temporal
sandbox.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from business_calendar.duration import parse_duration

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOW_DAYS = 366
ALWAYS = "always"

_CURRENCY = re.compile(r"[A-Z]{3}")
_ROLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NOT_AMOUNT = '{value!r} is not an amount; write it as a quoted string such as "5000"'


def coerce_amount(value: object) -> Decimal:
    """A non-negative money amount; floats are refused because they cannot hold cents exactly."""
    if isinstance(value, bool):
        raise ValueError(_NOT_AMOUNT.format(value=value))
    if isinstance(value, float):
        raise ValueError(
            f"{value!r} is a floating-point number, which cannot hold money exactly; "
            f'quote it as a string, e.g. "{value}"'
        )
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(
                f"{value!r} is not a decimal amount; write digits with an optional "
                'decimal point, such as "5000" or "2500.50" (no thousands separators)'
            ) from None
    else:
        raise ValueError(_NOT_AMOUNT.format(value=value))
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    if amount < 0:
        raise ValueError(f"{value} is negative; an amount threshold must be 0 or more")
    return amount


def check_duration(value: object) -> str:
    """An ISO 8601 duration string (``P2D``, ``PT8H``); the text is kept as written."""
    if not isinstance(value, str):
        raise ValueError(f'{value!r} is not a duration; write an ISO 8601 string such as "P2D"')
    parse_duration(value)  # DurationError is a ValueError that already says what is wrong
    return value


def coerce_remind_at(value: object) -> Decimal:
    """The fraction of an SLA after which the assignee is reminded, strictly between 0 and 1.

    Unlike money, a float is accepted here: the documented YAML writes ``remind_at: 0.5``
    unquoted, and a ratio is converted through its shortest text form, so 0.5 stays 0.5.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a fraction; write a number such as 0.5")
    try:
        if isinstance(value, float):
            fraction = Decimal(repr(value))
        elif isinstance(value, Decimal | int):
            fraction = Decimal(value)
        elif isinstance(value, str):
            fraction = Decimal(value.strip())
        else:
            raise InvalidOperation
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a fraction; write a number such as 0.5") from None
    if not fraction.is_finite() or not Decimal(0) < fraction < Decimal(1):
        raise ValueError(
            f"{value} must be strictly between 0 and 1 (the share of an SLA after which "
            "the assignee is reminded, e.g. 0.5)"
        )
    return fraction


def check_currency(value: object) -> str:
    """An ISO 4217 code: three upper-case letters."""
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a currency code; write three capital letters such as USD"
        )
    return value


def check_window_days(value: object) -> int:
    """The rolling aggregation window, whole days from 0 (no aggregation) to 366."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number of days")
    if not 0 <= value <= MAX_WINDOW_DAYS:
        raise ValueError(
            f"{value} is out of range; write a number of days from 0 to {MAX_WINDOW_DAYS}"
        )
    return value


def check_role_name(value: object) -> str:
    """A role as users hold it: letters, digits, '_' or '-' (no dots, so field paths stay clear)."""
    if not isinstance(value, str) or not _ROLE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a role name; use letters, digits, '_' or '-', e.g. billing_manager"
        )
    return value


def check_timezone(value: object) -> str:
    """An IANA time zone name such as ``America/Los_Angeles``."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a time zone; write an IANA name such as Europe/Paris")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a known IANA time zone; write a name such as "
            "America/Los_Angeles or UTC"
        ) from None
    return value


def check_weekday(value: object) -> str:
    """One working day, written as ``mon`` .. ``sun``."""
    if not isinstance(value, str) or value not in WEEKDAYS:
        raise ValueError(f"{value!r} is not a weekday; use {', '.join(WEEKDAYS)}")
    return value


def check_workday_set(days: list[str]) -> list[str]:
    """The working week as a whole: at least one day, none listed twice."""
    if not days:
        raise ValueError("at least one working day is needed, e.g. [mon, tue, wed, thu, fri]")
    repeated = sorted({day for day in days if days.count(day) > 1}, key=WEEKDAYS.index)
    if repeated:
        raise ValueError(f"{', '.join(repeated)} listed more than once")
    return days


def check_holiday(value: object) -> str:
    """A holiday as an ISO date ``YYYY-MM-DD``; a YAML date value is turned into that text."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a real calendar date") from None
        return value
    raise ValueError(f'{value!r} is not a date; write it as "YYYY-MM-DD", e.g. "2026-12-25"')
