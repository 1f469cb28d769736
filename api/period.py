"""The ``from``/``to`` of every report: ISO 8601 instants, UTC when no zone is given, and a
refusal that names ``to`` when the period is empty or backwards."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from pydantic import BeforeValidator

from api.errors import AppError

__all__ = ["From", "Instant", "To", "check_order", "utc", "utc_period"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value: object) -> object:
    """ISO 8601 text only: pydantic would also read a bare number as seconds since 1970,
    so ``to=-4e-105`` meant the first instant of 1970 instead of a refusal."""
    if isinstance(value, str) and not _ISO_DATE.match(value.strip()):
        raise ValueError("write a date and time such as 2026-10-01T09:00:00Z.")
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("write a date and time such as 2026-10-01T09:00:00Z.")
    return value


Instant = Annotated[datetime, BeforeValidator(_iso_only)]
From = Annotated[Instant | None, Query(alias="from", description="inclusive, ISO 8601")]
To = Annotated[Instant | None, Query(alias="to", description="exclusive, ISO 8601")]


def utc(at: datetime) -> datetime:
    """An aware instant; a naive one is read as UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def check_order(start: datetime, end: datetime, *, names: tuple[str, str] = ("from", "to")
                ) -> None:
    """422 naming the end's parameter unless it is after the start."""
    if end <= start:
        raise AppError("validation_error", f"'{names[1]}' must be after '{names[0]}'.",
                       [{"field": names[1], "message": f"not after {names[0]}"}])


def utc_period(start: datetime | None, end: datetime | None, *,
               names: tuple[str, str] = ("from", "to")
               ) -> tuple[datetime | None, datetime | None]:
    """Both optional bounds made aware, and in order when both are given."""
    start, end = (None if b is None else utc(b) for b in (start, end))
    if start is not None and end is not None:
        check_order(start, end, names=names)
    return start, end
