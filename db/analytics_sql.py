"""SQL pieces the analytics share across SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, String, Time, func, literal
from sqlalchemy.orm import Session

__all__ = ["day_offset_us", "epoch", "mean_and_longest_seconds", "utc_day"]


def epoch(session: Session, column: Any) -> ColumnElement[Any]:
    """Seconds since 1970 of a stored instant, in SQL (SQLite keeps UTC text)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


def utc_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a stored instant, as the tallies' triggers compute it
    (migration 0026): a date on PostgreSQL, 'YYYY-MM-DD' text on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.substr(column, 1, 10)


def day_offset_us(session: Session, column: Any) -> ColumnElement[Any]:
    """Microseconds from the UTC midnight before a stored instant to it, exactly, as the
    tallies' triggers compute it (migration 0026)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.cast(func.extract("epoch", func.cast(func.timezone("UTC", column), Time))
                         * 1_000_000, BigInteger)
    part = [func.cast(func.substr(column, start, 2), Integer) for start in (12, 15, 18)]
    micro = func.cast(func.substr(column.op("||")(literal("000000", String)), 21, 6), Integer)
    return ((part[0] * 60 + part[1]) * 60 + part[2]) * 1_000_000 + micro


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
