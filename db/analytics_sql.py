"""SQL pieces the analytics share across SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import Session

__all__ = ["epoch", "mean_and_longest_seconds"]


def epoch(session: Session, column: Any) -> ColumnElement[Any]:
    """Seconds since 1970 of a stored instant, in SQL (SQLite keeps UTC text)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


def mean_and_longest_seconds(session: Session, start: Any, end: Any
                             ) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The mean and the longest of the seconds from ``start`` to ``end`` over a group, as
    aggregates. PostgreSQL's are the same exact numbers as those of the differences of their
    epochs, at half the cost over tens of thousands of rows: one conversion of an interval
    to seconds a row for the mean (not two epochs and a subtraction), and the longest interval
    converted once."""
    if session.get_bind().dialect.name == "postgresql":
        took = end - start
        return func.avg(func.extract("epoch", took)), func.extract("epoch", func.max(took))
    seconds = epoch(session, end) - epoch(session, start)
    return func.avg(seconds), func.max(seconds)
